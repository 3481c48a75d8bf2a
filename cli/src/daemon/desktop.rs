//! The daemon's side of the Windows tray and key list ([`agentry_platform::windows::desktop`]):
//! [`AgentDesktop`] answers what they show and does what they ask. Every change goes through
//! core's request path (`Agent::handle` with the request a client would send, on a session of
//! its own named `tray`), so the lock, the add policy and the limits apply as to any client;
//! only the key count, lock state and per-key constraints shown are read directly.

use crate::key_bundle::{add_clear_request, add_encrypted_request, AddsKeys, Form, KeyBundle};
use crate::private_files::{self, HeldFile};
use crate::public_files::{self, FingerprintHash};
use agentry_core::keyfile::{KdfLimits, KeyFileError};
use agentry_core::keys::PrivateKey;
use agentry_core::proto::{
    Constraint, Extension, ListExtendedReply, ReencryptAllReply, Request, Response,
};
use agentry_core::{Agent, ClientInfo, DeferredPublic, KeyInfo, Session};
use agentry_platform::windows::desktop::{
    dialogs, Action, Desktop, FingerprintKind, KeyRow, TrayState,
};
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// How many passphrases Add Key asks for an encrypted file before giving up.
const TRIES: usize = 3;

/// The agent as the tray sees it.
pub(super) struct AgentDesktop {
    pub(super) agent: Agent,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) stop: tokio::sync::watch::Sender<bool>,
    pub(super) config: Option<PathBuf>,
    pub(super) pipe: String,
}

impl AgentDesktop {
    /// Sends `request` through core, as a client on its own connection would.
    fn request(&self, request: Request) -> Response {
        let mut session = Session::new(ClientInfo {
            pid: Some(std::process::id()),
            exe: std::env::current_exe()
                .ok()
                .map(|p| p.display().to_string()),
            transport: "tray".to_owned(),
            ..ClientInfo::default()
        });
        self.runtime
            .block_on(self.agent.handle(&mut session, request))
    }

    fn refused(&self, what: &str) -> String {
        if self.agent.is_locked() {
            format!("{what}: the agent is locked")
        } else {
            format!("{what}: the agent refused it")
        }
    }

    fn add_file(&self, path: &Path, encrypted: bool) -> Result<(), String> {
        let name = path.display().to_string();
        let bundle = if encrypted {
            let held = private_files::read_held(path)?;
            if held.file.is_encrypted() {
                KeyBundle {
                    certificate: held.certificate(path)?,
                    comment: held.comment.clone().into_bytes(),
                    form: Form::Encrypted(Box::new(held)),
                }
            } else {
                self.clear_bundle(path, &name)?
            }
        } else {
            self.clear_bundle(path, &name)?
        };
        bundle
            .add_to(&mut InProcess(self), &[], |_| {})
            .map_err(|(_, e)| e)
    }

    /// Reads `path`, asking its passphrase with the dialog if it is encrypted.
    fn clear_bundle(&self, path: &Path, name: &str) -> Result<KeyBundle, String> {
        let file = private_files::open(path)?;
        let limits = KdfLimits::default();
        let mut decrypted = file.decrypt(b"", &limits);
        let mut tries = 0;
        while matches!(decrypted, Err(KeyFileError::WrongPassphrase)) && tries < TRIES {
            let text = if tries == 0 {
                format!("Passphrase for {name}:")
            } else {
                format!("Wrong passphrase. Passphrase for {name}:")
            };
            let Some(passphrase) = dialogs::ask_passphrase(&passphrase_dialog(path), &text) else {
                return Err(format!("{name}: no passphrase given; the key is encrypted"));
            };
            decrypted = file.decrypt(passphrase.as_bytes(), &limits);
            tries += 1;
        }
        let (key, comment) = decrypted.map_err(|e| private_files::describe(name, e))?;
        Ok(KeyBundle {
            form: Form::Clear(key),
            comment: if comment.is_empty() {
                name.into()
            } else {
                comment
            }
            .into_bytes(),
            certificate: public_files::read_certificate_for(path),
        })
    }

    fn simple(&self, request: Request, what: &str) -> Result<Option<String>, String> {
        match self.request(request) {
            Response::Success => Ok(None),
            _ => Err(self.refused(what)),
        }
    }

    fn row(
        &self,
        key: &agentry_core::proto::ListedKey,
        info: Option<&KeyInfo>,
        hash: FingerprintHash,
    ) -> KeyRow {
        let blob = &key.key_blob;
        let subject = public_files::subject_key(blob);
        let algorithm = agentry_core::wire::Reader::new(blob)
            .utf8("key type")
            .unwrap_or("?")
            .to_owned();
        let bits = subject
            .as_ref()
            .and_then(|(k, _)| public_files::size_and_label(k))
            .map_or_else(String::new, |(bits, _)| bits.to_string());
        let mut state = Vec::new();
        if !key.flags.decrypted() {
            state.push("encrypted".to_owned());
        } else if key.flags.has_encrypted_form() {
            state.push("decrypted".to_owned());
        }
        if let Some(info) = info {
            if info.confirm {
                state.push("confirm".to_owned());
            }
            if !info.destinations.is_empty() {
                state.push("restricted".to_owned());
            }
            if let Some(left) = info.expires_in {
                state.push(format!("expires in {}", short_duration(left)));
            }
        }
        KeyRow {
            key_blob: blob.clone(),
            algorithm,
            bits,
            fingerprint: public_files::fingerprint(blob, hash).unwrap_or_default(),
            comment: agentry_core::text::untrusted_bytes(&key.comment),
            state: state.join(", "),
        }
    }
}

/// The caption word of Add Key's passphrase dialog for `path` (tests answer it by this).
pub(crate) fn passphrase_dialog(path: &Path) -> String {
    let name = path.file_name().unwrap_or(path.as_os_str());
    format!("passphrase for {}", name.to_string_lossy())
}

/// `1h 5m`, `5m 3s`, `42s`.
fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

impl Desktop for AgentDesktop {
    fn state(&self) -> TrayState {
        TrayState {
            keys: self.agent.key_count(),
            locked: self.agent.is_locked(),
        }
    }

    fn rows(&self, kind: FingerprintKind) -> Vec<KeyRow> {
        let hash = match kind {
            FingerprintKind::Sha256 => FingerprintHash::Sha256,
            FingerprintKind::Md5 => FingerprintHash::Md5,
        };
        let reply = self.request(Request::Extension(Extension::ListExtended));
        let Ok(listed) = ListExtendedReply::decode(&reply) else {
            return Vec::new();
        };
        let infos = self.agent.key_infos();
        listed
            .keys
            .iter()
            .enumerate()
            .map(|(n, key)| {
                let sha256 = public_files::fingerprint(&key.key_blob, FingerprintHash::Sha256);
                // Both lists are in the agent's order; a change between the two reads is
                // caught by the fingerprint check.
                let info = infos
                    .get(n)
                    .filter(|i| Some(&i.fingerprint) == sha256.as_ref())
                    .or_else(|| {
                        infos
                            .iter()
                            .find(|i| Some(&i.fingerprint) == sha256.as_ref())
                    });
                self.row(key, info, hash)
            })
            .collect()
    }

    fn keyring_names(&self) -> Vec<String> {
        agentry_platform::keyring::KeyringStore::os()
            .names()
            .unwrap_or_default()
    }

    fn perform(&self, action: Action) -> Result<Option<String>, String> {
        match action {
            Action::AddFile { path, encrypted } => self.add_file(&path, encrypted).map(|()| None),
            Action::AddFromKeyring(name) => {
                let (key, comment) = crate::keyring_commands::load(&name)
                    .map_err(|e| format!("{name}: {}", e.message().unwrap_or("cannot load it")))?;
                self.simple(
                    add_clear_request(key, comment.as_bytes(), &[]),
                    &format!("keyring key {name}"),
                )
            }
            Action::Remove(key_blob) => {
                self.simple(Request::RemoveIdentity { key_blob }, "removing the key")
            }
            Action::RemoveAll => self.simple(Request::RemoveAllIdentities, "removing all keys"),
            Action::Reencrypt(key_blob) => {
                match self.request(Request::Extension(Extension::Reencrypt { key_blob })) {
                    Response::Success => Ok(None),
                    _ if self.agent.is_locked() => Err(self.refused("re-encrypting")),
                    _ => Err(
                        "this key has no encrypted form to return to (it was added decrypted)"
                            .into(),
                    ),
                }
            }
            Action::ReencryptAll => {
                let reply = self.request(Request::Extension(Extension::ReencryptAll));
                match ReencryptAllReply::decode(&reply) {
                    Ok(ReencryptAllReply { left_decrypted: 0 }) => Ok(None),
                    Ok(ReencryptAllReply { left_decrypted }) => Ok(Some(format!(
                        "{left_decrypted} key(s) were added decrypted and have no encrypted form: they stay as they are"
                    ))),
                    Err(_) => Err(self.refused("no key could be re-encrypted")),
                }
            }
            Action::Lock(passphrase) => self.simple(
                Request::Lock {
                    passphrase: Zeroizing::new(passphrase.as_bytes().to_vec()),
                },
                "locking",
            ),
            Action::Unlock(passphrase) => {
                let unlock = Request::Unlock {
                    passphrase: Zeroizing::new(passphrase.as_bytes().to_vec()),
                };
                match self.request(unlock) {
                    Response::Success => Ok(None),
                    _ => Err("wrong passphrase: the agent stays locked".into()),
                }
            }
            Action::OpenConfig => open_config(self.config.clone()).map(|()| None),
            Action::Exit => {
                tracing::info!("Exit chosen in the tray menu: shutting down");
                let _ = self.stop.send(true);
                Ok(None)
            }
        }
    }

    fn on_change(&self, notify: Box<dyn Fn() + Send + Sync>) {
        let mut changes = self.agent.changes();
        self.runtime.spawn(async move {
            while changes.changed().await.is_ok() {
                notify();
            }
        });
    }

    fn about(&self) -> String {
        format!(
            "agentry {}\nAn SSH agent for OpenSSH and PuTTY.\n\nServing {}\nProcess {}",
            env!("CARGO_PKG_VERSION"),
            self.pipe,
            std::process::id()
        )
    }
}

/// Opens the configuration file in Notepad, creating an empty one if there is none yet.
fn open_config(path: Option<PathBuf>) -> Result<(), String> {
    let path = match path {
        Some(path) => path,
        None => {
            crate::config::locate(None)
                .map_err(|e| e.message().unwrap_or("no configuration path").to_owned())?
                .0
        }
    };
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&path, "# agentry configuration (see docs/config.md)\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    std::process::Command::new("notepad.exe")
        .arg(&path)
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start Notepad for {}: {e}", path.display()))
}

/// The in-process agent, through [`AgentDesktop::request`].
struct InProcess<'a>(&'a AgentDesktop);

impl AddsKeys for InProcess<'_> {
    type Error = String;

    fn add_clear(
        &mut self,
        key: PrivateKey,
        comment: &[u8],
        constraints: &[Constraint],
    ) -> Result<(), String> {
        self.0
            .simple(
                add_clear_request(key, comment, constraints),
                "adding the key",
            )
            .map(drop)
    }

    fn add_encrypted(
        &mut self,
        held: &HeldFile,
        listed_as: Option<DeferredPublic>,
        comment: &[u8],
        constraints: &[Constraint],
    ) -> Result<(), String> {
        let request = add_encrypted_request(held, listed_as.as_ref(), comment, constraints)?;
        self.0.simple(request, "adding the encrypted key").map(drop)
    }

    fn certificate_error(path: &Path, why: String) -> String {
        format!("{}: {why}", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(Duration::from_secs(42)), "42s");
        assert_eq!(short_duration(Duration::from_secs(303)), "5m 3s");
        assert_eq!(short_duration(Duration::from_secs(3900)), "1h 5m");
    }
}
