//! Extension requests: `query`, `session-bind@openssh.com` and PuTTY's family. An unknown
//! extension gets `SSH_AGENT_EXTENSION_FAILURE`; a known one that fails gets it too. Every
//! extension that shows or touches keys sees only those `REQUEST_IDENTITIES` lists on the same
//! connection (destination restrictions), and adds follow the rules of [`super::add`].

use super::{AddError, Agent};
use crate::keys::verify_signature;
use crate::proto::{
    Extension, KeyFlags, ListExtendedReply, ListedKey, QueryReply, ReencryptAllReply, Response,
    SessionBind, StatusReply, EXTENSION_NAMES,
};
use crate::session::{BoundSession, Session, MAX_SESSION_BINDS};

/// Longest session identifier accepted (OpenSSH's `AGENT_MAX_SID_LEN`).
pub(crate) const MAX_SESSION_ID_LEN: usize = 128;

impl Agent {
    /// `status@agentry` ([`StatusReply`]): answered locked or not.
    pub(super) fn status_reply(&self) -> Response {
        StatusReply {
            locked: self.is_locked(),
            can_prompt: self.shared.prompter.is_some(),
        }
        .encode()
    }

    pub(super) fn extension(&self, session: &mut Session, ext: Extension) -> Response {
        match ext {
            Extension::Query => QueryReply {
                names: EXTENSION_NAMES.iter().map(|&n| n.to_owned()).collect(),
            }
            .encode(),
            Extension::Status => self.status_reply(),
            Extension::ClientIdentity(reported) => client_identity(session, reported),
            Extension::SessionBind(bind) => session_bind(session, &bind),
            Extension::ListExtended => ListExtendedReply {
                keys: self
                    .visible_entries(session)
                    .iter()
                    .map(|e| ListedKey {
                        key_blob: e.blob.clone(),
                        comment: e.comment.clone(),
                        flags: KeyFlags::new(
                            e.key.has_encrypted_form(),
                            e.key.signs_without_passphrase(),
                        ),
                    })
                    .collect(),
            }
            .encode(),
            Extension::AddPpk { ppk, constraints } => added(
                self.add_key_file(session, &ppk, &[], &[], constraints, true),
                "add-ppk",
            ),
            Extension::AddKeyFile {
                file,
                public_key,
                comment,
                constraints,
            } => added(
                self.add_key_file(session, &file, &public_key, &comment, constraints, false),
                "add-key-file",
            ),
            Extension::Reencrypt { key_blob } => {
                // PuTTY: an unknown key, or one with no encrypted form, is a failure.
                // A key this connection may not see is treated as unknown.
                match self.keys().get(&key_blob) {
                    Some(entry)
                        if self.permitted(&entry, session).is_ok() && entry.key.reencrypt() =>
                    {
                        self.changed();
                        Response::Success
                    }
                    _ => Response::ExtensionFailure,
                }
            }
            Extension::ReencryptAll => {
                // PuTTY: success with the number of keys left decrypted, unless there are keys
                // and none could be re-encrypted (then nothing changed: failure).
                // Only the keys this connection may see (as REQUEST_IDENTITIES lists them).
                let (mut done, mut failed) = (0u32, 0u32);
                for e in self.visible_entries(session) {
                    if e.key.reencrypt() {
                        self.changed();
                        done += 1;
                    } else {
                        failed += 1;
                    }
                }
                if done == 0 && failed > 0 {
                    Response::ExtensionFailure
                } else {
                    ReencryptAllReply {
                        left_decrypted: failed,
                    }
                    .encode()
                }
            }
            Extension::Unknown { name, .. } => {
                tracing::debug!(target: "agentry::proto", name = %crate::text::untrusted_bytes(&name), "unknown extension");
                Response::ExtensionFailure
            }
        }
    }
}

/// `client-identity@agentry`: kept for prompts when it is the connection's first request (where
/// `agentry relay --mux` sends it), else refused; a forwarded connection's first message is
/// OpenSSH's session-bind, so a host the agent was forwarded to cannot name itself a WSL client.
pub(super) fn client_identity(session: &mut Session, reported: crate::ReportedClient) -> Response {
    if session.report_client(reported) {
        if let Some(reported) = &session.client().reported {
            // Escaped by its Display.
            tracing::debug!(target: "agentry::proto", client = %session.client(), %reported, "client reported by the bridge");
        }
        Response::Success
    } else {
        tracing::info!(target: "agentry::proto", client = %session.client(), "client-identity@agentry refused: not the connection's first request");
        Response::ExtensionFailure
    }
}

fn added(result: Result<(), AddError>, what: &'static str) -> Response {
    match result {
        Ok(()) => Response::Success,
        Err(why) => {
            tracing::info!(target: "agentry::keys", reason = %crate::text::untrusted(&why.to_string()), request = what, "key file not added");
            Response::ExtensionFailure
        }
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
