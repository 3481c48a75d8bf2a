//! `SSH_AGENTC_EXTENSION` requests: `query`, OpenSSH's `session-bind@openssh.com` and PuTTY's
//! `@putty.projects.tartarus.org` family. An extension agentry does not know is kept as
//! [`Extension::Unknown`] so the agent can answer `SSH_AGENT_EXTENSION_FAILURE`.

use super::constraint::Constraint;
use crate::reported::{clip, identity_field, ReportedClient};
use crate::wire::{Reader, WireError, Writer};
use zeroize::Zeroizing;

const QUERY: &str = "query";
const SESSION_BIND: &str = "session-bind@openssh.com";
const LIST_EXTENDED: &str = "list-extended@putty.projects.tartarus.org";
const ADD_PPK: &str = "add-ppk@putty.projects.tartarus.org";
const REENCRYPT: &str = "reencrypt@putty.projects.tartarus.org";
const REENCRYPT_ALL: &str = "reencrypt-all@putty.projects.tartarus.org";
const ADD_KEY_FILE: &str = "add-key-file@agentry";
const STATUS: &str = "status@agentry";
const CLIENT_IDENTITY: &str = "client-identity@agentry";

/// Every extension name agentry decodes, in the order `query` reports them.
pub const EXTENSION_NAMES: &[&str] = &[
    QUERY,
    SESSION_BIND,
    LIST_EXTENDED,
    ADD_PPK,
    REENCRYPT,
    REENCRYPT_ALL,
    ADD_KEY_FILE,
    CLIENT_IDENTITY,
    STATUS,
];

/// The body of `session-bind@openssh.com`: the host key a connection was made to and its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionBind {
    /// The server's host key blob.
    pub host_key: Vec<u8>,
    /// The exchange hash of the session's initial key exchange.
    pub session_id: Vec<u8>,
    /// The host key's signature over `session_id` (an SSH signature blob).
    pub signature: Vec<u8>,
    /// True when the connection is used to forward the agent, false for user authentication.
    pub is_forwarding: bool,
}

/// A decoded extension request.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extension {
    /// `query`: list the extensions the agent supports.
    Query,
    /// agentry's `status@agentry`: whether the agent is locked and can prompt (answered while
    /// locked too, so a client can say why a request was refused).
    Status,
    /// `session-bind@openssh.com`.
    SessionBind(SessionBind),
    /// PuTTY `list-extended`: identities with per-key flags.
    ListExtended,
    /// PuTTY `add-ppk`: a whole PPK file, possibly encrypted, plus constraints.
    AddPpk {
        /// The PPK file's bytes.
        ppk: Zeroizing<Vec<u8>>,
        /// Constraints, as for `SSH_AGENTC_ADD_ID_CONSTRAINED`.
        constraints: Vec<Constraint>,
    },
    /// PuTTY `reencrypt`: forget the decrypted copy of one key.
    Reencrypt {
        /// The key's public blob.
        key_blob: Vec<u8>,
    },
    /// PuTTY `reencrypt-all`: forget every decrypted copy that can be re-derived.
    ReencryptAll,
    /// agentry's `add-key-file@agentry`: a private-key file in any format agentry reads
    /// (OpenSSH, PPK, PEM), kept encrypted until first use, as `add-ppk` does for PPK files.
    AddKeyFile {
        /// The file's bytes.
        file: Zeroizing<Vec<u8>>,
        /// The public key blob, for files that do not show it while encrypted (else empty).
        public_key: Vec<u8>,
        /// The comment to list the key under (empty: the file's own comment).
        comment: Vec<u8>,
        /// Constraints, as for `SSH_AGENTC_ADD_ID_CONSTRAINED`.
        constraints: Vec<Constraint>,
    },
    /// agentry's `client-identity@agentry`: the client a bridge relays this connection for
    /// (`agentry relay --mux` sends it first on each pipe connection). Shown in prompts as
    /// reported; the agent decides nothing on it.
    ClientIdentity(ReportedClient),
    /// Any other extension; answered with `SSH_AGENT_EXTENSION_FAILURE`.
    Unknown {
        /// The extension's name as sent.
        name: Vec<u8>,
        /// The rest of the message, undecoded.
        contents: Vec<u8>,
    },
}

impl core::fmt::Debug for Extension {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::AddPpk { constraints, .. } => f
                .debug_struct("AddPpk")
                .field("ppk", &"<redacted>")
                .field("constraints", constraints)
                .finish(),
            Self::AddKeyFile {
                public_key,
                comment,
                constraints,
                ..
            } => f
                .debug_struct("AddKeyFile")
                .field("file", &"<redacted>")
                .field("public_key_len", &public_key.len())
                .field("comment", &String::from_utf8_lossy(comment))
                .field("constraints", constraints)
                .finish(),
            Self::Query => f.write_str("Query"),
            Self::Status => f.write_str("Status"),
            Self::ClientIdentity(c) => f.debug_tuple("ClientIdentity").field(c).finish(),
            Self::SessionBind(b) => f.debug_tuple("SessionBind").field(b).finish(),
            Self::ListExtended => f.write_str("ListExtended"),
            Self::Reencrypt { key_blob } => f
                .debug_struct("Reencrypt")
                .field("key_blob_len", &key_blob.len())
                .finish(),
            Self::ReencryptAll => f.write_str("ReencryptAll"),
            Self::Unknown { name, contents } => f
                .debug_struct("Unknown")
                .field("name", &String::from_utf8_lossy(name))
                .field("contents_len", &contents.len())
                .finish(),
        }
    }
}

impl Extension {
    /// The extension's name on the wire.
    pub fn name(&self) -> &[u8] {
        match self {
            Self::Query => QUERY.as_bytes(),
            Self::Status => STATUS.as_bytes(),
            Self::ClientIdentity(_) => CLIENT_IDENTITY.as_bytes(),
            Self::SessionBind(_) => SESSION_BIND.as_bytes(),
            Self::ListExtended => LIST_EXTENDED.as_bytes(),
            Self::AddPpk { .. } => ADD_PPK.as_bytes(),
            Self::Reencrypt { .. } => REENCRYPT.as_bytes(),
            Self::ReencryptAll => REENCRYPT_ALL.as_bytes(),
            Self::AddKeyFile { .. } => ADD_KEY_FILE.as_bytes(),
            Self::Unknown { name, .. } => name,
        }
    }

    /// Decodes the part of an `SSH_AGENTC_EXTENSION` body after the message number.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let name = r.string()?;
        let ext = match core::str::from_utf8(name).unwrap_or("") {
            QUERY => Self::Query,
            STATUS => Self::Status,
            CLIENT_IDENTITY => Self::ClientIdentity(ReportedClient {
                pid: r.u32()?,
                program: identity_field(r, "program name")?,
                distribution: identity_field(r, "distribution name")?,
            }),
            SESSION_BIND => Self::SessionBind(SessionBind {
                host_key: r.string()?.to_vec(),
                session_id: r.string()?.to_vec(),
                signature: r.string()?.to_vec(),
                is_forwarding: r.bool()?,
            }),
            LIST_EXTENDED => Self::ListExtended,
            ADD_PPK => {
                let ppk = Zeroizing::new(r.string()?.to_vec());
                let constraints = Constraint::decode_all(r)?;
                Self::AddPpk { ppk, constraints }
            }
            REENCRYPT => Self::Reencrypt {
                key_blob: r.string()?.to_vec(),
            },
            REENCRYPT_ALL => Self::ReencryptAll,
            ADD_KEY_FILE => Self::AddKeyFile {
                file: Zeroizing::new(r.string()?.to_vec()),
                public_key: r.string()?.to_vec(),
                comment: r.string()?.to_vec(),
                constraints: Constraint::decode_all(r)?,
            },
            _ => Self::Unknown {
                name: name.to_vec(),
                contents: r.take_rest().to_vec(),
            },
        };
        Ok(ext)
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.string(self.name());
        match self {
            Self::Query | Self::Status | Self::ListExtended | Self::ReencryptAll => {}
            Self::ClientIdentity(c) => {
                w.u32(c.pid)
                    .string(clip(&c.program).as_bytes())
                    .string(clip(&c.distribution).as_bytes());
            }
            Self::SessionBind(b) => {
                w.string(&b.host_key)
                    .string(&b.session_id)
                    .string(&b.signature)
                    .bool(b.is_forwarding);
            }
            Self::AddPpk { ppk, constraints } => {
                w.string(ppk);
                constraints.iter().for_each(|c| c.encode(w));
            }
            Self::Reencrypt { key_blob } => {
                w.string(key_blob);
            }
            Self::AddKeyFile {
                file,
                public_key,
                comment,
                constraints,
            } => {
                w.string(file).string(public_key).string(comment);
                constraints.iter().for_each(|c| c.encode(w));
            }
            Self::Unknown { contents, .. } => {
                w.raw(contents);
            }
        }
    }
}
