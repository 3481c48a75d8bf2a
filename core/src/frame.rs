//! Agent message framing: `uint32 length || body`, shared by every transport. A pure parser: it
//! looks at bytes already received and says whether a whole frame is there, more bytes are
//! needed, or the connection must be closed because the announced length is not acceptable.

/// The largest message body agentry accepts or sends (OpenSSH's `AGENT_MAX_LEN` is 256 KiB too).
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;

/// Length of the frame header.
pub const HEADER_LEN: usize = 4;

/// What [`decode_frame`] found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStatus {
    /// A whole frame: its body is `buf[HEADER_LEN..HEADER_LEN + body_len]`.
    Complete {
        /// Length of the body, not counting the header.
        body_len: usize,
    },
    /// Not enough bytes yet; at least this many more are needed.
    NeedMore(usize),
}

/// Why a frame can never be accepted; the transport closes the connection (only that one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The announced body length is zero: there is no message type to answer.
    Empty,
    /// The announced body length is above [`MAX_MESSAGE_LEN`].
    TooLong(u32),
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Empty => f.write_str("zero-length agent message"),
            Self::TooLong(n) => write!(
                f,
                "agent message of {n} bytes exceeds the {MAX_MESSAGE_LEN}-byte limit"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// Looks at the start of `buf` and reports whether it holds a whole frame.
pub fn decode_frame(buf: &[u8]) -> Result<FrameStatus, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(FrameStatus::NeedMore(HEADER_LEN - buf.len()));
    };
    let announced = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let body_len = body_len_from_header(announced)?;
    let have = buf.len() - HEADER_LEN;
    if have >= body_len {
        Ok(FrameStatus::Complete { body_len })
    } else {
        Ok(FrameStatus::NeedMore(body_len - have))
    }
}

/// Validates an announced body length (for transports that read the header on its own).
pub fn body_len_from_header(announced: u32) -> Result<usize, FrameError> {
    match usize::try_from(announced) {
        Ok(0) => Err(FrameError::Empty),
        Ok(n) if n <= MAX_MESSAGE_LEN => Ok(n),
        _ => Err(FrameError::TooLong(announced)),
    }
}

/// Prefixes `body` with its length. Bodies agentry builds are always below the limit.
pub fn encode_frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fragments_need_more() {
        for n in 0..HEADER_LEN {
            assert_eq!(
                decode_frame(&[0u8; 3][..n.min(3)]),
                Ok(FrameStatus::NeedMore(HEADER_LEN - n.min(3)))
            );
        }
    }

    #[test]
    fn zero_length_is_rejected() {
        assert_eq!(decode_frame(&[0, 0, 0, 0]), Err(FrameError::Empty));
    }

    #[test]
    fn length_one_past_limit_is_rejected() {
        let n = (MAX_MESSAGE_LEN + 1) as u32;
        assert_eq!(decode_frame(&n.to_be_bytes()), Err(FrameError::TooLong(n)));
    }

    #[test]
    fn length_at_limit_waits_for_body() {
        let n = MAX_MESSAGE_LEN as u32;
        assert_eq!(
            decode_frame(&n.to_be_bytes()),
            Ok(FrameStatus::NeedMore(MAX_MESSAGE_LEN))
        );
    }

    #[test]
    fn max_u32_is_rejected() {
        assert_eq!(decode_frame(&[0xff; 4]), Err(FrameError::TooLong(u32::MAX)));
    }

    #[test]
    fn complete_frame_with_extra_bytes_reports_body() {
        let buf = [0, 0, 0, 1, 11, 0, 0];
        assert_eq!(
            decode_frame(&buf),
            Ok(FrameStatus::Complete { body_len: 1 })
        );
        assert_eq!(encode_frame(&[11]), vec![0, 0, 0, 1, 11]);
    }
}
