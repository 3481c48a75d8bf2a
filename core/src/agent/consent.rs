//! When a confirm-constrained key asks the user, and for how long a "yes" counts. Beyond
//! OpenSSH (which asks on every use): confirm only forwarded uses, remember a "yes" for the same
//! key and the same client process (local) or destination host (forwarded) for a while, and
//! deny when the prompt is not answered in time.

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
    /// Ask only when the request arrived through agent forwarding.
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

/// Who a remembered "yes" was given to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scope {
    Process(Option<u32>, Option<String>),
    Host(Vec<u8>),
}

fn scope(session: &Session) -> Scope {
    match session.binds().last() {
        Some(bind) if session.is_forwarded() || session.binds().len() > 1 => {
            Scope::Host(bind.host_key.clone())
        }
        _ => Scope::Process(session.client().pid, session.client().exe.clone()),
    }
}

/// Remembered answers, keyed by key fingerprint and scope.
#[derive(Debug, Default)]
pub(crate) struct Consents {
    granted: Mutex<HashMap<(String, Scope), Instant>>,
}

impl Consents {
    /// True when `policy` lets this use go ahead without asking.
    pub(crate) fn skip_prompt(
        &self,
        policy: &ConfirmPolicy,
        session: &Session,
        fingerprint: &str,
        now: Instant,
    ) -> bool {
        let forwarded = session.binds().iter().any(|b| b.is_forwarding);
        if policy.forwarded_only && !forwarded {
            return true;
        }
        let mut granted = self.granted.lock().unwrap_or_else(|e| e.into_inner());
        granted.retain(|_, until| *until > now);
        granted.contains_key(&(fingerprint.to_owned(), scope(session)))
    }

    /// Records a "yes" when the policy remembers answers.
    pub(crate) fn record_yes(
        &self,
        policy: &ConfirmPolicy,
        session: &Session,
        fingerprint: &str,
        now: Instant,
    ) {
        if let Some(window) = policy.remember {
            let mut granted = self.granted.lock().unwrap_or_else(|e| e.into_inner());
            granted.insert((fingerprint.to_owned(), scope(session)), now + window);
        }
    }
}
