//! Signing: the path every `SSH_AGENTC_SIGN_REQUEST` takes once the key is found. In order:
//! destination restrictions (OpenSSH's `process_sign_request2` checks), confirmation (the key's
//! `-c`, or `--confirm-all` as the policy says; remembered answers; a timeout is a "no"),
//! deferred decryption, then the signature itself (cheap ones inline, slow ones through the
//! signing pool; a key held outside the agent through its [`ExternalSigner`], whose signature
//! is checked against the key before it is sent; a security key only once its web-origin check
//! passed and its touch was announced, so a confirmation always comes before the touch). No lock is held across a prompt or a
//! signature.

use super::destination;
use super::external::{ExternalSignRequest, ExternalSigner};
use super::keystore::Entry;
use super::signing_pool::{self, ThreadStarter};
use super::{consent, security_key, Agent};
use crate::keys::{SignError, SigningKey};
use crate::prompt::{ConfirmRequest, PathHop};
use crate::proto::{Response, SignRequestRef};
use crate::session::Session;
use std::sync::Arc;

impl Agent {
    pub(super) async fn sign(&self, session: &Session, req: SignRequestRef<'_>) -> Response {
        let Some(entry) = self.keys().get(req.key_blob) else {
            tracing::debug!(target: "agentry::sign", "sign request for a key the agent does not hold");
            return Response::Failure;
        };
        let hop_names = match check_destination(&entry, session, &req, || {
            self.shared.clock.unix_time()
        }) {
            Ok(names) => names,
            Err(why) => {
                tracing::info!(target: "agentry::sign", fingerprint = %entry.fingerprint, reason = why, "destination restriction refused the signature");
                return Response::Failure;
            }
        };
        if self.needs_confirm(session, &entry) && !self.confirm(session, &entry, &hop_names).await {
            tracing::info!(target: "agentry::sign", fingerprint = %entry.fingerprint, "use not confirmed");
            return Response::Failure;
        }
        if let Some(external) = entry.key.external_form() {
            if let Some(sk) = &external.security_key {
                if !security_key::may_ask_authenticator(&entry, sk, req.data) {
                    return Response::Failure;
                }
            }
            let signer = Arc::clone(&external.signer);
            return self.sign_external(&entry, signer.as_ref(), req).await;
        }
        let Some(key) = self.signing_key(session, &entry).await else {
            tracing::info!(target: "agentry::sign", fingerprint = %entry.fingerprint, "key not decrypted");
            return Response::Failure;
        };
        let allow_sha1 = self.shared.options.allow_ssh_rsa_sha1;
        let result = if key.is_cheap() {
            key.sign(req.data, req.flags, allow_sha1)
        } else {
            let threads = self.shared.options.signing_threads.as_ref();
            sign_off_reactor(threads, key, req.data, req.flags, allow_sha1).await
        };
        match result {
            Ok(sig) => Response::Signature(sig),
            Err(e) => {
                tracing::info!(target: "agentry::sign", fingerprint = %entry.fingerprint, error = %e, "signature refused");
                Response::Failure
            }
        }
    }

    /// Asks the key's external signer, then checks the signature against the listed key.
    async fn sign_external(
        &self,
        entry: &Entry,
        signer: &dyn ExternalSigner,
        req: SignRequestRef<'_>,
    ) -> Response {
        let allow_sha1 = self.shared.options.allow_ssh_rsa_sha1;
        let request = ExternalSignRequest::new(req.data.to_vec(), req.flags, allow_sha1);
        match signer.sign(request).await {
            Ok(sig) if crate::keys::verify_external(&entry.blob, req.data, &sig) => {
                Response::Signature(sig)
            }
            Ok(_) => {
                tracing::warn!(target: "agentry::sign", fingerprint = %entry.fingerprint, "the token's signature does not verify; not sent");
                Response::Failure
            }
            Err(e) => {
                tracing::info!(target: "agentry::sign", fingerprint = %entry.fingerprint, error = %e, "token signature refused");
                Response::Failure
            }
        }
    }

    /// True when this use must be confirmed: always for a key added with `-c`; for the
    /// agent-wide `--confirm-all`, unless `--confirm-forwarded-only` and the connection proved
    /// it is local (see [`consent::proved_local`]).
    fn needs_confirm(&self, session: &Session, entry: &Entry) -> bool {
        let options = &self.shared.options;
        entry.confirm
            || (options.confirm_all
                && !(options.confirm_policy.forwarded_only && consent::proved_local(session)))
    }

    /// Asks the user (unless a remembered "yes" still holds); an unanswered prompt is a "no"
    /// after the policy's timeout.
    async fn confirm(&self, session: &Session, entry: &Entry, hop_names: &[String]) -> bool {
        let policy = &self.shared.options.confirm_policy;
        let consents = &self.shared.consents;
        if consents.remembered(session, &entry.fingerprint, self.now()) {
            return true;
        }
        let allowed = tokio::time::timeout(policy.timeout, self.prompt(session, entry, hop_names))
            .await
            .unwrap_or_else(|_| {
                tracing::info!(target: "agentry::sign", fingerprint = %entry.fingerprint, "confirmation timed out");
                false
            });
        if allowed {
            consents.record_yes(policy, session, &entry.fingerprint, self.now());
        }
        allowed
    }

    async fn prompt(&self, session: &Session, entry: &Entry, hop_names: &[String]) -> bool {
        let Some(prompter) = &self.shared.prompter else {
            return false;
        };
        let request = ConfirmRequest {
            comment: String::from_utf8_lossy(&entry.comment).into_owned(),
            fingerprint: entry.fingerprint.clone(),
            algorithm: entry.algorithm.clone(),
            client: session.client().clone(),
            forwarding_path: PathHop::path_of(session, hop_names),
            forwarded: session.is_forwarded(),
        };
        prompter.confirm(request).await
    }
}

/// Makes a slow signature (RSA, P-384, P-521) on a signing thread (see [`signing_pool`]), so
/// the runtime goes on serving other clients meanwhile.
async fn sign_off_reactor(
    threads: Option<&ThreadStarter>,
    key: Arc<SigningKey>,
    data: &[u8],
    flags: u32,
    allow_sha1: bool,
) -> Result<Vec<u8>, SignError> {
    let data = data.to_vec();
    signing_pool::run(threads, move || key.sign(&data, flags, allow_sha1))
        .await
        .unwrap_or(Err(SignError::Failed))
}

/// OpenSSH's checks for a destination-restricted key in `process_sign_request2`: only on a
/// bound connection, only for a user-authentication request for this key, permitted along the
/// whole chain, and for the session and host the connection was last bound to.
fn check_destination(
    entry: &Entry,
    session: &Session,
    req: &SignRequestRef<'_>,
    now: impl FnOnce() -> u64,
) -> Result<Vec<String>, &'static str> {
    if entry.destinations.is_empty() {
        return Ok(Vec::new());
    }
    let now = now();
    let last = session
        .binds()
        .last()
        .ok_or("restricted key used on an unbound connection")?;
    let auth = destination::parse_userauth(req.data, &entry.blob, &entry.algorithm)
        .ok_or("restricted key asked to sign something other than a user authentication")?;
    let names = destination::identity_permitted(entry, session, Some(&auth.user), now)?;
    if auth.session_id != last.session_id {
        return Err("signature for a session this connection is not bound to");
    }
    match &auth.host_key {
        None if session.binds().len() > 1 => Err("forwarded use without a host-bound request"),
        Some(host) if *host != last.host_key => {
            Err("host key in the request is not the bound host")
        }
        _ => Ok(names),
    }
}
