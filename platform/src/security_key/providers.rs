//! The agent's security-key providers ([`SecurityKeyProviders`]): for each key added, a signer
//! through the provider `ssh-add` named. `internal` is OpenSSH's `ssh-sk-helper` on Unix (found
//! at add time: without it the add is refused, saying so) and `webauthn.dll` on Windows; a
//! library path (Unix only) is resolved and checked against the allow-list at add time and
//! loaded in a helper process (`library_signer`). No signer logs key handles or data.

use crate::helper::HelperCommand;
use agentry_core::agent::BoxFuture;
use agentry_core::keys::{SecurityKey, SignError};
use agentry_core::{
    ExternalSignRequest, ExternalSigner, ProviderAllowList, ProviderError, SecurityKeyProviders,
};
use std::sync::Arc;

/// The agent's security-key providers.
#[derive(Debug)]
pub struct SkProviders {
    #[cfg(unix)]
    libraries: Arc<super::library_signer::Libraries>,
}

impl SkProviders {
    /// Providers: `internal`, and libraries the allow-list permits, each loaded in a helper
    /// started with `command`.
    pub fn new(allowed: ProviderAllowList, command: HelperCommand) -> Self {
        #[cfg(not(unix))]
        let _ = (allowed, command);
        Self {
            #[cfg(unix)]
            libraries: Arc::new(super::library_signer::Libraries::new(allowed, command)),
        }
    }
}

impl SecurityKeyProviders for SkProviders {
    fn signer(
        &self,
        provider: &str,
        key: &SecurityKey,
    ) -> Result<Arc<dyn ExternalSigner>, ProviderError> {
        if provider.eq_ignore_ascii_case(agentry_core::agent::INTERNAL_PROVIDER) {
            return internal_signer(key);
        }
        #[cfg(unix)]
        return super::library_signer::signer(&self.libraries, provider, key);
        #[cfg(not(unix))]
        library_signer(provider, key)
    }
}

#[cfg(not(unix))]
fn library_signer(
    _provider: &str,
    _key: &SecurityKey,
) -> Result<Arc<dyn ExternalSigner>, ProviderError> {
    Err(ProviderError::Failed(
        "security key libraries are not loaded on Windows: add the key with the internal \
         provider (webauthn.dll)"
            .into(),
    ))
}

#[cfg(unix)]
fn internal_signer(key: &SecurityKey) -> Result<Arc<dyn ExternalSigner>, ProviderError> {
    let helper = super::openssh_helper::OpensshSkHelper::find()
        .map_err(|e| ProviderError::Failed(e.to_string()))?;
    Ok(Arc::new(OpensshHelperSigner {
        helper,
        key: key.clone(),
    }))
}

#[cfg(windows)]
fn internal_signer(key: &SecurityKey) -> Result<Arc<dyn ExternalSigner>, ProviderError> {
    Ok(Arc::new(WebAuthnSigner { key: key.clone() }))
}

/// Signs through OpenSSH's `ssh-sk-helper`, one run per signature.
#[cfg(unix)]
#[derive(Debug)]
struct OpensshHelperSigner {
    helper: super::openssh_helper::OpensshSkHelper,
    key: SecurityKey,
}

#[cfg(unix)]
impl ExternalSigner for OpensshHelperSigner {
    fn sign(&self, request: ExternalSignRequest) -> BoxFuture<Result<Vec<u8>, SignError>> {
        let helper = self.helper.clone();
        let key = self.key.clone();
        Box::pin(async move {
            helper
                .sign(&key, agentry_core::agent::INTERNAL_PROVIDER, &request.data, None)
                .await
                .map_err(|e| {
                    tracing::info!(target: "agentry::sk", helper = %helper.path().display(), error = %e, "security key signature failed");
                    SignError::Failed
                })
        })
    }
}

/// Signs through Windows' `webauthn.dll`, on a blocking thread (it waits for the user).
#[cfg(windows)]
#[derive(Debug)]
struct WebAuthnSigner {
    key: SecurityKey,
}

#[cfg(windows)]
impl ExternalSigner for WebAuthnSigner {
    fn sign(&self, request: ExternalSignRequest) -> BoxFuture<Result<Vec<u8>, SignError>> {
        let key = self.key.clone();
        Box::pin(async move {
            let alg = key.algorithm();
            // The tray shows the wait for a touch as it shows a waiting prompt.
            let _notice = key.needs_touch().then(|| {
                let fingerprint = key.fingerprint();
                crate::windows::prompt::waiting::prompt_waiting(format!(
                    "touch the security key ({fingerprint})"
                ))
            });
            let assertion = tokio::task::spawn_blocking(move || {
                super::webauthn::get_assertion(&key, &request.data)
            })
            .await
            .map_err(|_| SignError::Failed)?;
            match assertion {
                Ok(a) => a.ssh_signature(alg),
                Err(e) => {
                    tracing::info!(target: "agentry::sk", error = %e, "webauthn.dll gave no signature");
                    Err(SignError::Failed)
                }
            }
        })
    }
}
