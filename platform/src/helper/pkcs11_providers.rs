//! PKCS#11 providers for the agent ([`TokenProviders`]): one helper process per provider,
//! keyed by the provider's resolved path. `add` resolves the path, checks the allow-list, starts
//! the helper and has it load the module and list its keys; `remove` stops it. A key's signer
//! names its provider and key, not a process: it signs through whichever helper now serves that
//! provider, so keys still held when a dead helper is restarted (by the next add) sign again.
//! Invariant: the registry lock is held only to look up or swap a helper, never across a round
//! trip; a wrong PIN is answered once (FAILURE, a log line), never retried.

use super::process::{HelperCommand, HelperError, HelperKind, HelperProcess};
use super::provider_path::resolve_allowed;
use agentry_core::agent::BoxFuture;
use agentry_core::keys::SignError;
use agentry_core::proto::{HelperFailure, HelperReply, HelperRequest};
use agentry_core::{
    ExternalKey, ExternalSignRequest, ExternalSigner, LoadedProvider, ProviderAllowList,
    ProviderError, TokenProviders,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long loading a provider may take: C_Initialize, C_Login and listing every token.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one signature may take, the wait for the token's earlier requests included.
pub const SIGN_TIMEOUT: Duration = Duration::from_secs(30);

/// The agent's PKCS#11 providers.
#[derive(Debug)]
pub struct Pkcs11Providers {
    inner: Arc<Registry>,
}

#[derive(Debug)]
struct Registry {
    allowed: ProviderAllowList,
    command: HelperCommand,
    helpers: Mutex<HashMap<String, Arc<HelperProcess>>>,
}

impl Registry {
    fn helpers(&self) -> MutexGuard<'_, HashMap<String, Arc<HelperProcess>>> {
        self.helpers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Pkcs11Providers {
    /// Providers the allow-list permits, each loaded in a helper started with `command`.
    pub fn new(allowed: ProviderAllowList, command: HelperCommand) -> Self {
        Self {
            inner: Arc::new(Registry {
                allowed,
                command,
                helpers: Mutex::default(),
            }),
        }
    }
}

impl TokenProviders for Pkcs11Providers {
    fn add(
        &self,
        provider: &str,
        pin: Zeroizing<Vec<u8>>,
    ) -> BoxFuture<Result<LoadedProvider, ProviderError>> {
        let registry = Arc::clone(&self.inner);
        let provider = provider.to_owned();
        Box::pin(async move { load(registry, &provider, pin).await })
    }

    fn remove(&self, provider: &str) -> BoxFuture<Result<String, ProviderError>> {
        let result = super::provider_path::resolve(provider).and_then(|resolved| {
            match self.inner.helpers().remove(&resolved) {
                Some(helper) => {
                    helper.stop();
                    Ok(resolved)
                }
                None => Err(ProviderError::NotLoaded(resolved)),
            }
        });
        Box::pin(async move { result })
    }
}

async fn load(
    registry: Arc<Registry>,
    provider: &str,
    pin: Zeroizing<Vec<u8>>,
) -> Result<LoadedProvider, ProviderError> {
    let resolved = resolve_allowed(provider, &registry.allowed)?;
    let restarted = match registry.helpers().get(&resolved) {
        Some(helper) if helper.is_alive() => {
            return Err(ProviderError::AlreadyLoaded(resolved));
        }
        Some(_) => true,
        None => false,
    };
    let helper = HelperProcess::start(&registry.command, HelperKind::Pkcs11)
        .map(Arc::new)
        .map_err(|e| ProviderError::Failed(e.to_string()))?;
    let request = HelperRequest::LoadPkcs11 {
        module: resolved.clone(),
        pin,
    };
    let keys = match helper.call(&request, LOAD_TIMEOUT).await {
        Ok(HelperReply::Keys(keys)) => keys,
        Ok(HelperReply::Failure { reason, message }) => {
            helper.stop();
            return Err(match reason {
                HelperFailure::WrongPin => {
                    tracing::warn!(target: "agentry::pkcs11", provider = %resolved, "wrong PIN: the token refused it (not retried; the token counts failed tries)");
                    ProviderError::WrongPin(resolved)
                }
                HelperFailure::PinLocked => {
                    tracing::warn!(target: "agentry::pkcs11", provider = %resolved, "the token's PIN is locked");
                    ProviderError::Failed(format!("{resolved}: the PIN is locked"))
                }
                _ => ProviderError::Failed(format!("{resolved}: {message}")),
            });
        }
        Ok(other) => {
            helper.stop();
            return Err(ProviderError::Failed(format!(
                "{resolved}: unexpected reply {other:?}"
            )));
        }
        Err(e) => return Err(ProviderError::Failed(format!("{resolved}: {e}"))),
    };
    let mut helpers = registry.helpers();
    if helpers.get(&resolved).is_some_and(|h| h.is_alive()) {
        // Another add of the same provider won the race: keep that one.
        helper.stop();
        return Err(ProviderError::AlreadyLoaded(resolved));
    }
    helpers.insert(resolved.clone(), helper);
    drop(helpers);
    tracing::info!(target: "agentry::pkcs11", provider = %resolved, keys = keys.len(), restarted, "PKCS#11 provider loaded");
    let keys = keys
        .into_iter()
        .map(|key| ExternalKey {
            signer: Arc::new(Pkcs11Signer {
                registry: Arc::clone(&registry),
                provider: resolved.clone(),
                key_blob: key.blob.clone(),
            }),
            blob: key.blob,
            comment: key.comment,
        })
        .collect();
    Ok(LoadedProvider {
        provider: resolved,
        keys,
        restarted,
    })
}

/// Signs with one token key through its provider's current helper.
#[derive(Debug)]
struct Pkcs11Signer {
    registry: Arc<Registry>,
    provider: String,
    key_blob: Vec<u8>,
}

impl ExternalSigner for Pkcs11Signer {
    fn sign(&self, request: ExternalSignRequest) -> BoxFuture<Result<Vec<u8>, SignError>> {
        let helper = self.registry.helpers().get(&self.provider).cloned();
        let is_rsa = self.key_blob.get(4..11) == Some(b"ssh-rsa");
        let sha2 = agentry_core::proto::SIGN_FLAG_RSA_SHA2_256
            | agentry_core::proto::SIGN_FLAG_RSA_SHA2_512;
        let refused_sha1 = is_rsa && request.flags & sha2 == 0 && !request.allow_sha1;
        let call = HelperRequest::Sign {
            key_blob: self.key_blob.clone(),
            data: request.data,
            flags: request.flags,
        };
        let provider = self.provider.clone();
        Box::pin(async move {
            if refused_sha1 {
                return Err(SignError::LegacySha1Refused);
            }
            let Some(helper) = helper else {
                tracing::info!(target: "agentry::pkcs11", provider = %provider, "provider not loaded");
                return Err(SignError::Failed);
            };
            match helper.call(&call, SIGN_TIMEOUT).await {
                Ok(HelperReply::Signature(sig)) => Ok(sig),
                Ok(HelperReply::Failure { message, .. }) => {
                    tracing::info!(target: "agentry::pkcs11", provider = %provider, error = %message, "token signature failed");
                    Err(SignError::Failed)
                }
                Ok(_) => Err(SignError::Failed),
                Err(HelperError::Dead) => {
                    tracing::info!(target: "agentry::pkcs11", provider = %provider, "the provider's helper is gone; add the provider again");
                    Err(SignError::Failed)
                }
                Err(e) => {
                    tracing::info!(target: "agentry::pkcs11", provider = %provider, error = %e, "token signature failed");
                    Err(SignError::Failed)
                }
            }
        })
    }
}
