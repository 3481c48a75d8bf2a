//! Extension requests: `query`, `session-bind@openssh.com` and PuTTY's family. An unknown
//! extension gets `SSH_AGENT_EXTENSION_FAILURE`; a known one that fails gets it too.

use super::Agent;
use crate::keyfile::{KdfLimits, KeyFile, KeyFormat};
use crate::keys::verify_signature;
use crate::proto::{Constraint, Extension, Response, SessionBind, EXTENSION_NAMES};
use crate::session::{BoundSession, Session, MAX_SESSION_BINDS};
use crate::wire::Writer;

/// Longest session identifier accepted (OpenSSH's `AGENT_MAX_SID_LEN`).
pub(crate) const MAX_SESSION_ID_LEN: usize = 128;

impl Agent {
    pub(super) fn extension(&self, session: &mut Session, ext: Extension) -> Response {
        match ext {
            Extension::Query => {
                let mut w = Writer::new();
                w.string(b"query");
                for name in EXTENSION_NAMES {
                    w.string(name.as_bytes());
                }
                Response::ExtensionResponse(w.into_bytes())
            }
            Extension::SessionBind(bind) => session_bind(session, &bind),
            Extension::ListExtended => {
                let keys = self.keys();
                let mut w = Writer::new();
                w.u32(u32::try_from(keys.len()).unwrap_or(u32::MAX));
                for e in keys.entries() {
                    // No key is held encrypted yet: no "encrypted file" (1) or "no cleartext" (2).
                    let flags = 0u32;
                    w.string(&e.blob).string(&e.comment).nested(|p| {
                        p.u32(flags);
                    });
                }
                Response::SuccessWith(w.into_bytes())
            }
            Extension::AddPpk { ppk, constraints } => match self.add_ppk(&ppk, constraints) {
                Ok(()) => Response::Success,
                Err(why) => {
                    tracing::info!(target: "agentry::keys", reason = %why, "add-ppk refused");
                    Response::ExtensionFailure
                }
            },
            Extension::Reencrypt { .. } => {
                // No key is held in encrypted form yet, so none can be re-encrypted; PuTTY answers
                // a key without an encrypted form (or an unknown key) with an extension failure.
                Response::ExtensionFailure
            }
            Extension::ReencryptAll => {
                let keys = self.keys();
                let failures = u32::try_from(keys.len()).unwrap_or(u32::MAX);
                if failures > 0 {
                    Response::ExtensionFailure
                } else {
                    let mut w = Writer::new();
                    w.u32(0);
                    Response::SuccessWith(w.into_bytes())
                }
            }
            Extension::Unknown { name, .. } => {
                tracing::debug!(target: "agentry::proto", name = %String::from_utf8_lossy(&name), "unknown extension");
                Response::ExtensionFailure
            }
        }
    }
}

impl Agent {
    /// PuTTY's `add-ppk`: a whole PPK file (v2 or v3), read by [`KeyFile`]. Unencrypted files
    /// are added at once; encrypted ones need deferred decryption, which is not implemented yet.
    fn add_ppk(&self, ppk: &[u8], constraints: Vec<Constraint>) -> Result<(), String> {
        let file = KeyFile::parse(ppk).map_err(|e| format!("PPK file not readable: {e}"))?;
        if file.format() != KeyFormat::Ppk {
            return Err("add-ppk was given a key file that is not PPK".into());
        }
        if file.is_encrypted() {
            return Err("encrypted PPK files need deferred decryption (not supported yet)".into());
        }
        // Unencrypted: no key derivation runs, so the limits do not matter.
        let (private, comment) = file
            .decrypt(b"", &KdfLimits::default())
            .map_err(|e| format!("PPK file not readable: {e}"))?;
        self.add_key(private, comment.into_bytes(), constraints)
            .map_err(|e| e.to_string())
    }
}

/// `session-bind@openssh.com`, with OpenSSH's rules: the host key's signature over the session
/// id must verify; nothing may be bound after a bind for authentication; the same session id
/// may not be bound to another host key; at most [`MAX_SESSION_BINDS`] binds.
pub(super) fn session_bind(session: &mut Session, bind: &SessionBind) -> Response {
    match check_bind(session, bind) {
        Ok(Some(record)) => {
            session.push_bind(record);
            Response::Success
        }
        Ok(None) => Response::Success,
        Err(why) => {
            tracing::info!(target: "agentry::bind", reason = why, "session-bind refused");
            session.mark_bind_failed();
            Response::ExtensionFailure
        }
    }
}

fn check_bind(session: &Session, bind: &SessionBind) -> Result<Option<BoundSession>, &'static str> {
    if bind.session_id.is_empty() || bind.session_id.len() > MAX_SESSION_ID_LEN {
        return Err("session identifier length out of range");
    }
    if !verify_signature(&bind.host_key, &bind.session_id, &bind.signature) {
        return Err("host key signature does not verify");
    }
    for existing in session.binds() {
        if !existing.is_forwarding {
            return Err("connection already bound for authentication");
        }
        if existing.session_id == bind.session_id {
            return if existing.host_key == bind.host_key {
                Ok(None)
            } else {
                Err("session identifier already bound to another host key")
            };
        }
    }
    if session.binds().len() >= MAX_SESSION_BINDS {
        return Err("too many session binds on one connection");
    }
    Ok(Some(BoundSession::from(bind)))
}
