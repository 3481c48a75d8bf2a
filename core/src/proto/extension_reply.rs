//! Typed replies of the extensions that answer with data: `query`, PuTTY's `list-extended` and
//! `reencrypt-all`, and agentry's `status@agentry`. Each type encodes to the [`Response`] the agent sends and decodes from the
//! one a client receives, so the agent and agentry's own client share one definition of every
//! field and flag. Decoding is strict (every field bounded, no trailing bytes) except inside a
//! `list-extended` key's extra-information string, which PuTTY may extend: its flags are read
//! and anything after them is ignored.

use super::response::Response;
use crate::wire::{Reader, WireError, Writer};

/// The reply to `query`: the extension names the agent supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryReply {
    /// Extension names, in the agent's order (without `query`'s own leading name).
    pub names: Vec<String>,
}

impl QueryReply {
    /// OpenSSH's format: `SSH_AGENT_EXTENSION_RESPONSE, string "query", string name…`.
    pub fn encode(&self) -> Response {
        let mut w = Writer::new();
        w.string(b"query");
        for name in &self.names {
            w.string(name.as_bytes());
        }
        Response::ExtensionResponse(w.into_bytes())
    }

    /// Reads OpenSSH's format, or PuTTY's (`SSH_AGENT_SUCCESS` followed by the names).
    pub fn decode(response: &Response) -> Result<Self, WireError> {
        let (payload, named) = match response {
            Response::ExtensionResponse(p) => (p, true),
            Response::SuccessWith(p) => (p, false),
            _ => return Err(WireError::Invalid("query reply")),
        };
        let mut r = Reader::new(payload);
        let mut names = Vec::new();
        while !r.is_empty() {
            names.push(String::from_utf8_lossy(r.string()?).into_owned());
        }
        if named {
            if names.first().map(String::as_str) != Some("query") {
                return Err(WireError::Invalid("query reply name"));
            }
            names.remove(0);
        }
        Ok(Self { names })
    }
}

/// The reply to agentry's `status@agentry`, answered locked or not: why the agent may have
/// refused a request. `SSH_AGENT_EXTENSION_RESPONSE, string "status@agentry", uint32 flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusReply {
    /// The agent is locked (flag 1).
    pub locked: bool,
    /// The agent has a prompter: it can ask for confirmations and passphrases (flag 2).
    pub can_prompt: bool,
}

impl StatusReply {
    const NAME: &'static [u8] = b"status@agentry";
    const LOCKED: u32 = 1;
    const CAN_PROMPT: u32 = 2;

    /// The agent's reply.
    pub fn encode(&self) -> Response {
        let mut flags = 0;
        if self.locked {
            flags |= Self::LOCKED;
        }
        if self.can_prompt {
            flags |= Self::CAN_PROMPT;
        }
        let mut w = Writer::new();
        w.string(Self::NAME).u32(flags);
        Response::ExtensionResponse(w.into_bytes())
    }

    /// Reads the reply; anything else (an agent that does not know the extension answers 5 or
    /// 28) is an error. Flags agentry does not define are ignored.
    pub fn decode(response: &Response) -> Result<Self, WireError> {
        let Response::ExtensionResponse(payload) = response else {
            return Err(WireError::Invalid("status reply"));
        };
        let mut r = Reader::new(payload);
        if r.string()? != Self::NAME {
            return Err(WireError::Invalid("status reply name"));
        }
        let flags = r.u32()?;
        if !r.is_empty() {
            return Err(WireError::Invalid("status reply length"));
        }
        Ok(Self {
            locked: flags & Self::LOCKED != 0,
            can_prompt: flags & Self::CAN_PROMPT != 0,
        })
    }
}

/// A key's state flags in `list-extended` (PuTTY's values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyFlags(pub u32);

impl KeyFlags {
    /// The key has an encrypted form it can be re-encrypted to.
    pub const HAS_ENCRYPTED_FORM: u32 = 1;
    /// The key is not decrypted now (its first use asks for the passphrase).
    pub const NOT_DECRYPTED: u32 = 2;

    /// Flags for a key with or without an encrypted form, decrypted now or not.
    pub fn new(has_encrypted_form: bool, decrypted: bool) -> Self {
        let mut flags = 0;
        if has_encrypted_form {
            flags |= Self::HAS_ENCRYPTED_FORM;
        }
        if !decrypted {
            flags |= Self::NOT_DECRYPTED;
        }
        Self(flags)
    }

    /// True when the key can be re-encrypted.
    pub fn has_encrypted_form(self) -> bool {
        self.0 & Self::HAS_ENCRYPTED_FORM != 0
    }

    /// True when the key is usable without a passphrase now.
    pub fn decrypted(self) -> bool {
        self.0 & Self::NOT_DECRYPTED == 0
    }
}

/// One key in a `list-extended` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    /// The public key (or certificate) blob.
    pub key_blob: Vec<u8>,
    /// The comment, as held.
    pub comment: Vec<u8>,
    /// Its state.
    pub flags: KeyFlags,
}

/// The reply to PuTTY's `list-extended`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListExtendedReply {
    /// The keys, in the agent's order.
    pub keys: Vec<ListedKey>,
}

impl ListExtendedReply {
    /// `SSH_AGENT_SUCCESS, uint32 n`, then per key `string blob, string comment,
    /// string(uint32 flags)`.
    pub fn encode(&self) -> Response {
        let mut w = Writer::new();
        w.u32(u32::try_from(self.keys.len()).unwrap_or(u32::MAX));
        for key in &self.keys {
            w.string(&key.key_blob)
                .string(&key.comment)
                .nested(|extra| {
                    extra.u32(key.flags.0);
                });
        }
        Response::SuccessWith(w.into_bytes())
    }

    /// Reads the reply; an empty `SSH_AGENT_SUCCESS` cannot occur (the count is always sent).
    pub fn decode(response: &Response) -> Result<Self, WireError> {
        let Response::SuccessWith(payload) = response else {
            return Err(WireError::Invalid("list-extended reply"));
        };
        let mut r = Reader::new(payload);
        let count = r.u32()?;
        let mut keys = Vec::new();
        for _ in 0..count {
            let key_blob = r.string()?.to_vec();
            let comment = r.string()?.to_vec();
            let flags = KeyFlags(r.nested()?.u32()?);
            keys.push(ListedKey {
                key_blob,
                comment,
                flags,
            });
        }
        r.finish()?;
        Ok(Self { keys })
    }
}

/// The reply to PuTTY's `reencrypt-all`: how many keys were left decrypted (no encrypted form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReencryptAllReply {
    /// Keys that could not be re-encrypted.
    pub left_decrypted: u32,
}

impl ReencryptAllReply {
    /// `SSH_AGENT_SUCCESS, uint32 n`.
    pub fn encode(&self) -> Response {
        Response::SuccessWith(self.left_decrypted.to_be_bytes().to_vec())
    }

    /// Reads the reply (a bare `SSH_AGENT_SUCCESS`, as older agents may send, counts as 0).
    pub fn decode(response: &Response) -> Result<Self, WireError> {
        let left_decrypted = match response {
            Response::Success => 0,
            Response::SuccessWith(payload) => {
                let mut r = Reader::new(payload);
                let n = r.u32()?;
                r.finish()?;
                n
            }
            _ => return Err(WireError::Invalid("reencrypt-all reply")),
        };
        Ok(Self { left_decrypted })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_through_their_responses() {
        let query = QueryReply {
            names: vec![
                "session-bind@openssh.com".into(),
                "add-key-file@agentry".into(),
            ],
        };
        assert_eq!(QueryReply::decode(&query.encode()), Ok(query));
        let list = ListExtendedReply {
            keys: vec![ListedKey {
                key_blob: vec![1, 2],
                comment: b"c".to_vec(),
                flags: KeyFlags::new(true, false),
            }],
        };
        assert_eq!(ListExtendedReply::decode(&list.encode()), Ok(list));
        let all = ReencryptAllReply { left_decrypted: 3 };
        assert_eq!(ReencryptAllReply::decode(&all.encode()), Ok(all));
    }

    #[test]
    fn flags_are_puttys_values() {
        assert_eq!(KeyFlags::new(true, false).0, 3);
        assert_eq!(KeyFlags::new(true, true).0, 1);
        assert_eq!(KeyFlags::new(false, true).0, 0);
        assert!(!KeyFlags(2).decrypted() && !KeyFlags(2).has_encrypted_form());
    }

    #[test]
    fn puttys_query_format_and_bad_replies() {
        let mut w = Writer::new();
        w.string(b"add-ppk@putty.projects.tartarus.org");
        let putty = Response::SuccessWith(w.into_bytes());
        assert_eq!(
            QueryReply::decode(&putty).unwrap().names,
            ["add-ppk@putty.projects.tartarus.org"]
        );
        assert!(QueryReply::decode(&Response::Failure).is_err());
        // A count larger than the keys sent, and trailing bytes, are refused.
        assert!(ListExtendedReply::decode(&Response::SuccessWith(vec![0, 0, 0, 1])).is_err());
        assert!(ReencryptAllReply::decode(&Response::SuccessWith(vec![0, 0, 0, 1, 9])).is_err());
    }
}
