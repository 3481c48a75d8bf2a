//! The text layer of a PPK file, read as PuTTY's `ppk_load_s` reads it: `Name: value` lines in
//! a fixed order, base64 blocks of a declared number of lines (at most 64 characters each), and
//! hex fields. Works on bytes, so a comment that is not UTF-8 still authenticates.

use super::super::KeyFileError;
use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

/// PuTTY's `MAX_KEY_BLOB_LINES`: a blob is at most 256 KiB, 48 bytes a line.
const MAX_BLOB_LINES: u32 = 262_144 / 48;
/// Longest base64 line PuTTY reads (and writes).
const MAX_LINE_CHARS: usize = 64;

/// The lines of a file, one at a time; running out is [`KeyFileError::Truncated`].
pub(super) struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The next line without its `\n` or `\r\n`.
    fn next_line(&mut self) -> Result<&'a [u8], KeyFileError> {
        if self.rest.is_empty() {
            return Err(KeyFileError::Truncated);
        }
        let (line, rest) = match self.rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &[][..]),
        };
        self.rest = rest;
        Ok(line.strip_suffix(b"\r").unwrap_or(line))
    }

    /// The next line split at its first `: ` into name and value.
    pub(super) fn any_header(&mut self) -> Result<(&'a [u8], &'a [u8]), KeyFileError> {
        let line = self.next_line()?;
        let colon = line
            .windows(2)
            .position(|w| w == b": ")
            .ok_or(KeyFileError::Malformed("a line is not `Name: value`"))?;
        Ok((&line[..colon], &line[colon + 2..]))
    }

    /// The value of the next line, which must be the header `name`.
    pub(super) fn header(&mut self, name: &'static str) -> Result<&'a [u8], KeyFileError> {
        let (found, value) = self.any_header()?;
        if found != name.as_bytes() {
            return Err(KeyFileError::Malformed(name));
        }
        Ok(value)
    }

    /// A `<name>: <count>` header followed by that many lines of base64, decoded.
    pub(super) fn blob(&mut self, name: &'static str) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        let count = decimal(self.header(name)?)
            .filter(|n| *n < MAX_BLOB_LINES)
            .ok_or(KeyFileError::Malformed(name))?;
        // Sized up front so it never reallocates, leaving no unwiped copy behind.
        let lines = usize::try_from(count).unwrap_or(0);
        let mut out = Zeroizing::new(Vec::with_capacity(lines * (MAX_LINE_CHARS / 4 * 3)));
        let mut buf = [0u8; MAX_LINE_CHARS / 4 * 3];
        for _ in 0..count {
            let line = self.next_line()?;
            if line.len() > MAX_LINE_CHARS || line.len() % 4 != 0 {
                return Err(KeyFileError::Malformed(name));
            }
            let decoded =
                Base64::decode(line, &mut buf).map_err(|_| KeyFileError::Malformed(name))?;
            out.extend_from_slice(decoded);
        }
        zeroize::Zeroize::zeroize(&mut buf);
        Ok(out)
    }
}

/// A decimal `u32` written with digits only, as PuTTY's `str_to_uint32_t` takes it (bar the
/// leading `+`, spaces and signs `strtoul` would also let through).
pub(super) fn decimal(value: &[u8]) -> Option<u32> {
    if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(value).ok()?.parse().ok()
}

/// Hex (either case) to bytes; `None` for an odd length or a non-hex character (no sign, no
/// spaces). The one hex decoder of the key-file readers (PPK's MAC and salt, PEM's IV), over
/// `base16ct`'s constant-time one.
pub(in crate::keyfile) fn hex(value: &[u8]) -> Option<Vec<u8>> {
    base16ct::mixed::decode_vec(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_decimal() {
        assert_eq!(hex(b"00fFa1"), Some(vec![0, 0xff, 0xa1]));
        assert_eq!(hex(b""), Some(vec![]));
        assert_eq!(hex(b"abc"), None);
        assert_eq!(hex(b"zz"), None);
        assert_eq!(decimal(b"8192"), Some(8192));
        assert_eq!(decimal(b"4294967295"), Some(u32::MAX));
        assert_eq!(decimal(b"4294967296"), None);
        assert_eq!(decimal(b"+1"), None);
        assert_eq!(decimal(b""), None);
    }

    #[test]
    fn lines_end_in_lf_or_crlf_and_the_last_may_lack_one() {
        let mut lines = Lines::new(b"A: 1\r\nB: 2\nC: 3");
        assert_eq!(lines.header("A").unwrap(), b"1");
        assert_eq!(lines.header("B").unwrap(), b"2");
        assert_eq!(lines.header("C").unwrap(), b"3");
        assert_eq!(lines.header("D"), Err(KeyFileError::Truncated));
    }

    #[test]
    fn blob_line_count_is_bounded_and_checked() {
        let mut lines = Lines::new(b"Public-Lines: 2\nAAAA\n");
        assert_eq!(lines.blob("Public-Lines"), Err(KeyFileError::Truncated));
        let mut lines = Lines::new(b"Public-Lines: 5461\n");
        assert_eq!(
            lines.blob("Public-Lines"),
            Err(KeyFileError::Malformed("Public-Lines"))
        );
        let mut lines = Lines::new(b"Public-Lines: 1\nAAA\n");
        assert!(lines.blob("Public-Lines").is_err());
        let mut lines = Lines::new(b"Public-Lines: 1\nAAECAw==\n");
        assert_eq!(*lines.blob("Public-Lines").unwrap(), vec![0, 1, 2, 3]);
    }
}
