//! The settings an agent runs with: SHA-1 policy, default lifetime, confirmation rules, the
//! thread starter for slow signatures, the PKCS#11 provider loader and the security-key providers. Plain data with builder setters; the platform fills it
//! from the command line and the configuration file.

use super::{ConfirmPolicy, SecurityKeyProviders, ThreadStarter, TokenProviders};
use std::sync::Arc;
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
    /// Loads PKCS#11 providers (`ssh-add -s`); `None` refuses smartcard requests.
    pub token_providers: Option<Arc<dyn TokenProviders>>,
    /// Reaches FIDO authenticators for security keys (`ssh-add` of an `sk-*` key); `None`
    /// refuses such keys.
    pub security_keys: Option<Arc<dyn SecurityKeyProviders>>,
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

    /// Sets [`AgentOptions::security_keys`].
    pub fn security_keys(mut self, providers: Arc<dyn SecurityKeyProviders>) -> Self {
        self.security_keys = Some(providers);
        self
    }

    /// Sets [`AgentOptions::token_providers`].
    pub fn token_providers(mut self, providers: Arc<dyn TokenProviders>) -> Self {
        self.token_providers = Some(providers);
        self
    }

    /// Sets [`AgentOptions::default_lifetime`].
    pub fn default_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.default_lifetime = lifetime;
        self
    }
}
