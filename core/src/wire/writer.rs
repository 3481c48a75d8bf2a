//! Builds SSH wire fields into a growable buffer. A writer may hold private keys (add-identity
//! requests, keyring records, key files being read), so it never leaves a copy behind: when it
//! grows, the old buffer is zeroized before it is freed, and a writer dropped before
//! [`Writer::into_bytes`] zeroizes what it held.

use zeroize::Zeroize;

/// Appends SSH wire fields to a byte vector.
#[derive(Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl core::fmt::Debug for Writer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Writer")
            .field("len", &self.buf.len())
            .finish()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `capacity` bytes (saves reallocations on hot paths).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// The bytes written so far. The caller owns them now: wrap them in `Zeroizing` if they are
    /// secret.
    pub fn into_bytes(mut self) -> Vec<u8> {
        core::mem::take(&mut self.buf)
    }

    /// Makes room for `additional` more bytes. Growing moves the bytes to a new buffer (at least
    /// twice as large, as `Vec` would) and zeroizes the old one before it is freed.
    fn reserve(&mut self, additional: usize) {
        let needed = self.buf.len().saturating_add(additional);
        if needed <= self.buf.capacity() {
            return;
        }
        let mut grown = Vec::with_capacity(needed.max(self.buf.capacity().saturating_mul(2)));
        grown.extend_from_slice(&self.buf);
        core::mem::replace(&mut self.buf, grown).zeroize();
    }

    /// A `byte`.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.reserve(1);
        self.buf.push(v);
        self
    }

    /// A `boolean`.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    /// A big-endian `uint32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.raw(&v.to_be_bytes());
        self
    }

    /// Raw bytes with no length prefix.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.reserve(bytes.len());
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A `string`: `uint32 length || bytes`.
    ///
    /// # Panics
    /// Never for agent messages: every caller's input is bounded by the 256 KiB frame limit, far
    /// below `u32::MAX`; a longer slice is a programming error.
    pub fn string(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u32::try_from(bytes.len()).expect("SSH string longer than u32::MAX");
        self.u32(len).raw(bytes)
    }

    /// A nested structure written as one `string`.
    /// Writes an unsigned big-endian integer as an SSH `mpint` (leading zeros dropped, a zero
    /// byte added when the top bit is set).
    pub fn mpint(&mut self, magnitude: &[u8]) -> &mut Self {
        let (trimmed, sign_byte) = trim_mpint(magnitude);
        let len = trimmed.len() + usize::from(sign_byte);
        self.u32(u32::try_from(len).unwrap_or(u32::MAX));
        if sign_byte {
            self.u8(0);
        }
        self.raw(trimmed)
    }

    /// Encoded size of [`Writer::mpint`]'s output for `magnitude`, length field included.
    pub fn mpint_len(magnitude: &[u8]) -> usize {
        let (trimmed, sign_byte) = trim_mpint(magnitude);
        4 + usize::from(sign_byte) + trimmed.len()
    }

    pub fn nested(&mut self, build: impl FnOnce(&mut Writer)) -> &mut Self {
        let mut inner = Writer::new();
        build(&mut inner);
        self.string(&inner.buf)
    }
}

/// The unsigned big-endian integer without leading zeros, and whether it needs a sign byte.
fn trim_mpint(magnitude: &[u8]) -> (&[u8], bool) {
    let first = magnitude
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(magnitude.len());
    let trimmed = &magnitude[first..];
    (trimmed, trimmed.first().is_some_and(|b| b & 0x80 != 0))
}
