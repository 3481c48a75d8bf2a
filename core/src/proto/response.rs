//! Agent → client messages. [`Response::encode`] builds the body the transport frames;
//! [`Response::decode`] is its inverse, used by agentry's own client commands and by tests.

use super::msg;
use crate::wire::{Reader, WireError, Writer};

/// One entry of `SSH_AGENT_IDENTITIES_ANSWER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Public key or certificate blob.
    pub key_blob: Vec<u8>,
    /// Comment, as it was added.
    pub comment: Vec<u8>,
}

/// A reply to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// `SSH_AGENT_FAILURE`.
    Failure,
    /// `SSH_AGENT_SUCCESS` with nothing after it.
    Success,
    /// `SSH_AGENT_SUCCESS` followed by extension-defined bytes (`query`, PuTTY's extensions).
    SuccessWith(Vec<u8>),
    /// `SSH_AGENT_IDENTITIES_ANSWER`.
    Identities(Vec<Identity>),
    /// `SSH_AGENT_SIGN_RESPONSE` with the encoded SSH signature (`string alg || string blob`).
    Signature(Vec<u8>),
    /// `SSH_AGENT_EXTENSION_FAILURE`.
    ExtensionFailure,
    /// `SSH_AGENT_EXTENSION_RESPONSE` followed by extension-defined bytes (`query`).
    ExtensionResponse(Vec<u8>),
}

impl Response {
    /// Encodes the response as a message body (no length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let capacity = match self {
            Self::Signature(sig) => 5 + sig.len(),
            Self::Identities(ids) => {
                5 + ids
                    .iter()
                    .map(|i| 8 + i.key_blob.len() + i.comment.len())
                    .sum::<usize>()
            }
            Self::SuccessWith(p) | Self::ExtensionResponse(p) => 1 + p.len(),
            _ => 1,
        };
        let mut w = Writer::with_capacity(capacity);
        match self {
            Self::Failure => {
                w.u8(msg::FAILURE);
            }
            Self::Success => {
                w.u8(msg::SUCCESS);
            }
            Self::SuccessWith(payload) => {
                w.u8(msg::SUCCESS).raw(payload);
            }
            Self::Identities(ids) => {
                let count = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                w.u8(msg::IDENTITIES_ANSWER).u32(count);
                for id in ids {
                    w.string(&id.key_blob).string(&id.comment);
                }
            }
            Self::Signature(sig) => {
                w.u8(msg::SIGN_RESPONSE).string(sig);
            }
            Self::ExtensionFailure => {
                w.u8(msg::EXTENSION_FAILURE);
            }
            Self::ExtensionResponse(payload) => {
                w.u8(msg::EXTENSION_RESPONSE).raw(payload);
            }
        }
        w.into_bytes()
    }

    /// Decodes a reply body. A `SUCCESS` with trailing bytes becomes [`Response::SuccessWith`].
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let resp = match r.u8()? {
            msg::FAILURE => Self::Failure,
            msg::SUCCESS if r.is_empty() => Self::Success,
            msg::SUCCESS => Self::SuccessWith(r.take_rest().to_vec()),
            msg::IDENTITIES_ANSWER => {
                let count = r.u32()?;
                let mut ids = Vec::new();
                for _ in 0..count {
                    ids.push(Identity {
                        key_blob: r.string()?.to_vec(),
                        comment: r.string()?.to_vec(),
                    });
                }
                Self::Identities(ids)
            }
            msg::SIGN_RESPONSE => Self::Signature(r.string()?.to_vec()),
            msg::EXTENSION_FAILURE => Self::ExtensionFailure,
            msg::EXTENSION_RESPONSE => Self::ExtensionResponse(r.take_rest().to_vec()),
            _ => return Err(WireError::Invalid("reply message type")),
        };
        r.finish()?;
        Ok(resp)
    }
}
