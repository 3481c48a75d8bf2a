//! The `agentry start` options that shape the agent itself, one set for Unix and Windows:
//! default key lifetime, legacy SHA-1 signatures and the `--confirm-*` rules. They combine with
//! the config file (the command line wins) and are passed on to the re-executed background agent.

use crate::config::Config;
use crate::confirm::ConfirmArgs;
use crate::lifetime::parse_lifetime;
use agentry_core::AgentOptions;
use clap::Args;
use std::process::Command;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub(crate) struct AgentArgs {
    /// Default lifetime of added keys (seconds, or e.g. 1h30m).
    #[arg(short = 't', value_name = "LIFE", value_parser = parse_lifetime)]
    lifetime: Option<Duration>,
    /// Make legacy ssh-rsa (SHA-1) signatures when a client asks.
    #[arg(long)]
    allow_ssh_rsa_sha1: bool,
    #[command(flatten)]
    confirm: ConfirmArgs,
}

impl AgentArgs {
    /// The agent's options (the config file's where the command line left them unset) and how
    /// long a prompt waits for an answer.
    pub(crate) fn options(&self, config: &Config) -> (AgentOptions, Duration) {
        let confirm = self.confirm.with_config(config);
        let options = confirm.apply(
            AgentOptions::new()
                .signing_threads(agentry_platform::threads::os_threads())
                .allow_ssh_rsa_sha1(self.allow_ssh_rsa_sha1 || config.allow_ssh_rsa_sha1)
                .default_lifetime(self.lifetime.or(config.lifetime)),
        );
        (options, confirm.timeout())
    }

    /// Passes the same options on to a re-executed `agentry start`.
    pub(crate) fn pass_on(&self, command: &mut Command) {
        if let Some(life) = self.lifetime {
            command.arg("-t").arg(life.as_secs().to_string());
        }
        if self.allow_ssh_rsa_sha1 {
            command.arg("--allow-ssh-rsa-sha1");
        }
        self.confirm.pass_on(command);
    }
}
