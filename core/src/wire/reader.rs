//! A cursor over one message body that bounds every read to the bytes it was given.

use super::WireError;

/// Reads SSH wire fields from a borrowed slice. It never panics and never reads past its slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Fails unless every byte has been read.
    pub fn finish(self) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes)
        }
    }

    /// The next `n` bytes, raw.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.rest.len() {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Everything left, consuming it.
    pub fn take_rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    /// Moves past `n` bytes already read by someone else (e.g. a key decoder run on
    /// [`Reader::remaining`]).
    pub fn advance(&mut self, n: usize) -> Result<(), WireError> {
        self.bytes(n).map(|_| ())
    }

    /// A `byte`.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.bytes(1)?[0])
    }

    /// A `boolean`: 0 or 1 (RFC 4251 says any non-zero is true; OpenSSH's agent accepts that, so
    /// do we, but the value is normalised).
    pub fn bool(&mut self) -> Result<bool, WireError> {
        Ok(self.u8()? != 0)
    }

    /// A big-endian `uint32`.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `string`: `uint32 length || bytes`, bounded by what is left.
    pub fn string(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u32()?;
        let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
        self.bytes(len)
    }

    /// A `string` that must be UTF-8 (names, comments as OpenSSH writes them).
    pub fn utf8(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        core::str::from_utf8(self.string()?).map_err(|_| WireError::Invalid(what))
    }

    /// A `string` read as a nested structure: a reader bounded to exactly its contents.
    pub fn nested(&mut self) -> Result<Reader<'a>, WireError> {
        Ok(Reader::new(self.string()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_longer_than_parent_is_truncated_not_panic() {
        let mut r = Reader::new(&[0, 0, 0, 5, b'a', b'b']);
        assert_eq!(r.string(), Err(WireError::Truncated));
    }

    #[test]
    fn max_u32_length_is_truncated() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert_eq!(r.string(), Err(WireError::Truncated));
    }

    #[test]
    fn nested_reader_cannot_reach_parent_bytes() {
        let mut r = Reader::new(&[0, 0, 0, 2, 0, 0, 9, 9]);
        let mut inner = r.nested().unwrap();
        assert_eq!(inner.u32(), Err(WireError::Truncated));
        assert_eq!(r.remaining(), &[9, 9]);
    }

    #[test]
    fn finish_rejects_trailing_bytes() {
        let mut r = Reader::new(&[1, 2]);
        r.u8().unwrap();
        assert_eq!(r.finish(), Err(WireError::TrailingBytes));
    }
}
