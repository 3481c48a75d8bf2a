//! The messages between the agent and its helper processes (`agentry helper KIND`, which load
//! PKCS#11 providers and security-key middleware so that a faulty library cannot crash the
//! agent or read its memory). Each message is one frame (`uint32 length || body`, at most
//! [`crate::MAX_MESSAGE_LEN`]) on the helper's standard input (requests) or output (replies);
//! one reply per request, in order. Bodies use the agent protocol's encodings. Secrets (the PIN)
//! are held in zeroizing buffers and never shown by `Debug`. Unknown types and trailing bytes
//! are refused by both ends.

use crate::wire::{Reader, WireError, Writer};
use zeroize::Zeroizing;

const LOAD_PKCS11: u8 = 1;
const SIGN: u8 = 2;
const SK_SIGN: u8 = 3;

const FAILURE: u8 = 0;
const KEYS: u8 = 1;
const SIGNATURE: u8 = 2;

/// A request from the agent to a helper.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HelperRequest {
    /// Load a PKCS#11 module (a resolved, allowed path), log in to each token with `pin` when it
    /// is not empty, and list every RSA and ECDSA key and certificate: `string module,
    /// string pin`. Sent once, first.
    LoadPkcs11 {
        /// The module's resolved path.
        module: String,
        /// The user PIN (may be empty).
        pin: Zeroizing<Vec<u8>>,
    },
    /// Sign with a key the helper listed: `string key_blob, string data, uint32 flags`. The
    /// agent has already applied its SHA-1 policy: an RSA request without a SHA-2 flag is a
    /// legacy `ssh-rsa` signature it allows.
    /// Sign with a FIDO security key through a middleware library (a resolved, allowed path;
    /// a helper loads one library, at its first request): `string library, string key, string
    /// data, string pin`, where `key` is the security key's private encoding (type name, public
    /// fields, application, flags, key handle, reserved: as `ssh-sk-helper` takes it) and `pin`
    /// may be empty. The reply is the SSH signature, or a failure (`WrongPin` when the
    /// authenticator wants a PIN, `TokenAbsent` when none holding the key is attached).
    SkSign {
        /// The middleware library's resolved path.
        library: String,
        /// The security key's private encoding (holds the key handle).
        key: Zeroizing<Vec<u8>>,
        /// The data to sign.
        data: Vec<u8>,
        /// The FIDO PIN (may be empty).
        pin: Zeroizing<Vec<u8>>,
    },
    Sign {
        /// The key's public blob, as listed.
        key_blob: Vec<u8>,
        /// The data to sign.
        data: Vec<u8>,
        /// `SSH_AGENT_RSA_SHA2_*` flags.
        flags: u32,
    },
}

/// Why a helper could not do what it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HelperFailure {
    /// The token refused the PIN.
    WrongPin,
    /// The PIN is locked (too many wrong tries).
    PinLocked,
    /// The token or device is gone.
    TokenAbsent,
    /// Anything else (the message says what).
    Other,
}

impl HelperFailure {
    fn code(self) -> u8 {
        match self {
            Self::WrongPin => 1,
            Self::PinLocked => 2,
            Self::TokenAbsent => 3,
            Self::Other => 255,
        }
    }

    fn from_code(code: u8) -> Self {
        match code {
            1 => Self::WrongPin,
            2 => Self::PinLocked,
            3 => Self::TokenAbsent,
            _ => Self::Other,
        }
    }
}

/// One key a helper found: its public blob and a comment (the token object's label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperKey {
    /// Public key blob.
    pub blob: Vec<u8>,
    /// The object's label; may be empty.
    pub comment: Vec<u8>,
}

/// A helper's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HelperReply {
    /// `byte reason, string message`: the request failed.
    Failure {
        /// Why, as a class the agent acts on.
        reason: HelperFailure,
        /// Why, in words, for the agent's log (no secrets).
        message: String,
    },
    /// `(string blob, string comment)*`: the keys a load found.
    Keys(Vec<HelperKey>),
    /// `string signature`: SSH-encoded (`string algorithm || string blob`).
    Signature(Vec<u8>),
}

impl HelperRequest {
    /// Decodes one body.
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let request = match r.u8()? {
            LOAD_PKCS11 => Self::LoadPkcs11 {
                module: r.utf8("module path")?.to_owned(),
                pin: Zeroizing::new(r.string()?.to_vec()),
            },
            SK_SIGN => Self::SkSign {
                library: r.utf8("library path")?.to_owned(),
                key: Zeroizing::new(r.string()?.to_vec()),
                data: r.string()?.to_vec(),
                pin: Zeroizing::new(r.string()?.to_vec()),
            },
            SIGN => Self::Sign {
                key_blob: r.string()?.to_vec(),
                data: r.string()?.to_vec(),
                flags: r.u32()?,
            },
            _ => return Err(WireError::Invalid("helper request type")),
        };
        r.finish()?;
        Ok(request)
    }

    /// Encodes the body.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new();
        match self {
            Self::LoadPkcs11 { module, pin } => {
                w.u8(LOAD_PKCS11).string(module.as_bytes()).string(pin);
            }
            Self::SkSign {
                library,
                key,
                data,
                pin,
            } => {
                w.u8(SK_SIGN)
                    .string(library.as_bytes())
                    .string(key)
                    .string(data)
                    .string(pin);
            }
            Self::Sign {
                key_blob,
                data,
                flags,
            } => {
                w.u8(SIGN).string(key_blob).string(data).u32(*flags);
            }
        }
        Zeroizing::new(w.into_bytes())
    }
}

impl core::fmt::Debug for HelperRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::LoadPkcs11 { module, .. } => f
                .debug_struct("LoadPkcs11")
                .field("module", module)
                .finish_non_exhaustive(),
            Self::SkSign { library, data, .. } => f
                .debug_struct("SkSign")
                .field("library", library)
                .field("data_len", &data.len())
                .finish_non_exhaustive(),
            Self::Sign {
                key_blob,
                data,
                flags,
            } => f
                .debug_struct("Sign")
                .field("key_blob_len", &key_blob.len())
                .field("data_len", &data.len())
                .field("flags", flags)
                .finish(),
        }
    }
}

impl HelperReply {
    /// Decodes one body.
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let reply = match r.u8()? {
            FAILURE => Self::Failure {
                reason: HelperFailure::from_code(r.u8()?),
                message: String::from_utf8_lossy(r.string()?).into_owned(),
            },
            KEYS => {
                let mut keys = Vec::new();
                while !r.is_empty() {
                    keys.push(HelperKey {
                        blob: r.string()?.to_vec(),
                        comment: r.string()?.to_vec(),
                    });
                }
                Self::Keys(keys)
            }
            SIGNATURE => Self::Signature(r.string()?.to_vec()),
            _ => return Err(WireError::Invalid("helper reply type")),
        };
        r.finish()?;
        Ok(reply)
    }

    /// Encodes the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Self::Failure { reason, message } => {
                w.u8(FAILURE).u8(reason.code()).string(message.as_bytes());
            }
            Self::Keys(keys) => {
                w.u8(KEYS);
                for key in keys {
                    w.string(&key.blob).string(&key.comment);
                }
            }
            Self::Signature(sig) => {
                w.u8(SIGNATURE).string(sig);
            }
        }
        w.into_bytes()
    }

    /// A failure reply.
    pub fn failure(reason: HelperFailure, message: impl Into<String>) -> Self {
        Self::Failure {
            reason,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip() {
        let requests = [
            HelperRequest::LoadPkcs11 {
                module: "/usr/lib/softhsm/libsofthsm2.so".into(),
                pin: Zeroizing::new(b"1234".to_vec()),
            },
            HelperRequest::Sign {
                key_blob: b"blob".to_vec(),
                data: b"data".to_vec(),
                flags: 4,
            },
            HelperRequest::SkSign {
                library: "/usr/lib/x86_64-linux-gnu/libsk.so".into(),
                key: Zeroizing::new(b"secret-key-handle".to_vec()),
                data: b"data".to_vec(),
                pin: Zeroizing::new(b"1234".to_vec()),
            },
        ];
        for request in requests {
            assert_eq!(
                HelperRequest::decode(&request.encode()),
                Ok(request.clone())
            );
            assert!(!format!("{request:?}").contains("1234"));
            assert!(!format!("{request:?}").contains("secret"));
        }
        let replies = [
            HelperReply::failure(HelperFailure::WrongPin, "CKR_PIN_INCORRECT"),
            HelperReply::failure(HelperFailure::Other, "x"),
            HelperReply::Keys(vec![
                HelperKey {
                    blob: b"a".to_vec(),
                    comment: b"label".to_vec(),
                },
                HelperKey {
                    blob: b"b".to_vec(),
                    comment: Vec::new(),
                },
            ]),
            HelperReply::Keys(Vec::new()),
            HelperReply::Signature(b"sig".to_vec()),
        ];
        for reply in replies {
            assert_eq!(HelperReply::decode(&reply.encode()), Ok(reply.clone()));
        }
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [
            &[][..],
            &[9],
            &[2, 0, 0, 0, 9],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 7],
        ] {
            assert!(HelperRequest::decode(body).is_err(), "{body:?}");
        }
        for body in [&[][..], &[9], &[2, 0, 0, 0, 1], &[2, 0, 0, 0, 0, 1]] {
            assert!(HelperReply::decode(body).is_err(), "{body:?}");
        }
    }
}
