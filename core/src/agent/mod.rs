//! The agent: one [`Agent`] shared by every connection of every transport. A transport turns
//! bytes into message bodies and calls [`Agent::handle_message`] with the connection's
//! [`Session`]; the agent decodes, applies lock, constraints and policy, signs, and encodes the
//! reply. Locks are held only for map lookups: prompts and signatures run with none held, so a
//! slow request never holds up another connection.
//!
//! Files: `options` (settings), `add` (what each add may change), `sign` (the signing path),
//! `extension` (extension requests), `keystore` and `slot` (what is held), `deferred`
//! (decryption on first use), `consent` (confirmation rules), `destination` (OpenSSH's
//! destination restrictions), `lock`, `expiry` (lifetimes), `signing_pool` (slow signatures),
//! `external` (keys held outside the agent, on tokens) and `smartcard` (PKCS#11 providers).

mod add;
mod consent;
mod deferred;
mod destination;
mod expiry;
mod extension;
mod external;
mod keystore;
mod lock;
mod options;
mod security_key;
mod sign;
mod signing_pool;
mod slot;
mod smartcard;

use crate::clock::{Clock, TokioClock};
use crate::prompt::Prompter;
use crate::proto::{Request, Response, SignRequestRef};
use crate::session::Session;
pub use add::{AddError, MAX_IDENTITIES_REPLY};
pub use consent::ConfirmPolicy;
use consent::Consents;
pub use deferred::DeferredPublic;
use expiry::ExpiryTimer;
pub use expiry::EXPIRY_RECHECK;
pub use external::{
    BoxFuture, ExternalKey, ExternalSignRequest, ExternalSigner, LoadedProvider, ProviderError,
    TokenProviders,
};
use keystore::{Entry, Keystore};
use lock::{LockState, UnlockTurns};
pub use options::AgentOptions;
pub use security_key::{SecurityKeyProviders, INTERNAL_PROVIDER};
pub use signing_pool::ThreadStarter;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

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
    /// Counts changes to what the agent holds or its lock state (see [`Agent::changes`]).
    changes: tokio::sync::watch::Sender<u64>,
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
                changes: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// Handles one message body and returns the reply body. Never panics on client input:
    /// anything that does not decode is answered with `SSH_AGENT_FAILURE`.
    pub async fn handle_message(&self, session: &mut Session, body: &[u8]) -> Vec<u8> {
        // The lock is checked once per request, here. Signing is the hot path: read its fields
        // in place instead of copying them out.
        let locked = self.is_locked();
        let sign = (!locked).then(|| SignRequestRef::parse(body)).flatten();
        let response = match sign {
            Some(sign) => self.sign(session, sign).await,
            None => match Request::decode(body) {
                Ok(request) => self.dispatch(session, request, locked).await,
                Err(e) => {
                    tracing::debug!(target: "agentry::proto", msg_type = body.first().copied(), error = %e, "undecodable request");
                    Response::Failure
                }
            },
        };
        session.note_request();
        response.encode()
    }

    /// Handles one decoded request.
    pub async fn handle(&self, session: &mut Session, request: Request) -> Response {
        let locked = self.is_locked();
        let response = self.dispatch(session, request, locked).await;
        session.note_request();
        response
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
                Request::Extension(crate::proto::Extension::Status) => self.status_reply(),
                Request::Extension(crate::proto::Extension::ClientIdentity(reported)) => {
                    extension::client_identity(session, reported)
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
                self.changed();
                Response::Success
            }
            Request::Lock { passphrase } => {
                let mut salt = [0u8; 16];
                if ring::rand::SecureRandom::fill(&self.shared.rng, &mut salt).is_err() {
                    return Response::Failure;
                }
                let locked = self.lock_state().lock(&passphrase, salt);
                if locked {
                    self.changed();
                }
                status(locked)
            }
            Request::Unlock { .. } => Response::Failure,
            Request::Extension(ext) => self.extension(session, ext),
            Request::AddSmartcardKey(add) => self.add_smartcard(session, *add).await,
            Request::RemoveSmartcardKey(remove) => self.remove_smartcard(&remove).await,
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
            _ => {
                let removed = keys.remove(key_blob);
                drop(keys);
                if removed {
                    self.changed();
                }
                status(removed)
            }
        }
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

    /// A receiver that wakes whenever a key is added, removed, expires, is decrypted or
    /// re-encrypted, or the agent is locked or unlocked, whichever client or transport did it
    /// (the tray and key list window follow it). The value only counts changes.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// Tells [`Agent::changes`] receivers that something changed.
    pub(crate) fn changed(&self) {
        self.shared.changes.send_modify(|n| *n = n.wrapping_add(1));
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
            let before = keys.len();
            keys.expire(self.now());
            if keys.len() != before {
                self.changed();
            }
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
