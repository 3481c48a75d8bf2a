//! The agent: one [`Agent`] shared by every connection of every transport. A transport turns
//! bytes into message bodies and calls [`Agent::handle_message`] with the connection's
//! [`Session`]; the agent decodes, applies lock, constraints and policy, signs, and encodes the
//! reply. Locks are held only for map lookups: prompts and signatures run with none held, so a
//! slow request never holds up another connection.

mod add;
mod consent;
mod deferred;
mod destination;
mod expiry;
mod extension;
mod keystore;
mod lock;
mod signing_pool;
mod slot;

use crate::clock::{Clock, TokioClock};
use crate::keys::{SignError, SigningKey};
use crate::prompt::{ConfirmRequest, PathHop, Prompter};
use crate::proto::{Request, Response, SignRequestRef};
use crate::session::Session;
pub use add::{AddError, MAX_IDENTITIES_REPLY};
pub use consent::ConfirmPolicy;
use consent::Consents;
pub use deferred::DeferredPublic;
use expiry::ExpiryTimer;
pub use expiry::EXPIRY_RECHECK;
use keystore::{Entry, Keystore};
use lock::{LockState, UnlockTurns};
pub use signing_pool::ThreadStarter;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Settings the agent runs with.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AgentOptions {
    /// Make legacy `ssh-rsa` (SHA-1) signatures when a client asks for them (off by default).
    pub allow_ssh_rsa_sha1: bool,
    /// Lifetime given to keys added without one (`agentry start -t`).
    pub default_lifetime: Option<Duration>,
    /// Ask for confirmation of every key use, whatever the key's constraints.
    pub confirm_all: bool,
    /// How confirmation prompts behave (timeout, forwarded-only, remembered answers).
    pub confirm_policy: ConfirmPolicy,
    /// Starts the threads slow signatures are made on (the core starts none itself); `None`
    /// makes every signature in place, on the runtime thread that asked for it.
    pub signing_threads: Option<ThreadStarter>,
}

impl AgentOptions {
    /// Default options: SHA-1 refused, no default lifetime.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`AgentOptions::allow_ssh_rsa_sha1`].
    pub fn allow_ssh_rsa_sha1(mut self, allow: bool) -> Self {
        self.allow_ssh_rsa_sha1 = allow;
        self
    }

    /// Sets [`AgentOptions::confirm_policy`].
    pub fn confirm_policy(mut self, policy: ConfirmPolicy) -> Self {
        self.confirm_policy = policy;
        self
    }

    /// Sets [`AgentOptions::confirm_all`].
    pub fn confirm_all(mut self, confirm: bool) -> Self {
        self.confirm_all = confirm;
        self
    }

    /// Sets [`AgentOptions::signing_threads`].
    pub fn signing_threads(mut self, starter: ThreadStarter) -> Self {
        self.signing_threads = Some(starter);
        self
    }

    /// Sets [`AgentOptions::default_lifetime`].
    pub fn default_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.default_lifetime = lifetime;
        self
    }
}

struct Shared {
    keys: Mutex<Keystore>,
    lock: Mutex<LockState>,
    unlock_turns: UnlockTurns,
    expiry: ExpiryTimer,
    prompter: Option<Arc<dyn Prompter>>,
    clock: Arc<dyn Clock>,
    options: AgentOptions,
    consents: Consents,
    rng: ring::rand::SystemRandom,
}

/// The SSH agent. Cheap to clone; every clone is the same agent.
#[derive(Clone)]
pub struct Agent {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for Agent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Agent")
            .field("keys", &self.keys().len())
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent with no prompter (confirm-constrained keys are refused) and tokio's clock.
    pub fn new(options: AgentOptions) -> Self {
        Self::with_parts(options, None, Arc::new(TokioClock))
    }

    /// An agent with the given prompter and clock.
    pub fn with_parts(
        options: AgentOptions,
        prompter: Option<Arc<dyn Prompter>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                keys: Mutex::new(Keystore::default()),
                lock: Mutex::new(LockState::default()),
                unlock_turns: UnlockTurns::default(),
                expiry: ExpiryTimer::default(),
                prompter,
                clock,
                options,
                consents: Consents::default(),
                rng: ring::rand::SystemRandom::new(),
            }),
        }
    }

    /// Handles one message body and returns the reply body. Never panics on client input:
    /// anything that does not decode is answered with `SSH_AGENT_FAILURE`.
    pub async fn handle_message(&self, session: &mut Session, body: &[u8]) -> Vec<u8> {
        // The lock is checked once per request, here. Signing is the hot path: read its fields
        // in place instead of copying them out.
        let locked = self.is_locked();
        if !locked {
            if let Some(sign) = SignRequestRef::parse(body) {
                return self.sign(session, sign).await.encode();
            }
        }
        let response = match Request::decode(body) {
            Ok(request) => self.dispatch(session, request, locked).await,
            Err(e) => {
                tracing::debug!(target: "agentry::proto", msg_type = body.first().copied(), error = %e, "undecodable request");
                Response::Failure
            }
        };
        response.encode()
    }

    /// Handles one decoded request.
    pub async fn handle(&self, session: &mut Session, request: Request) -> Response {
        let locked = self.is_locked();
        self.dispatch(session, request, locked).await
    }

    /// Answers `request`; `locked` is the lock state read once for it.
    async fn dispatch(&self, session: &mut Session, request: Request, locked: bool) -> Response {
        if locked {
            return match request {
                Request::RequestIdentities => Response::Identities(Vec::new()),
                Request::Unlock { passphrase } => self.unlock(&passphrase).await,
                Request::Extension(crate::proto::Extension::SessionBind(bind)) => {
                    extension::session_bind(session, &bind)
                }
                other => {
                    tracing::debug!(target: "agentry::lock", request = ?other, "refused while locked");
                    Response::Failure
                }
            };
        }
        match request {
            Request::RequestIdentities => Response::Identities(self.identities(session)),
            Request::Sign(sign) => self.sign(session, SignRequestRef::from(&sign)).await,
            Request::AddIdentity(add) => self.add_identity(session, *add),
            Request::RemoveIdentity { key_blob } => self.remove(session, &key_blob),
            Request::RemoveAllIdentities => {
                self.keys().clear();
                Response::Success
            }
            Request::Lock { passphrase } => {
                let mut salt = [0u8; 16];
                if ring::rand::SecureRandom::fill(&self.shared.rng, &mut salt).is_err() {
                    return Response::Failure;
                }
                status(self.lock_state().lock(&passphrase, salt))
            }
            Request::Unlock { .. } => Response::Failure,
            Request::Extension(ext) => self.extension(session, ext),
            Request::Smartcard { msg_type, .. } => {
                tracing::info!(target: "agentry::proto", msg_type, "smartcard (PKCS#11) requests are not supported");
                Response::Failure
            }
            Request::Ssh1 { msg_type, .. } => {
                tracing::debug!(target: "agentry::proto", msg_type, "SSH-1 request refused");
                Response::Failure
            }
            Request::Unknown { msg_type, .. } => {
                tracing::debug!(target: "agentry::proto", msg_type, "unknown message type");
                Response::Failure
            }
        }
    }

    /// The entries this connection may see, in order: destination-restricted keys only where
    /// usable. `REQUEST_IDENTITIES` and every extension that lists or touches keys use this.
    fn visible_entries(&self, session: &Session) -> Vec<Arc<Entry>> {
        let now = self.shared.clock.unix_time();
        self.keys()
            .entries()
            .filter(|e| destination::identity_permitted(e, session, None, now).is_ok())
            .cloned()
            .collect()
    }

    /// Identities this connection may see.
    fn identities(&self, session: &Session) -> Vec<crate::proto::Identity> {
        self.visible_entries(session)
            .iter()
            .map(|e| crate::proto::Identity {
                key_blob: e.blob.clone(),
                comment: e.comment.clone(),
            })
            .collect()
    }

    fn remove(&self, session: &Session, key_blob: &[u8]) -> Response {
        let mut keys = self.keys();
        match keys.get(key_blob) {
            Some(entry) if self.permitted(&entry, session).is_err() => Response::Failure,
            _ => status(keys.remove(key_blob)),
        }
    }

    async fn sign(&self, session: &Session, req: SignRequestRef<'_>) -> Response {
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
            forwarding_path: session
                .binds()
                .iter()
                .enumerate()
                .map(|(i, b)| PathHop {
                    host_key: b.host_key.clone(),
                    name: hop_names.get(i).filter(|n| !n.is_empty()).cloned(),
                })
                .collect(),
            forwarded: session.is_forwarded(),
        };
        prompter.confirm(request).await
    }

    /// True while the agent is locked.
    pub fn is_locked(&self) -> bool {
        self.lock_state().is_locked()
    }

    /// What the agent holds, in the order keys were added (for status displays and tests).
    pub fn key_infos(&self) -> Vec<KeyInfo> {
        let now = self.now();
        self.keys()
            .entries()
            .map(|e| KeyInfo {
                comment: String::from_utf8_lossy(&e.comment).into_owned(),
                algorithm: e.algorithm.clone(),
                fingerprint: e.fingerprint.clone(),
                confirm: e.confirm || self.shared.options.confirm_all,
                expires_in: e.expires.map(|t| t.saturating_duration_since(now)),
                destinations: e.destinations.clone(),
            })
            .collect()
    }

    /// Number of keys held now.
    pub fn key_count(&self) -> usize {
        self.keys().len()
    }

    fn now(&self) -> tokio::time::Instant {
        self.shared.clock.now()
    }

    fn keys(&self) -> MutexGuard<'_, Keystore> {
        let mut keys = self
            .shared
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if keys.expiry_due() {
            keys.expire(self.now());
        }
        keys
    }

    fn lock_state(&self) -> MutexGuard<'_, LockState> {
        self.shared
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

fn status(ok: bool) -> Response {
    if ok {
        Response::Success
    } else {
        Response::Failure
    }
}

/// A description of one held key (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// Comment.
    pub comment: String,
    /// Key type name.
    pub algorithm: String,
    /// SHA-256 fingerprint.
    pub fingerprint: String,
    /// Every use is confirmed.
    pub confirm: bool,
    /// Time left before the key is forgotten.
    pub expires_in: Option<Duration>,
    /// Destination restrictions (`ssh-add -h`).
    pub destinations: Vec<crate::proto::DestinationConstraint>,
}
