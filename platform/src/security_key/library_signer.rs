//! Security-key middleware libraries for the agent (Unix): one helper process per library
//! (`agentry helper sk`), keyed by the library's resolved path, started at the first signature
//! and started again at the next one if it died. Invariant: the registry lock is held only to
//! look up or swap a helper, never across a signature; a library outside the allow-list never
//! reaches a helper.

use crate::helper::{HelperCommand, HelperError, HelperKind, HelperProcess};
use agentry_core::agent::BoxFuture;
use agentry_core::keys::{SecurityKey, SignError};
use agentry_core::proto::{HelperFailure, HelperReply, HelperRequest};
use agentry_core::{ExternalSignRequest, ExternalSigner, ProviderAllowList, ProviderError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long one signature through a library's helper may take, the user's touch and the wait
/// for that library's earlier signatures included.
pub const SK_SIGN_TIMEOUT: Duration = Duration::from_secs(120);

/// The libraries the agent may load, and their helpers.
#[derive(Debug)]
pub(super) struct Libraries {
    allowed: ProviderAllowList,
    command: HelperCommand,
    helpers: Mutex<HashMap<String, Arc<HelperProcess>>>,
}

impl Libraries {
    pub(super) fn new(allowed: ProviderAllowList, command: HelperCommand) -> Self {
        Self {
            allowed,
            command,
            helpers: Mutex::default(),
        }
    }

    fn helpers(&self) -> MutexGuard<'_, HashMap<String, Arc<HelperProcess>>> {
        self.helpers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The live helper for `library`, started (again) if there is none.
    fn helper_for(&self, library: &str) -> Result<Arc<HelperProcess>, HelperError> {
        let mut helpers = self.helpers();
        if let Some(helper) = helpers.get(library).filter(|h| h.is_alive()) {
            return Ok(Arc::clone(helper));
        }
        let helper = Arc::new(HelperProcess::start(&self.command, HelperKind::Sk)?);
        helpers.insert(library.to_owned(), Arc::clone(&helper));
        Ok(helper)
    }
}

/// A signer for `key` through the library `provider` names, once its resolved path passes the
/// allow-list.
pub(super) fn signer(
    libraries: &Arc<Libraries>,
    provider: &str,
    key: &SecurityKey,
) -> Result<Arc<dyn ExternalSigner>, ProviderError> {
    let library = crate::helper::provider_path::resolve_allowed(provider, &libraries.allowed)?;
    Ok(Arc::new(LibrarySigner {
        libraries: Arc::clone(libraries),
        library,
        key: key.clone(),
    }))
}

/// Signs through a middleware library loaded in a helper process.
#[derive(Debug)]
struct LibrarySigner {
    libraries: Arc<Libraries>,
    library: String,
    key: SecurityKey,
}

impl ExternalSigner for LibrarySigner {
    fn sign(&self, request: ExternalSignRequest) -> BoxFuture<Result<Vec<u8>, SignError>> {
        let helper = self.libraries.helper_for(&self.library);
        let call = HelperRequest::SkSign {
            library: self.library.clone(),
            key: self.key.private_blob(),
            data: request.data,
            pin: Zeroizing::new(Vec::new()),
        };
        let library = self.library.clone();
        Box::pin(async move {
            let helper = helper.map_err(|e| {
                tracing::info!(target: "agentry::sk", provider = %library, error = %e, "security key helper not started");
                SignError::Failed
            })?;
            match helper.call(&call, SK_SIGN_TIMEOUT).await {
                Ok(HelperReply::Signature(sig)) => Ok(sig),
                Ok(HelperReply::Failure { reason, message }) => {
                    log_failure(&library, reason, &message);
                    Err(SignError::Failed)
                }
                Ok(_) => Err(SignError::Failed),
                Err(e) => {
                    tracing::info!(target: "agentry::sk", provider = %library, error = %e, "security key signature failed; the next one starts a new helper");
                    Err(SignError::Failed)
                }
            }
        })
    }
}

fn log_failure(provider: &str, reason: HelperFailure, message: &str) {
    match reason {
        HelperFailure::WrongPin => {
            tracing::info!(target: "agentry::sk", provider = %provider, "the security key needs its PIN (a verify-required key); agentry does not ask for FIDO PINs")
        }
        HelperFailure::TokenAbsent => {
            tracing::info!(target: "agentry::sk", provider = %provider, "no security key holding this key is attached")
        }
        _ => {
            tracing::info!(target: "agentry::sk", provider = %provider, error = %message, "security key signature failed")
        }
    }
}
