//! The mux framing `agentry bridge` (Linux) and `agentry relay --mux` (Windows) speak over the
//! relay's standard input and output: many agent connections over one byte stream
//! (docs/protocol.md, "Mux framing"). A pure codec: [`decode_mux_frame`] looks at bytes already
//! received and says whether a whole frame is there, more are needed, or the stream must end;
//! [`MuxFrame::encode`] builds one. The invariant: every frame that decodes is within the limits
//! below (a data frame carries exactly one agent message of 1 to [`MAX_MESSAGE_LEN`] bytes, an
//! identity field at most [`MAX_IDENTITY_FIELD`] bytes) and encodes back to the same bytes.

use crate::frame::MAX_MESSAGE_LEN;
use crate::reported::{clip, identity_field};
pub use crate::reported::{ReportedClient, MAX_IDENTITY_FIELD};
use crate::wire::{Reader, WireError, Writer};
use zeroize::Zeroizing;

/// The mux version this build speaks (sent in [`MuxFrame::Hello`]).
pub const MUX_VERSION: u32 = 1;

/// Length of a mux frame's length field.
pub const MUX_HEADER_LEN: usize = 4;

/// Bytes before a frame's payload, after the length: the type and the connection id.
const TYPE_AND_ID_LEN: usize = 5;

/// The largest length a mux frame may announce: a data frame with the largest agent message.
pub const MAX_MUX_FRAME_LEN: usize = TYPE_AND_ID_LEN + MAX_MESSAGE_LEN;

const HELLO: u8 = 1;
const OPEN: u8 = 2;
const DATA: u8 = 3;
const CLOSE: u8 = 4;

/// One mux frame.
#[derive(Clone, PartialEq, Eq)]
pub enum MuxFrame {
    /// First frame each way: the highest mux version the sender speaks.
    Hello {
        /// Highest version spoken; both ends use the lower of the two.
        version: u32,
    },
    /// Bridge to relay: a new logical connection, from `client`.
    Open {
        /// Connection id, never 0 and never reused within one mux stream.
        id: u32,
        /// Who connected, as the bridge saw it.
        client: ReportedClient,
    },
    /// One agent message (request or reply) on connection `id`.
    Data {
        /// Connection id.
        id: u32,
        /// The message body, without its length (it may hold key material).
        message: Zeroizing<Vec<u8>>,
    },
    /// Connection `id` is closed (either way; closing an unknown id is not an error).
    Close {
        /// Connection id.
        id: u32,
    },
}

impl core::fmt::Debug for MuxFrame {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Hello { version } => write!(f, "Hello(v{version})"),
            Self::Open { id, client } => write!(f, "Open({id}, {client:?})"),
            // Agent messages may hold key material: only their length.
            Self::Data { id, message } => write!(f, "Data({id}, {} bytes)", message.len()),
            Self::Close { id } => write!(f, "Close({id})"),
        }
    }
}

/// Why a mux stream must end: the frame can never be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MuxError {
    /// The announced length is below the smallest frame or above [`MAX_MUX_FRAME_LEN`].
    BadLength(u32),
    /// An unknown frame type.
    UnknownType(u8),
    /// A hello frame with a connection id, or another frame with connection id 0.
    BadId(u8),
    /// A data frame with no message.
    EmptyMessage,
    /// The frame's fields do not fit its length, or break a limit.
    Malformed(WireError),
}

impl core::fmt::Display for MuxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadLength(n) => write!(
                f,
                "mux frame length {n} is outside {TYPE_AND_ID_LEN}..={MAX_MUX_FRAME_LEN}"
            ),
            Self::UnknownType(t) => write!(f, "unknown mux frame type {t}"),
            Self::BadId(t) => write!(f, "mux frame type {t} with a wrong connection id"),
            Self::EmptyMessage => f.write_str("mux data frame without a message"),
            Self::Malformed(e) => write!(f, "malformed mux frame: {e}"),
        }
    }
}

impl std::error::Error for MuxError {}

impl From<WireError> for MuxError {
    fn from(e: WireError) -> Self {
        Self::Malformed(e)
    }
}

/// What [`decode_mux_frame`] found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MuxStatus {
    /// A whole frame, `used` bytes long (length field included).
    Complete {
        /// The frame.
        frame: MuxFrame,
        /// Bytes of the buffer it took.
        used: usize,
    },
    /// Not enough bytes yet; at least this many more are needed.
    NeedMore(usize),
}

/// Validates an announced frame length (for readers that read the length field on its own).
pub fn mux_len_from_header(announced: u32) -> Result<usize, MuxError> {
    match usize::try_from(announced) {
        Ok(n) if (TYPE_AND_ID_LEN..=MAX_MUX_FRAME_LEN).contains(&n) => Ok(n),
        _ => Err(MuxError::BadLength(announced)),
    }
}

/// Looks at the start of `buf`: a whole frame, more bytes needed, or an error that ends the mux.
pub fn decode_mux_frame(buf: &[u8]) -> Result<MuxStatus, MuxError> {
    let Some(header) = buf.get(..MUX_HEADER_LEN) else {
        return Ok(MuxStatus::NeedMore(MUX_HEADER_LEN - buf.len()));
    };
    let len = mux_len_from_header(u32::from_be_bytes([
        header[0], header[1], header[2], header[3],
    ]))?;
    let have = buf.len() - MUX_HEADER_LEN;
    if have < len {
        return Ok(MuxStatus::NeedMore(len - have));
    }
    let frame = MuxFrame::decode(&buf[MUX_HEADER_LEN..MUX_HEADER_LEN + len])?;
    Ok(MuxStatus::Complete {
        frame,
        used: MUX_HEADER_LEN + len,
    })
}

impl MuxFrame {
    /// Decodes a frame's bytes after its length field.
    pub fn decode(body: &[u8]) -> Result<Self, MuxError> {
        if body.len() < TYPE_AND_ID_LEN || body.len() > MAX_MUX_FRAME_LEN {
            return Err(MuxError::BadLength(
                u32::try_from(body.len()).unwrap_or(u32::MAX),
            ));
        }
        let mut r = Reader::new(body);
        let kind = r.u8()?;
        let id = r.u32()?;
        if (kind == HELLO) != (id == 0) && matches!(kind, HELLO | OPEN | DATA | CLOSE) {
            return Err(MuxError::BadId(kind));
        }
        let frame = match kind {
            HELLO => Self::Hello { version: r.u32()? },
            OPEN => Self::Open {
                id,
                client: ReportedClient {
                    pid: r.u32()?,
                    program: identity_field(&mut r, "program name")?,
                    distribution: identity_field(&mut r, "distribution name")?,
                },
            },
            DATA => {
                let message = r.take_rest();
                if message.is_empty() {
                    return Err(MuxError::EmptyMessage);
                }
                Self::Data {
                    id,
                    message: Zeroizing::new(message.to_vec()),
                }
            }
            CLOSE => Self::Close { id },
            other => return Err(MuxError::UnknownType(other)),
        };
        r.finish()?;
        Ok(frame)
    }

    /// The frame with its length field. Frames agentry builds are within the limits (a data
    /// frame's message is one agent message, at most [`MAX_MESSAGE_LEN`] bytes).
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new();
        w.u32(0); // the length, filled in below
        let (kind, id) = match self {
            Self::Hello { .. } => (HELLO, 0),
            Self::Open { id, .. } => (OPEN, *id),
            Self::Data { id, .. } => (DATA, *id),
            Self::Close { id } => (CLOSE, *id),
        };
        w.u8(kind).u32(id);
        match self {
            Self::Hello { version } => {
                w.u32(*version);
            }
            Self::Open { client, .. } => {
                w.u32(client.pid)
                    .string(clip(&client.program).as_bytes())
                    .string(clip(&client.distribution).as_bytes());
            }
            Self::Data { message, .. } => {
                w.raw(message);
            }
            Self::Close { .. } => {}
        }
        let mut out = Zeroizing::new(w.into_bytes());
        let len = u32::try_from(out.len() - MUX_HEADER_LEN).unwrap_or(u32::MAX);
        out[..MUX_HEADER_LEN].copy_from_slice(&len.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frame: MuxFrame) {
        let bytes = frame.encode();
        assert_eq!(
            decode_mux_frame(&bytes),
            Ok(MuxStatus::Complete {
                frame,
                used: bytes.len()
            })
        );
        for cut in 0..bytes.len() {
            assert!(matches!(
                decode_mux_frame(&bytes[..cut]),
                Ok(MuxStatus::NeedMore(_))
            ));
        }
    }

    #[test]
    fn every_frame_type_round_trips() {
        round_trip(MuxFrame::Hello { version: 1 });
        round_trip(MuxFrame::Open {
            id: 7,
            client: ReportedClient {
                pid: 4242,
                program: "ssh".into(),
                distribution: "Debian".into(),
            },
        });
        round_trip(MuxFrame::Data {
            id: 7,
            message: Zeroizing::new(vec![11]),
        });
        round_trip(MuxFrame::Data {
            id: u32::MAX,
            message: Zeroizing::new(vec![0; MAX_MESSAGE_LEN]),
        });
        round_trip(MuxFrame::Close { id: 7 });
    }

    #[test]
    fn lengths_outside_the_limits_end_the_mux() {
        for n in [0u32, 4, (MAX_MUX_FRAME_LEN + 1) as u32, u32::MAX] {
            assert_eq!(
                decode_mux_frame(&n.to_be_bytes()),
                Err(MuxError::BadLength(n))
            );
        }
        let mut too_long = MuxFrame::Data {
            id: 1,
            message: Zeroizing::new(vec![0; MAX_MESSAGE_LEN + 1]),
        }
        .encode()
        .to_vec();
        too_long.truncate(8);
        assert!(matches!(
            decode_mux_frame(&too_long),
            Err(MuxError::BadLength(_))
        ));
    }

    #[test]
    fn malformed_frames_are_refused() {
        let frame = |body: &[u8]| {
            let mut out = (body.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(body);
            decode_mux_frame(&out)
        };
        assert_eq!(frame(&[9, 0, 0, 0, 1]), Err(MuxError::UnknownType(9)));
        assert_eq!(frame(&[DATA, 0, 0, 0, 0, 1]), Err(MuxError::BadId(DATA)));
        assert_eq!(
            frame(&[HELLO, 0, 0, 0, 1, 0, 0, 0, 1]),
            Err(MuxError::BadId(HELLO))
        );
        assert_eq!(frame(&[DATA, 0, 0, 0, 1]), Err(MuxError::EmptyMessage));
        assert!(matches!(
            frame(&[CLOSE, 0, 0, 0, 1, 0]),
            Err(MuxError::Malformed(WireError::TrailingBytes))
        ));
        assert!(matches!(
            frame(&[OPEN, 0, 0, 0, 1, 0, 0]),
            Err(MuxError::Malformed(WireError::Truncated))
        ));
        let mut long_name = vec![OPEN, 0, 0, 0, 1, 0, 0, 0, 1];
        long_name.extend_from_slice(&(MAX_IDENTITY_FIELD as u32 + 1).to_be_bytes());
        long_name.extend_from_slice(&[b'a'; MAX_IDENTITY_FIELD + 1]);
        long_name.extend_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(
            frame(&long_name),
            Err(MuxError::Malformed(WireError::TooLarge(_)))
        ));
    }

    #[test]
    fn over_long_identity_fields_are_clipped_on_a_character_boundary() {
        let frame = MuxFrame::Open {
            id: 1,
            client: ReportedClient {
                pid: 1,
                program: "é".repeat(200),
                distribution: String::new(),
            },
        };
        let Ok(MuxStatus::Complete {
            frame: MuxFrame::Open { client, .. },
            ..
        }) = decode_mux_frame(&frame.encode())
        else {
            panic!("does not decode");
        };
        assert_eq!(client.program, "é".repeat(128));
    }
}
