//! config.toml exactly as serde reads it: every table refuses unknown keys, values keep their
//! byte spans where a later check needs to name their line, and durations are read as the
//! command line reads them (`600`, `"10m"`, `"1h30m"`). Nothing here touches the file system.

use crate::lifetime::parse_lifetime;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::time::Duration;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub(crate) agent: AgentSection,
    #[serde(default)]
    pub(crate) prompts: PromptsSection,
    #[serde(default)]
    pub(crate) confirm: ConfirmSection,
    /// `[[key]]` tables; the span is the `[[key]]` header.
    #[serde(default, rename = "key")]
    pub(crate) keys: Vec<Spanned<KeySection>>,
    /// `[[pkcs11]]` tables; the span is the `[[pkcs11]]` header.
    #[serde(default)]
    pub(crate) pkcs11: Vec<Spanned<Pkcs11Section>>,
}

/// `[agent]`: where the agent listens and how it signs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentSection {
    /// Unix socket path (`agentry start -a`).
    pub(crate) socket: Option<String>,
    /// Windows pipe name (`agentry start -a`).
    pub(crate) pipe: Option<String>,
    /// Windows: also serve `\\.\pipe\openssh-ssh-agent`.
    pub(crate) openssh_pipe: Option<bool>,
    /// Default lifetime of added keys.
    pub(crate) lifetime: Option<Life>,
    /// Make legacy `ssh-rsa` (SHA-1) signatures on request.
    pub(crate) allow_ssh_rsa_sha1: Option<bool>,
    /// known_hosts files for destination restrictions and prompt names.
    pub(crate) known_hosts: Option<Vec<String>>,
    /// Provider libraries the agent may load (`agentry start -P`).
    pub(crate) allowed_providers: Option<String>,
}

/// `[prompts]`: how confirmations and passphrases are asked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromptsSection {
    pub(crate) backend: Option<Spanned<Backend>>,
    /// The askpass program (instead of `$SSH_ASKPASS`).
    pub(crate) askpass: Option<String>,
    /// How long a prompt waits for an answer.
    pub(crate) timeout: Option<Life>,
}

/// Where prompts appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Backend {
    /// An askpass program (Unix).
    Askpass,
    /// The terminal the agent runs on (needs `agentry start -D`).
    Terminal,
    /// A dialog box (Windows).
    Dialog,
}

/// `[confirm]`: confirmation policy.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmSection {
    /// Confirm every use of every key.
    pub(crate) all: Option<bool>,
    /// Confirm only forwarded requests.
    pub(crate) forwarded_only: Option<bool>,
    /// Remember a "yes" this long.
    pub(crate) remember: Option<Life>,
}

/// One `[[key]]` to load at start.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeySection {
    /// A private key file (OpenSSH, PPK, PEM).
    pub(crate) file: Option<Spanned<String>>,
    /// An OS keyring entry name.
    pub(crate) keyring: Option<Spanned<String>>,
    /// Keep the file encrypted until first use.
    #[serde(default)]
    pub(crate) encrypted: bool,
    /// Confirm each use.
    #[serde(default)]
    pub(crate) confirm: bool,
    /// Forget the key after this long.
    pub(crate) lifetime: Option<Life>,
    /// `ssh-add -h` restrictions.
    #[serde(default)]
    pub(crate) destinations: Vec<Spanned<String>>,
}

/// One `[[pkcs11]]` provider to load at start.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Pkcs11Section {
    /// The provider library.
    pub(crate) provider: Option<Spanned<String>>,
    /// Where the token's PIN comes from.
    pub(crate) pin: Option<PinSource>,
    /// Confirm each use of its keys.
    #[serde(default)]
    pub(crate) confirm: bool,
    /// Forget its keys after this long.
    pub(crate) lifetime: Option<Life>,
}

/// Where a `[[pkcs11]]` entry's PIN comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PinSource {
    /// The PIN `agentry add --pkcs11 PROVIDER --remember` kept in the OS keyring.
    Keyring,
    /// No login (only for tokens whose keys sign without one).
    None,
}

/// A duration: whole seconds, or a string in `agentry start -t` syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Life(pub(crate) Duration);

impl<'de> Deserialize<'de> for Life {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LifeVisitor)
    }
}

struct LifeVisitor;

impl Visitor<'_> for LifeVisitor {
    type Value = Life;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration: seconds, or a string like \"1h30m\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Life, E> {
        parse_lifetime(v).map(Life).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Life, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Life, E> {
        self.visit_str(&v.to_string())
    }
}
