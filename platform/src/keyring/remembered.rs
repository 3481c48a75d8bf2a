//! Passphrases remembered in the OS keyring (`agentry add --encrypted --remember`) answer the
//! first passphrase prompt for a key held encrypted, so it decrypts on first use without asking.
//! [`RememberedPassphrases`] wraps the prompter the agent would use anyway: confirmations go
//! straight to it, and so does every passphrase question the keyring cannot answer (nothing
//! remembered, keyring unreachable, or a remembered passphrase that turned out wrong).

use super::KeyringStore;
use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PromptFuture, Prompter};
use std::sync::Arc;
use zeroize::Zeroizing;

/// A prompter that asks the keyring before it asks the user.
pub struct RememberedPassphrases {
    inner: Arc<dyn Prompter>,
    store: Arc<dyn Fn() -> KeyringStore + Send + Sync>,
}

impl core::fmt::Debug for RememberedPassphrases {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RememberedPassphrases")
            .finish_non_exhaustive()
    }
}

impl RememberedPassphrases {
    /// Looks in the OS keyring first, then asks `inner`.
    pub fn new(inner: Arc<dyn Prompter>) -> Self {
        Self::with_store(inner, KeyringStore::os)
    }

    /// Looks in the store `open` makes (tests give a memory store), then asks `inner`.
    pub fn with_store(
        inner: Arc<dyn Prompter>,
        open: impl Fn() -> KeyringStore + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            store: Arc::new(open),
        }
    }
}

impl Prompter for RememberedPassphrases {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        self.inner.confirm(request)
    }

    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        let (inner, open) = (Arc::clone(&self.inner), Arc::clone(&self.store));
        Box::pin(async move {
            if request.attempt == 1 {
                let fingerprint = request.fingerprint.clone();
                let recalled =
                    tokio::task::spawn_blocking(move || open().recall_passphrase(&fingerprint))
                        .await;
                match recalled {
                    Ok(Ok(Some(passphrase))) => {
                        tracing::info!(target: "agentry::prompt", fingerprint = %request.fingerprint, "passphrase taken from the keyring");
                        return Some(passphrase);
                    }
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => {
                        tracing::info!(target: "agentry::prompt", error = %e, "keyring not consulted")
                    }
                    Err(_) => {}
                }
            }
            inner.passphrase(request).await
        })
    }
}
