//! Client → agent messages. [`Request::decode`] takes one message body (the frame without its
//! length) and yields a typed request or a [`WireError`]; [`Request::encode`] is its inverse and
//! reproduces real clients' bytes exactly (tested against captures from OpenSSH's `ssh-add`).

use super::constraint::Constraint;
use super::extension::Extension;
use super::msg;
use super::smartcard::{SmartcardAdd, SmartcardRemove};
use crate::keys::PrivateKey;
use crate::wire::{Reader, WireError, Writer};
use zeroize::Zeroizing;

/// `SSH_AGENTC_SIGN_REQUEST`.
#[derive(Clone, PartialEq, Eq)]
pub struct SignRequest {
    /// Public blob of the key (or certificate) to sign with.
    pub key_blob: Vec<u8>,
    /// The data to sign.
    pub data: Vec<u8>,
    /// `SSH_AGENT_RSA_SHA2_*` flags.
    pub flags: u32,
}

impl core::fmt::Debug for SignRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Signed data is never logged: it can hold session identifiers and user names.
        f.debug_struct("SignRequest")
            .field("key_blob_len", &self.key_blob.len())
            .field("data_len", &self.data.len())
            .field("flags", &self.flags)
            .finish()
    }
}

/// An `SSH_AGENTC_SIGN_REQUEST`'s fields borrowed from the message body: the agent's signing
/// path reads them in place, and [`Request::decode`] copies them into a [`SignRequest`]. One
/// reader for both, so the two can never disagree on what a sign request is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SignRequestRef<'a> {
    /// Public blob of the key (or certificate) to sign with.
    pub key_blob: &'a [u8],
    /// The data to sign.
    pub data: &'a [u8],
    /// `SSH_AGENT_RSA_SHA2_*` flags.
    pub flags: u32,
}

impl<'a> SignRequestRef<'a> {
    /// Reads the fields after the message type; the caller checks for trailing bytes.
    fn read(r: &mut Reader<'a>) -> Result<Self, WireError> {
        Ok(Self {
            key_blob: r.string()?,
            data: r.string()?,
            flags: r.u32()?,
        })
    }

    /// A whole `SSH_AGENTC_SIGN_REQUEST` body; `None` for any other message and for a malformed
    /// one (which [`Request::decode`] then refuses the same way).
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let (&msg_type, rest) = body.split_first()?;
        if msg_type != msg::SIGN_REQUEST {
            return None;
        }
        let mut r = Reader::new(rest);
        let sign = Self::read(&mut r).ok()?;
        r.is_empty().then_some(sign)
    }
}

impl<'a> From<&'a SignRequest> for SignRequestRef<'a> {
    fn from(req: &'a SignRequest) -> Self {
        Self {
            key_blob: &req.key_blob,
            data: &req.data,
            flags: req.flags,
        }
    }
}

impl core::fmt::Debug for SignRequestRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Signed data is never logged: it can hold session identifiers and user names.
        f.debug_struct("SignRequestRef")
            .field("key_blob_len", &self.key_blob.len())
            .field("data_len", &self.data.len())
            .field("flags", &self.flags)
            .finish()
    }
}

/// `SSH_AGENTC_ADD_IDENTITY` and `SSH_AGENTC_ADD_ID_CONSTRAINED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddIdentity {
    /// The private key (and certificate, for `*-cert-v01@openssh.com` types).
    pub key: PrivateKey,
    /// The key's comment, as sent (not necessarily UTF-8).
    pub comment: Vec<u8>,
    /// Constraints; empty for `SSH_AGENTC_ADD_IDENTITY`.
    pub constraints: Vec<Constraint>,
    /// True when the message was `SSH_AGENTC_ADD_ID_CONSTRAINED` (even with no constraints).
    pub constrained: bool,
}

/// A decoded client request.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// `SSH_AGENTC_REQUEST_IDENTITIES`.
    RequestIdentities,
    /// `SSH_AGENTC_SIGN_REQUEST`.
    Sign(SignRequest),
    /// `SSH_AGENTC_ADD_IDENTITY` / `SSH_AGENTC_ADD_ID_CONSTRAINED`.
    AddIdentity(Box<AddIdentity>),
    /// `SSH_AGENTC_REMOVE_IDENTITY`.
    RemoveIdentity {
        /// Public blob of the key to remove.
        key_blob: Vec<u8>,
    },
    /// `SSH_AGENTC_REMOVE_ALL_IDENTITIES`.
    RemoveAllIdentities,
    /// `SSH_AGENTC_LOCK`.
    Lock {
        /// The lock passphrase.
        passphrase: Zeroizing<Vec<u8>>,
    },
    /// `SSH_AGENTC_UNLOCK`.
    Unlock {
        /// The lock passphrase.
        passphrase: Zeroizing<Vec<u8>>,
    },
    /// `SSH_AGENTC_EXTENSION`.
    Extension(Extension),
    /// `SSH_AGENTC_ADD_SMARTCARD_KEY` / `SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED`.
    AddSmartcardKey(Box<SmartcardAdd>),
    /// `SSH_AGENTC_REMOVE_SMARTCARD_KEY`.
    RemoveSmartcardKey(SmartcardRemove),
    /// An SSH-1 request: recognised and refused.
    Ssh1 {
        /// The SSH-1 message number.
        msg_type: u8,
        /// The rest of the body, undecoded.
        body: Zeroizing<Vec<u8>>,
    },
    /// Any other message number.
    Unknown {
        /// The message number.
        msg_type: u8,
        /// The rest of the body, undecoded.
        body: Zeroizing<Vec<u8>>,
    },
}

impl core::fmt::Debug for Request {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::RequestIdentities => f.write_str("RequestIdentities"),
            Self::Sign(s) => s.fmt(f),
            Self::AddIdentity(a) => f
                .debug_struct("AddIdentity")
                .field("key", &a.key)
                .field("constraints", &a.constraints)
                .finish(),
            Self::RemoveIdentity { key_blob } => f
                .debug_struct("RemoveIdentity")
                .field("key_blob_len", &key_blob.len())
                .finish(),
            Self::RemoveAllIdentities => f.write_str("RemoveAllIdentities"),
            Self::Lock { .. } => f.write_str("Lock"),
            Self::Unlock { .. } => f.write_str("Unlock"),
            Self::Extension(e) => e.fmt(f),
            Self::AddSmartcardKey(a) => a.fmt(f),
            Self::RemoveSmartcardKey(r) => r.fmt(f),
            Self::Ssh1 { msg_type, .. } => write!(f, "Ssh1({msg_type})"),
            Self::Unknown { msg_type, .. } => write!(f, "Unknown({msg_type})"),
        }
    }
}

impl Request {
    /// Decodes one message body. Every field is bounded by its parent and trailing bytes are
    /// rejected, except after messages agentry only recognises in order to refuse them.
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let msg_type = r.u8()?;
        let req = match msg_type {
            msg::REQUEST_IDENTITIES => Self::RequestIdentities,
            msg::SIGN_REQUEST => {
                let sign = SignRequestRef::read(&mut r)?;
                Self::Sign(SignRequest {
                    key_blob: sign.key_blob.to_vec(),
                    data: sign.data.to_vec(),
                    flags: sign.flags,
                })
            }
            msg::ADD_IDENTITY | msg::ADD_ID_CONSTRAINED => {
                let key = PrivateKey::decode_wire(&mut r)?;
                let comment = r.string()?.to_vec();
                let constrained = msg_type == msg::ADD_ID_CONSTRAINED;
                let constraints = if constrained {
                    Constraint::decode_all(&mut r)?
                } else {
                    Vec::new()
                };
                Self::AddIdentity(Box::new(AddIdentity {
                    key,
                    comment,
                    constraints,
                    constrained,
                }))
            }
            msg::REMOVE_IDENTITY => Self::RemoveIdentity {
                key_blob: r.string()?.to_vec(),
            },
            msg::REMOVE_ALL_IDENTITIES => Self::RemoveAllIdentities,
            msg::LOCK => Self::Lock {
                passphrase: Zeroizing::new(r.string()?.to_vec()),
            },
            msg::UNLOCK => Self::Unlock {
                passphrase: Zeroizing::new(r.string()?.to_vec()),
            },
            msg::EXTENSION => Self::Extension(Extension::decode(&mut r)?),
            msg::ADD_SMARTCARD_KEY | msg::ADD_SMARTCARD_KEY_CONSTRAINED => {
                let constrained = msg_type == msg::ADD_SMARTCARD_KEY_CONSTRAINED;
                Self::AddSmartcardKey(Box::new(SmartcardAdd::decode(&mut r, constrained)?))
            }
            msg::REMOVE_SMARTCARD_KEY => Self::RemoveSmartcardKey(SmartcardRemove::decode(&mut r)?),
            t if msg::is_ssh1_request(t) => Self::Ssh1 {
                msg_type,
                body: Zeroizing::new(r.take_rest().to_vec()),
            },
            _ => Self::Unknown {
                msg_type,
                body: Zeroizing::new(r.take_rest().to_vec()),
            },
        };
        r.finish()?;
        Ok(req)
    }

    /// Encodes the request as a message body (no length prefix).
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new();
        match self {
            Self::RequestIdentities => {
                w.u8(msg::REQUEST_IDENTITIES);
            }
            Self::Sign(s) => {
                w.u8(msg::SIGN_REQUEST)
                    .string(&s.key_blob)
                    .string(&s.data)
                    .u32(s.flags);
            }
            Self::AddIdentity(a) => {
                w.u8(if a.constrained {
                    msg::ADD_ID_CONSTRAINED
                } else {
                    msg::ADD_IDENTITY
                });
                a.key.encode_wire(&mut w);
                w.string(&a.comment);
                a.constraints.iter().for_each(|c| c.encode(&mut w));
            }
            Self::RemoveIdentity { key_blob } => {
                w.u8(msg::REMOVE_IDENTITY).string(key_blob);
            }
            Self::RemoveAllIdentities => {
                w.u8(msg::REMOVE_ALL_IDENTITIES);
            }
            Self::Lock { passphrase } => {
                w.u8(msg::LOCK).string(passphrase);
            }
            Self::Unlock { passphrase } => {
                w.u8(msg::UNLOCK).string(passphrase);
            }
            Self::Extension(e) => {
                w.u8(msg::EXTENSION);
                e.encode(&mut w);
            }
            Self::AddSmartcardKey(add) => add.encode(&mut w),
            Self::RemoveSmartcardKey(remove) => remove.encode(&mut w),
            Self::Ssh1 { msg_type, body } | Self::Unknown { msg_type, body } => {
                w.u8(*msg_type).raw(body);
            }
        }
        Zeroizing::new(w.into_bytes())
    }
}
