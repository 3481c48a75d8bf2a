//! `SSH_AGENTC_ADD_SMARTCARD_KEY(_CONSTRAINED)` and `SSH_AGENTC_REMOVE_SMARTCARD_KEY`, as
//! OpenSSH's `process_add_smartcard_key` / `process_remove_smartcard_key` do them: an add from a
//! connection that has bound (or tried to bind) a session is refused (remote addition of
//! providers is disabled); the platform's [`TokenProviders`] resolves the path, checks the
//! allow-list and loads the provider; every key it yields that the agent does not hold yet is
//! added with the request's constraints (and each certificate the `associated-certs` constraint
//! gives for it), listed under the token object's label or else the provider's path; the add
//! succeeds when at least one key was added. A remove drops every key from that provider and
//! unloads it. No lock is held while the provider works.

use super::add::KeyPolicy;
use super::external::{ExternalKey, ExternalSlot, LoadedProvider, ProviderError};
use super::keystore::Entry;
use super::slot::KeySlot;
use super::{AddError, Agent, DeferredPublic};
use crate::proto::{Constraint, Response, SmartcardAdd, SmartcardRemove};
use crate::session::Session;
use std::sync::Arc;
use zeroize::Zeroizing;

impl Agent {
    pub(super) async fn add_smartcard(&self, session: &Session, add: SmartcardAdd) -> Response {
        if is_remote(session) {
            tracing::info!(target: "agentry::pkcs11", provider = %crate::text::untrusted(&add.provider), "PKCS#11 add refused: remote addition of providers is disabled");
            return Response::Failure;
        }
        match self
            .add_provider(&add.provider, add.pin, add.constraints)
            .await
        {
            Ok(_) => Response::Success,
            Err(e) => {
                tracing::info!(target: "agentry::pkcs11", provider = %crate::text::untrusted(&add.provider), error = %e, "PKCS#11 provider not added");
                Response::Failure
            }
        }
    }

    pub(super) async fn remove_smartcard(&self, remove: &SmartcardRemove) -> Response {
        let Some(providers) = self.shared.options.token_providers.clone() else {
            tracing::info!(target: "agentry::pkcs11", "PKCS#11 remove refused: this agent loads no providers");
            return Response::Failure;
        };
        match providers.remove(&remove.provider).await {
            Ok(resolved) => {
                let removed = self.remove_provider_keys(&resolved);
                tracing::info!(target: "agentry::pkcs11", provider = %crate::text::untrusted(&resolved), removed, "PKCS#11 provider removed");
                Response::Success
            }
            Err(ProviderError::NotLoaded(resolved)) => {
                self.remove_provider_keys(&resolved);
                tracing::info!(target: "agentry::pkcs11", provider = %crate::text::untrusted(&resolved), "PKCS#11 remove: provider not loaded");
                Response::Failure
            }
            Err(e) => {
                tracing::info!(target: "agentry::pkcs11", provider = %crate::text::untrusted(&remove.provider), error = %e, "PKCS#11 provider not removed");
                Response::Failure
            }
        }
    }

    /// Loads a PKCS#11 provider and adds its keys (`agentry add --pkcs11` through the protocol,
    /// `[[pkcs11]]` configuration entries directly), with the same rules as
    /// `ADD_SMARTCARD_KEY_CONSTRAINED` on a local connection. Returns how many keys were added.
    pub async fn add_provider(
        &self,
        provider: &str,
        pin: Zeroizing<Vec<u8>>,
        constraints: Vec<Constraint>,
    ) -> Result<usize, AddError> {
        let providers =
            self.shared
                .options
                .token_providers
                .clone()
                .ok_or(AddError::Unsupported(
                    "this agent loads no PKCS#11 providers",
                ))?;
        let (certs, constraints) = split_associated_certs(constraints);
        let policy = self.policy(constraints)?;
        let loaded = providers
            .add(provider, pin)
            .await
            .map_err(AddError::Provider)?;
        let added = self.add_loaded(&loaded, &policy, &certs);
        if added == 0 {
            return Err(AddError::NothingAdded);
        }
        Ok(added)
    }

    /// Adds a key held outside the agent (a FIDO key, whose signer the platform made) with
    /// `constraints`, as a proven add on `session` would: it replaces what is held for the same
    /// blob, if the connection may change that key.
    pub fn add_external_key(
        &self,
        session: &Session,
        key: ExternalKey,
        constraints: Vec<Constraint>,
    ) -> Result<(), AddError> {
        let policy = self.policy(constraints)?;
        let slot = ExternalSlot {
            signer: key.signer,
            pkcs11_provider: None,
            security_key: None,
        };
        let entry = external_entry(key.blob, key.comment, slot, &policy)?;
        let mut keys = self.keys();
        if let Some(held) = keys.get(&entry.blob) {
            self.permitted(&held, session)?;
        }
        self.insert(&mut keys, entry)
    }

    /// Adds what a provider yielded that is not held yet; keys still held from the same
    /// provider count as added when its helper was restarted (they sign again).
    fn add_loaded(&self, loaded: &LoadedProvider, policy: &KeyPolicy, certs: &Certs) -> usize {
        let provider: Arc<str> = Arc::from(loaded.provider.as_str());
        let mut added = 0;
        for key in &loaded.keys {
            let comment = if key.comment.is_empty() {
                loaded.provider.as_bytes().to_vec()
            } else {
                key.comment.clone()
            };
            let mut blobs: Vec<Vec<u8>> = certs
                .certs
                .iter()
                .filter(|cert| certifies(cert, &key.blob))
                .cloned()
                .collect();
            if !certs.certs_only {
                blobs.push(key.blob.clone());
            }
            for blob in blobs {
                let slot = ExternalSlot {
                    signer: Arc::clone(&key.signer),
                    pkcs11_provider: Some(Arc::clone(&provider)),
                    security_key: None,
                };
                let mut keys = self.keys();
                if let Some(held) = keys.get(&blob) {
                    let same_provider = held
                        .key
                        .external_form()
                        .and_then(|e| e.pkcs11_provider.as_deref())
                        == Some(&*provider);
                    if loaded.restarted && same_provider {
                        added += 1;
                    }
                    continue;
                }
                let entry = match external_entry(blob, comment.clone(), slot, policy) {
                    Ok(entry) => entry,
                    Err(e) => {
                        tracing::info!(target: "agentry::pkcs11", error = %e, "token key not added");
                        continue;
                    }
                };
                match self.insert(&mut keys, entry) {
                    Ok(()) => added += 1,
                    Err(e) => {
                        tracing::info!(target: "agentry::pkcs11", error = %e, "token key not added")
                    }
                }
            }
        }
        added
    }

    /// Drops every key that came from `provider` (a resolved path); how many.
    fn remove_provider_keys(&self, provider: &str) -> usize {
        let mut keys = self.keys();
        let doomed: Vec<Vec<u8>> = keys
            .entries()
            .filter(|e| {
                e.key
                    .external_form()
                    .and_then(|x| x.pkcs11_provider.as_deref())
                    == Some(provider)
            })
            .map(|e| e.blob.clone())
            .collect();
        doomed.iter().filter(|blob| keys.remove(blob)).count()
    }
}

/// OpenSSH's `socket_is_remote`: the connection bound a session, or tried to.
pub(super) fn is_remote(session: &Session) -> bool {
    !session.binds().is_empty() || session.bind_failed()
}

/// The `associated-certs` constraint, taken out of the others.
#[derive(Debug, Default)]
struct Certs {
    certs_only: bool,
    certs: Vec<Vec<u8>>,
}

fn split_associated_certs(constraints: Vec<Constraint>) -> (Certs, Vec<Constraint>) {
    let mut certs = Certs::default();
    let rest = constraints
        .into_iter()
        .filter_map(|c| match c {
            Constraint::AssociatedCerts(a) => {
                certs = Certs {
                    certs_only: a.certs_only,
                    certs: a.certs,
                };
                None
            }
            other => Some(other),
        })
        .collect();
    (certs, rest)
}

/// True when `cert` is a certificate for the key `key_blob`.
fn certifies(cert: &[u8], key_blob: &[u8]) -> bool {
    match DeferredPublic::from_blob(cert) {
        Some(DeferredPublic::Certificate(c)) => {
            ssh_encoding::Encode::encode_vec(c.public_key()).is_ok_and(|k| k == key_blob)
        }
        _ => false,
    }
}

/// The keystore entry for an external key listed under `blob` (a key or a certificate).
pub(super) fn external_entry(
    blob: Vec<u8>,
    comment: Vec<u8>,
    slot: ExternalSlot,
    policy: &KeyPolicy,
) -> Result<Entry, AddError> {
    let public = DeferredPublic::from_blob(&blob).ok_or(AddError::MalformedPublicKey)?;
    let algorithm = match &public {
        DeferredPublic::Key(k) => k.algorithm().as_str().to_owned(),
        DeferredPublic::Certificate(c) => c.algorithm().to_certificate_type(),
    };
    Ok(Entry {
        fingerprint: public
            .key()
            .fingerprint(ssh_key::HashAlg::Sha256)
            .to_string(),
        algorithm,
        blob,
        comment,
        key: Arc::new(KeySlot::external(slot)),
        expires: policy.expires,
        confirm: policy.confirm,
        destinations: policy.destinations.clone(),
    })
}
