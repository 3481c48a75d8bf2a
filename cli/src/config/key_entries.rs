//! The config's `[[key]]` entries against the real world: reading each key file (without asking
//! for a passphrase: encrypted files stay encrypted and are decrypted on first use), resolving
//! destination restrictions against known_hosts, and adding the keys (and the certificates next
//! to unencrypted ones) to the agent before it serves. A key that fails is reported with its config line; the others still load.

use super::{Config, KeyEntry, KeySource, Pos, Problem};
use crate::key_bundle::{Form, KeyBundle};
use crate::keyring_commands::load as load_keyring_key;
use crate::private_files::HeldFile;
use agentry_core::keyfile::KdfLimits;
use agentry_core::keys::PrivateKey;
use agentry_core::known_hosts::KnownHosts;
use agentry_core::proto::Constraint;
use agentry_core::Agent;
use std::path::Path;

/// What the agent gets for one entry.
enum Ready {
    Clear(PrivateKey, String),
    Encrypted(HeldFile),
}

/// Whether an agent `agentry start` started in this environment would have a prompter: the
/// config's askpass or terminal backend, else `SSH_ASKPASS` by OpenSSH's rules (Unix); the
/// Windows dialog is always there.
pub(crate) fn start_can_prompt(config: &Config) -> bool {
    #[cfg(unix)]
    return config.askpass.is_some()
        || matches!(config.backend, Some((_, super::Backend::Terminal)))
        || agentry_platform::unix::askpass::AskpassPrompter::from_env().is_some();
    #[cfg(not(unix))]
    {
        let _ = config;
        true
    }
}

/// Checks every key entry as `agentry start` would load it, without decrypting anything or
/// touching the OS keyring. `can_prompt` says whether the agent will have a way to ask (keys
/// to confirm and encrypted keys need one); the keys that would need one and have none are the
/// third list. Returns the errors, the warnings and those.
pub(crate) fn check_keys(
    config: &Config,
    can_prompt: bool,
) -> (Vec<Problem>, Vec<Problem>, Vec<Problem>) {
    let known = known_hosts_for(config);
    let (mut errors, mut warnings, mut unpromptable) = (Vec::new(), Vec::new(), Vec::new());
    let no_prompt = |entry: &KeyEntry, why: &str| {
        Problem::at(
            entry.pos,
            format!(
                "{}: {why} needs a prompt, and the agent has none (set SSH_ASKPASS, or askpass in [prompts])",
                entry.name()
            ),
        )
    };
    for entry in &config.keys {
        if let Err(e) = constraints(entry, &known) {
            errors.push(e);
        }
        if entry.confirm && !can_prompt {
            unpromptable.push(no_prompt(entry, "`confirm = true`"));
        }
        if let KeySource::File(path) = &entry.source {
            match crate::private_files::read_held(path) {
                Ok(read) if read.file.is_encrypted() && !can_prompt => {
                    unpromptable.push(no_prompt(entry, "an encrypted key"));
                }
                Ok(read) => warnings.extend(warning(entry, &read)),
                Err(e) => errors.push(Problem::at(entry.pos, e)),
            }
        }
    }
    (errors, warnings, unpromptable)
}

/// Errors and warnings together, in file order, as lines for stderr.
pub(crate) fn render_all(path: &Path, errors: &[Problem], warnings: &[Problem]) -> Vec<String> {
    let mut all: Vec<(Option<super::Pos>, String)> = errors
        .iter()
        .map(|e| (e.pos, e.render(path)))
        .chain(warnings.iter().map(|w| (w.pos, w.render_warning(path))))
        .collect();
    all.sort_by_key(|(pos, _)| pos.map(|p| (p.line, p.col)));
    all.into_iter().map(|(_, line)| line).collect()
}

/// Adds every key entry to `agent`, logging each failure with its config line. Returns how many
/// entries loaded.
pub(crate) fn load_keys(agent: &Agent, config: &Config) -> usize {
    let Some(path) = &config.path else {
        return 0;
    };
    let known = known_hosts_for(config);
    let mut loaded = 0;
    for entry in &config.keys {
        match load_one(agent, entry, &known) {
            Ok(warned) => {
                if let Some(w) = warned {
                    tracing::warn!("{}", w.render(path));
                }
                tracing::info!(key = %entry.name(), "loaded from {}", path.display());
                loaded += 1;
            }
            Err(e) => tracing::error!("{}", e.render(path)),
        }
    }
    loaded
}

fn load_one(
    agent: &Agent,
    entry: &KeyEntry,
    known: &KnownHosts,
) -> Result<Option<Problem>, Problem> {
    let at = |message: String| Problem::at(entry.pos, message);
    let constraints = constraints(entry, known)?;
    let (ready, warned) = match &entry.source {
        KeySource::Keyring(name) => {
            let (key, comment) = load_keyring_key(name).map_err(|e| {
                let why = e.message().unwrap_or("cannot load it").to_owned();
                at(format!("{}: {why}", entry.name()))
            })?;
            (Ready::Clear(key, comment), None)
        }
        KeySource::File(path) => {
            let read = crate::private_files::read_held(path).map_err(at)?;
            let warned = warning(entry, &read);
            (clear_or_encrypted(read, path).map_err(at)?, warned)
        }
    };
    let bundle = match ready {
        Ready::Clear(key, comment) => KeyBundle {
            form: Form::Clear(key),
            comment: comment.into_bytes(),
            certificate: match &entry.source {
                KeySource::File(path) => crate::public_files::read_certificate_for(path),
                KeySource::Keyring(_) => None,
            },
        },
        Ready::Encrypted(read) => KeyBundle {
            certificate: match &entry.source {
                KeySource::File(path) => read.certificate(path).map_err(at)?,
                KeySource::Keyring(_) => None,
            },
            comment: read.comment.clone().into_bytes(),
            form: Form::Encrypted(Box::new(read)),
        },
    };
    bundle.add_to(&mut &*agent, &constraints, |_| {}).map_err(
        |(certificate, e)| match certificate {
            None => at(format!("{}: the agent refused the key: {e}", entry.name())),
            Some(_) => at(format!("{}: {e}", entry.name())),
        },
    )?;
    Ok(warned)
}

/// Unencrypted files are decrypted (read) now; encrypted ones stay as they are.
fn clear_or_encrypted(read: HeldFile, path: &Path) -> Result<Ready, String> {
    if read.file.is_encrypted() {
        return Ok(Ready::Encrypted(read));
    }
    let (key, comment) = read
        .file
        .decrypt(b"", &KdfLimits::default())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let comment = if comment.is_empty() {
        read.comment
    } else {
        comment
    };
    Ok(Ready::Clear(key, comment))
}

/// A note for an encrypted file the entry did not mark `encrypted = true`.
fn warning(entry: &KeyEntry, read: &HeldFile) -> Option<Problem> {
    (read.file.is_encrypted() && !entry.encrypted).then(|| {
        Problem::at(
            entry.pos,
            format!(
                "{} is encrypted: it is held encrypted until first use (say `encrypted = true` to silence this)",
                entry.name()
            ),
        )
    })
}

/// The entry's constraints, with destination host keys from known_hosts.
fn constraints(entry: &KeyEntry, known: &KnownHosts) -> Result<Vec<Constraint>, Problem> {
    let mut constraints = Vec::new();
    if let Some(life) = entry.lifetime {
        let secs = u32::try_from(life.as_secs()).unwrap_or(u32::MAX);
        constraints.push(Constraint::Lifetime(secs));
    }
    if entry.confirm {
        constraints.push(Constraint::Confirm);
    }
    if !entry.destinations.is_empty() {
        let resolved = entry
            .destinations
            .iter()
            .map(|(pos, spec): &(Pos, _)| spec.resolve(known).map_err(|e| Problem::at(*pos, e)))
            .collect::<Result<Vec<_>, _>>()?;
        constraints.push(Constraint::RestrictDestination(resolved));
    }
    Ok(constraints)
}

fn known_hosts_for(config: &Config) -> KnownHosts {
    if config.keys.iter().all(|k| k.destinations.is_empty()) {
        return KnownHosts::default();
    }
    agentry_platform::known_hosts::read_files(&config.known_hosts_files())
}

/// Prints what [`check_keys`] finds on stderr, for the background start (whose agent logs
/// nowhere); the agent still starts and loads the keys that work.
pub(crate) fn report_key_problems(config: &Config, path: &Path, can_prompt: bool) {
    let (mut errors, warnings, unpromptable) = check_keys(config, can_prompt);
    errors.extend(unpromptable);
    for line in render_all(path, &errors, &warnings) {
        crate::report(&line);
    }
}
