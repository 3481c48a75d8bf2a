//! Keys held encrypted until first use (Pageant's `--encrypted`, deferred decryption). A
//! [`KeySlot`](super::slot::KeySlot) owns a key's cleartext signing form, its encrypted file, or both. The first
//! signature with a key that has no cleartext asks the user for the passphrase (up to
//! [`PASSPHRASE_TRIES`] times) through the [`Prompter`]; further requests for the same key wait
//! for that prompt instead of opening another, and share its outcome. Other keys and other
//! connections are never held up: the wait is per key and holds no agent-wide lock.

use super::keystore::Entry;
use super::Agent;
use crate::keyfile::{KdfLimits, KeyFile, KeyFileError};
use crate::keys::SigningKey;
use crate::prompt::{PassphraseRequest, PathHop, PASSPHRASE_TRIES};
use crate::session::Session;
use ssh_key::public::KeyData;
use ssh_key::Certificate;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What a key held encrypted is listed under until it is decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeferredPublic {
    /// The key itself.
    Key(KeyData),
    /// A certificate for the file's key (OpenSSH's `-cert.pub` next to the key file).
    Certificate(Box<Certificate>),
}

impl DeferredPublic {
    /// Reads a public key or certificate blob (wire encoding, as `ssh-add -L` shows in base64);
    /// `None` if it is malformed or followed by anything.
    pub fn from_blob(blob: &[u8]) -> Option<Self> {
        fn whole<T: ssh_encoding::Decode>(blob: &[u8]) -> Option<T> {
            let mut rest = blob;
            let value = T::decode(&mut rest).ok()?;
            rest.is_empty().then_some(value)
        }
        if crate::keys::is_certificate_blob(blob) {
            return whole(blob).map(|cert| Self::Certificate(Box::new(cert)));
        }
        whole(blob).map(Self::Key)
    }

    /// The key: the certified one for a certificate.
    pub fn key(&self) -> &KeyData {
        match self {
            Self::Key(key) => key,
            Self::Certificate(cert) => cert.public_key(),
        }
    }
}

impl Agent {
    /// The key to sign with: the cleartext, or the key decrypted now with a passphrase from
    /// the user. `None` when the user cancelled, the tries ran out or no prompter is set.
    pub(super) async fn signing_key(
        &self,
        session: &Session,
        entry: &Entry,
    ) -> Option<Arc<SigningKey>> {
        let slot = &entry.key;
        if let Some(key) = slot.cleartext() {
            return Some(key);
        }
        let file = slot.encrypted.clone()?;
        let rounds_before = slot.failed_rounds.load(Ordering::Acquire);
        let _gate = slot.gate.lock().await;
        if let Some(key) = slot.cleartext() {
            return Some(key);
        }
        if slot.failed_rounds.load(Ordering::Acquire) != rounds_before {
            // The prompt this request waited for was refused: share that outcome.
            return None;
        }
        let key = self.ask_and_decrypt(session, entry, &file).await;
        match &key {
            Some(k) => {
                slot.set_decrypted(Arc::clone(k));
                self.changed();
            }
            None => {
                slot.failed_rounds.fetch_add(1, Ordering::AcqRel);
            }
        }
        key
    }

    async fn ask_and_decrypt(
        &self,
        session: &Session,
        entry: &Entry,
        file: &Arc<KeyFile>,
    ) -> Option<Arc<SigningKey>> {
        let prompter = self.shared.prompter.as_ref()?;
        let timeout = self.shared.options.confirm_policy.timeout;
        for attempt in 1..=PASSPHRASE_TRIES {
            let request = PassphraseRequest {
                comment: String::from_utf8_lossy(&entry.comment).into_owned(),
                fingerprint: entry.fingerprint.clone(),
                algorithm: entry.algorithm.clone(),
                client: session.client().clone(),
                attempt,
                forwarding_path: PathHop::path_of(session, &[]),
                forwarded: session.is_forwarded(),
            };
            let Ok(Some(passphrase)) =
                tokio::time::timeout(timeout, prompter.passphrase(request)).await
            else {
                tracing::info!(target: "agentry::keys", fingerprint = %entry.fingerprint, "passphrase prompt cancelled or timed out");
                return None;
            };
            let file = Arc::clone(file);
            let decrypted = tokio::task::spawn_blocking(move || {
                let (key, _comment) = file.decrypt(passphrase.as_bytes(), &KdfLimits::default())?;
                Ok::<_, KeyFileError>(key)
            })
            .await
            .unwrap_or(Err(KeyFileError::Malformed("decryption task failed")));
            match decrypted {
                Ok(key) if key.fingerprint() == entry.fingerprint => {
                    return match SigningKey::new(&key) {
                        Ok(signing) => {
                            tracing::info!(target: "agentry::keys", fingerprint = %entry.fingerprint, "key decrypted on first use");
                            Some(Arc::new(signing))
                        }
                        Err(e) => {
                            tracing::warn!(target: "agentry::keys", fingerprint = %entry.fingerprint, error = %e, "decrypted key cannot sign");
                            None
                        }
                    };
                }
                Ok(_) => {
                    tracing::warn!(target: "agentry::keys", fingerprint = %entry.fingerprint, "decrypted key does not match the listed public key");
                    return None;
                }
                Err(KeyFileError::WrongPassphrase) => {
                    tracing::info!(target: "agentry::keys", fingerprint = %entry.fingerprint, attempt, "wrong passphrase");
                }
                Err(e) => {
                    tracing::warn!(target: "agentry::keys", fingerprint = %entry.fingerprint, error = %e, "key file cannot be decrypted");
                    return None;
                }
            }
        }
        None
    }
}
