//! The `agentry start` options that shape the agent itself, one set for Unix and Windows:
//! default key lifetime, legacy SHA-1 signatures, the `--confirm-*` rules and which provider
//! libraries (PKCS#11, security-key middleware) may be loaded. They combine with
//! the config file (the command line wins) and are passed on to the re-executed background agent.

use crate::config::Config;
use crate::confirm::ConfirmArgs;
use crate::lifetime::parse_lifetime;
use agentry_core::AgentOptions;
use agentry_platform::helper::{provider_path, HelperCommand, Pkcs11Providers};
use agentry_platform::security_key::SkProviders;
use clap::Args;
use std::process::Command;
use std::sync::Arc;
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
    /// Provider libraries (PKCS#11, FIDO middleware) that may be loaded: comma-separated patterns matched
    /// against the library's resolved path (default /usr/lib*/*,/usr/local/lib*/* on Unix; the
    /// system and Program Files directories on Windows).
    #[arg(short = 'P', value_name = "PATTERNS")]
    allowed_providers: Option<String>,
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
        let options = match HelperCommand::this_executable() {
            Some(command) => {
                let allowed = match self
                    .allowed_providers
                    .as_ref()
                    .or(config.allowed_providers.as_ref())
                {
                    Some(patterns) => provider_path::allow_list(patterns),
                    None => provider_path::default_allow_list(),
                };
                options
                    .security_keys(Arc::new(SkProviders::new(allowed.clone(), command.clone())))
                    .token_providers(Arc::new(Pkcs11Providers::new(allowed, command)))
            }
            None => {
                tracing::warn!(
                    "cannot find agentry's own executable: PKCS#11 providers and security key \
                     libraries cannot be loaded"
                );
                options
            }
        };
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
        if let Some(patterns) = &self.allowed_providers {
            command.arg("-P").arg(patterns);
        }
        self.confirm.pass_on(command);
    }
}
