//! A held key's private forms: the cleartext signing key, the encrypted file it came from, or
//! both; or, for a key whose private half is elsewhere (a token), the signer that reaches it. Invariant: an encrypted form is only ever set when the slot is made (from the add that
//! brought the file) or carried over from a slot whose form has been *verified*, that is,
//! decrypted to this very key at least once. A file whose header merely shows the key's public
//! half proves nothing, so an unverified form never survives a later add, and no add ever
//! replaces or attaches an encrypted form to a key already held: a forged file cannot make a
//! held key undecryptable (see docs/security.md, "Adding keys").

use super::external::ExternalSlot;
use crate::keyfile::KeyFile;
use crate::keys::SigningKey;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};

/// A key's signing form and, for keys added from an encrypted file, that file.
#[derive(Debug)]
pub(crate) struct KeySlot {
    clear: Mutex<Option<Arc<SigningKey>>>,
    pub(super) encrypted: Option<Arc<KeyFile>>,
    /// Set for a key held outside the agent; the other forms are then empty.
    pub(super) external: Option<ExternalSlot>,
    /// True once `encrypted` decrypted to this key (its header is then known to be honest).
    verified: AtomicBool,
    /// Serialises passphrase prompts for this key.
    pub(super) gate: tokio::sync::Mutex<()>,
    /// Counts prompt rounds that ended without a key, so waiters learn the outcome.
    pub(super) failed_rounds: AtomicU64,
}

impl KeySlot {
    /// A key usable at once, with no encrypted form.
    pub(crate) fn clear(key: SigningKey) -> Self {
        Self::new(Some(Arc::new(key)), None, false)
    }

    /// A key held only as an encrypted file (not verified until it first decrypts).
    pub(crate) fn encrypted(file: KeyFile) -> Self {
        Self::new(None, Some(Arc::new(file)), false)
    }

    /// A key whose private half is elsewhere, reached through `external`.
    pub(crate) fn external(external: ExternalSlot) -> Self {
        let mut slot = Self::new(None, None, false);
        slot.external = Some(external);
        slot
    }

    /// The signer of a key held outside the agent.
    pub(crate) fn external_form(&self) -> Option<&ExternalSlot> {
        self.external.as_ref()
    }

    /// The cleartext `key` replacing what `old` held for the same public key: `old`'s encrypted
    /// form is kept (so the key stays re-encryptable) only if it was verified.
    pub(crate) fn replacing(key: SigningKey, old: &Self) -> Self {
        let verified = old.is_verified();
        let encrypted = old.encrypted.clone().filter(|_| verified);
        Self::new(Some(Arc::new(key)), encrypted, verified)
    }

    fn new(
        clear: Option<Arc<SigningKey>>,
        encrypted: Option<Arc<KeyFile>>,
        verified: bool,
    ) -> Self {
        Self {
            clear: Mutex::new(clear),
            encrypted,
            external: None,
            verified: AtomicBool::new(verified),
            gate: tokio::sync::Mutex::new(()),
            failed_rounds: AtomicU64::new(0),
        }
    }

    /// The cleartext signing key, if decrypted (or never encrypted).
    pub(crate) fn cleartext(&self) -> Option<Arc<SigningKey>> {
        self.clear_guard().clone()
    }

    /// Stores the key its encrypted form decrypted to, which verifies that form.
    pub(super) fn set_decrypted(&self, key: Arc<SigningKey>) {
        *self.clear_guard() = Some(key);
        self.verified
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// True when a signature needs no passphrase first: the key is decrypted, or held outside
    /// the agent (a token key is never "encrypted" in the agent's sense).
    pub(crate) fn signs_without_passphrase(&self) -> bool {
        self.external.is_some() || self.clear_guard().is_some()
    }

    /// True when the key came from an encrypted file that is still held.
    pub(crate) fn has_encrypted_form(&self) -> bool {
        self.encrypted.is_some()
    }

    /// The digest of the encrypted file this slot holds, if any.
    pub(crate) fn encrypted_digest(&self) -> Option<&[u8; 32]> {
        self.encrypted.as_deref().map(KeyFile::digest)
    }

    fn is_verified(&self) -> bool {
        self.verified.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Drops the cleartext of a key that can be decrypted again; false (and nothing changes)
    /// for a key with no encrypted form.
    pub(crate) fn reencrypt(&self) -> bool {
        if self.encrypted.is_none() {
            return false;
        }
        if self.clear_guard().take().is_some() {
            tracing::info!(target: "agentry::keys", "decrypted copy dropped (re-encrypted)");
        }
        true
    }

    fn clear_guard(&self) -> MutexGuard<'_, Option<Arc<SigningKey>>> {
        self.clear
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
