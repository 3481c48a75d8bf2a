//! The SSH wire primitives the agent protocol is built from (RFC 4251 §5): a bounded reader over
//! one message body and a writer that builds one. Every nested `string` is read as a sub-slice of
//! its declared length, so no field can reach past its parent; callers finish with
//! [`Reader::finish`], which rejects trailing bytes.

mod reader;
mod writer;

pub use reader::Reader;
pub use writer::Writer;

/// Why a message body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// A field claims more bytes than its parent holds.
    Truncated,
    /// Bytes were left over after the last field of a structure.
    TrailingBytes,
    /// A field holds a value the protocol does not allow (bad bool, non-UTF-8 name, …).
    Invalid(&'static str),
    /// A field is larger than agentry accepts (too many constraints, over-long user name, …).
    TooLarge(&'static str),
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated => f.write_str("field runs past the end of its message"),
            Self::TrailingBytes => f.write_str("unexpected bytes after the last field"),
            Self::Invalid(what) => write!(f, "invalid {what}"),
            Self::TooLarge(what) => write!(f, "{what} exceeds agentry's limit"),
        }
    }
}

impl std::error::Error for WireError {}
