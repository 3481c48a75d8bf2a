//! The `--confirm-*` options of `agentry start`, one set for Unix and Windows: which uses ask
//! (every key with `--confirm-all`, all but proved-local ones with `--confirm-forwarded-only`), how long
//! a "yes" is remembered and when an unanswered prompt counts as "no". They become the agent's
//! [`ConfirmPolicy`], the prompters' timeout, and the arguments of the re-executed background
//! agent.

use crate::lifetime::parse_lifetime;
use agentry_core::{AgentOptions, ConfirmPolicy};
use clap::Args;
use std::process::Command;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub(crate) struct ConfirmArgs {
    /// Ask for confirmation before every use of every key (as if all were added with -c).
    #[arg(long)]
    confirm_all: bool,
    /// With --confirm-all, skip the prompt on connections proved local (bound by OpenSSH 8.9+
    /// for authentication, never for forwarding). Keys added with -c are always confirmed.
    #[arg(long)]
    confirm_forwarded_only: bool,
    /// Remember a "yes" for this long, per key and client process (or chain of hosts, when
    /// forwarded).
    #[arg(long, value_name = "LIFE", value_parser = parse_lifetime)]
    confirm_remember: Option<Duration>,
    /// Deny a confirmation nobody answered after this long (default 60s).
    #[arg(long, value_name = "LIFE", value_parser = parse_lifetime)]
    confirm_timeout: Option<Duration>,
}

impl ConfirmArgs {
    /// How long a prompt waits for an answer.
    pub(crate) fn timeout(&self) -> Duration {
        self.confirm_timeout
            .unwrap_or(ConfirmPolicy::default().timeout)
    }

    /// These options, with the config file's `[confirm]` and prompt timeout where the command
    /// line left them unset (switches can only be turned on).
    pub(crate) fn with_config(&self, config: &crate::config::Config) -> Self {
        Self {
            confirm_all: self.confirm_all || config.confirm_all,
            confirm_forwarded_only: self.confirm_forwarded_only || config.confirm_forwarded_only,
            confirm_remember: self.confirm_remember.or(config.confirm_remember),
            confirm_timeout: self.confirm_timeout.or(config.prompt_timeout),
        }
    }

    /// `options` with these confirmation rules.
    pub(crate) fn apply(&self, options: AgentOptions) -> AgentOptions {
        let policy = ConfirmPolicy::default()
            .forwarded_only(self.confirm_forwarded_only)
            .remember(self.confirm_remember)
            .timeout(self.timeout());
        options.confirm_all(self.confirm_all).confirm_policy(policy)
    }

    /// Passes the same options on to a re-executed `agentry start`.
    pub(crate) fn pass_on(&self, command: &mut Command) {
        if self.confirm_all {
            command.arg("--confirm-all");
        }
        if self.confirm_forwarded_only {
            command.arg("--confirm-forwarded-only");
        }
        if let Some(window) = self.confirm_remember {
            command
                .arg("--confirm-remember")
                .arg(window.as_secs().to_string());
        }
        if let Some(timeout) = self.confirm_timeout {
            command
                .arg("--confirm-timeout")
                .arg(timeout.as_secs().to_string());
        }
    }
}
