//! When a confirm-constrained key asks the user, and for how long a "yes" counts. Beyond
//! OpenSSH (which asks on every use): with `--confirm-all`, ask only for uses not proved local;
//! remember a "yes" for the same key and the same client process (local) or the same chain of
//! hosts (forwarded) for a while; deny when the prompt is not answered in time. Invariant: every
//! relaxation fails closed. A key added with `-c` is asked for on every use that no remembered
//! "yes" covers; a connection that proves nothing is treated as forwarded; a client that cannot
//! be identified never shares a remembered answer.

use crate::session::Session;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How confirmation prompts behave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfirmPolicy {
    /// An unanswered prompt counts as "no" after this long.
    pub timeout: Duration,
    /// With `--confirm-all`, do not ask for uses on connections proved local (bound for
    /// authentication and never for forwarding). Keys added with `-c` are always asked for.
    pub forwarded_only: bool,
    /// Remember a "yes" for this long, per key and per client process or destination host.
    pub remember: Option<Duration>,
}

impl Default for ConfirmPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            forwarded_only: false,
            remember: None,
        }
    }
}

impl ConfirmPolicy {
    /// Sets [`ConfirmPolicy::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`ConfirmPolicy::forwarded_only`].
    pub fn forwarded_only(mut self, forwarded_only: bool) -> Self {
        self.forwarded_only = forwarded_only;
        self
    }

    /// Sets [`ConfirmPolicy::remember`].
    pub fn remember(mut self, remember: Option<Duration>) -> Self {
        self.remember = remember;
        self
    }
}

/// Who a remembered "yes" was given to: for a forwarded request the whole chain of hosts it
/// crossed (host key and kind of every bind, nearest first); for a local one the client process
/// and any authentication bind it made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Scope {
    process: Option<(u32, Option<String>)>,
    chain: Vec<(Vec<u8>, bool)>,
}

/// The scope of a "yes" given on `session`; `None` when the client cannot be told apart from
/// others (no forwarding chain and no process id the OS vouched for): its answers are never
/// remembered, so they are never shared.
fn scope(session: &Session) -> Option<Scope> {
    let chain = session
        .binds()
        .iter()
        .map(|b| (b.host_key.clone(), b.is_forwarding))
        .collect();
    if session.is_forwarded() {
        return Some(Scope {
            process: None,
            chain,
        });
    }
    let client = session.client();
    let pid = client.pid?;
    Some(Scope {
        process: Some((pid, client.exe.clone())),
        chain,
    })
}

/// True when the connection proved it is a local client's own: it was bound with
/// `session-bind@openssh.com` for authentication and never for forwarding. A connection with no
/// bind proves nothing (PuTTY, WM_COPYDATA, OpenSSH before 8.9 and Dropbear never bind, even
/// when forwarding). This trusts the forwarding client to bind, as OpenSSH 8.9 and later do.
pub(crate) fn proved_local(session: &Session) -> bool {
    !session.binds().is_empty() && !session.is_forwarded()
}

/// Remembered answers, keyed by key fingerprint and scope.
#[derive(Debug, Default)]
pub(crate) struct Consents {
    granted: Mutex<HashMap<(String, Scope), Instant>>,
}

impl Consents {
    /// True when a "yes" for this key and this connection's scope still holds.
    pub(crate) fn remembered(&self, session: &Session, fingerprint: &str, now: Instant) -> bool {
        let Some(scope) = scope(session) else {
            return false;
        };
        let mut granted = self.granted.lock().unwrap_or_else(|e| e.into_inner());
        granted.retain(|_, until| *until > now);
        granted.contains_key(&(fingerprint.to_owned(), scope))
    }

    /// Records a "yes" when the policy remembers answers and the client can be told apart.
    pub(crate) fn record_yes(
        &self,
        policy: &ConfirmPolicy,
        session: &Session,
        fingerprint: &str,
        now: Instant,
    ) {
        if let (Some(window), Some(scope)) = (policy.remember, scope(session)) {
            let mut granted = self.granted.lock().unwrap_or_else(|e| e.into_inner());
            granted.insert((fingerprint.to_owned(), scope), now + window);
        }
    }
}
