//! The configuration file, `config.toml`: where it is (`--config`, else `$AGENTRY_CONFIG`, else
//! the platform's config directory), what it may say (socket and pipe, default lifetime, legacy
//! RSA, prompts, confirmation, keys and PKCS#11 providers to load at start) and the checks that
//! need no key file.
//! Every problem names the file, line and column it comes from. Reading the key files and
//! loading them into the agent is in `key_entries`; `agentry config check|path` in `command`.

mod command;
mod every_error;
mod key_entries;
mod provider_entries;
mod schema;
#[cfg(test)]
mod tests;

pub(crate) use command::{config_command, ConfigArgs};
pub(crate) use key_entries::{check_keys, load_keys, report_key_problems, start_can_prompt};
pub(crate) use provider_entries::load_providers;
pub(crate) use schema::Backend;

use crate::destinations::DestinationSpec;
use crate::Failure;
use agentry_platform::small_file::{read_small_text, KEY_FILE_LIMIT};
use schema::{KeySection, PinSource, Pkcs11Section};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The environment variable that names the config file when `--config` does not.
pub(crate) const ENV_VAR: &str = "AGENTRY_CONFIG";

/// A place in the config file, 1-based; the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) col: usize,
}

impl Pos {
    /// The line and column of byte `offset` in `text`.
    pub(crate) fn at(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self {
            line: before.matches('\n').count() + 1,
            col: before[line_start..].chars().count() + 1,
        }
    }
}

/// One thing wrong with the file, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) pos: Option<Pos>,
    pub(crate) message: String,
}

impl Problem {
    pub(crate) fn at(pos: Pos, message: impl Into<String>) -> Self {
        Self {
            pos: Some(pos),
            message: message.into(),
        }
    }

    /// `PATH:LINE:COL: message`, as compilers print it.
    pub(crate) fn render(&self, path: &Path) -> String {
        match self.pos {
            Some(Pos { line, col }) => format!("{}:{line}:{col}: {}", path.display(), self.message),
            None => format!("{}: {}", path.display(), self.message),
        }
    }

    /// `PATH:LINE:COL: warning: message`.
    pub(crate) fn render_warning(&self, path: &Path) -> String {
        Self {
            pos: self.pos,
            message: format!("warning: {}", self.message),
        }
        .render(path)
    }
}

/// Where a key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    File(PathBuf),
    Keyring(String),
}

/// A `[[key]]` entry, checked for shape but not yet read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyEntry {
    /// The `[[key]]` header.
    pub(crate) pos: Pos,
    pub(crate) source: KeySource,
    pub(crate) encrypted: bool,
    pub(crate) confirm: bool,
    pub(crate) lifetime: Option<Duration>,
    pub(crate) destinations: Vec<(Pos, DestinationSpec)>,
}

impl KeyEntry {
    /// How messages name the key: its file, or `keyring NAME`.
    pub(crate) fn name(&self) -> String {
        match &self.source {
            KeySource::File(path) => path.display().to_string(),
            KeySource::Keyring(name) => format!("keyring entry {name:?}"),
        }
    }
}

/// A `[[pkcs11]]` entry: a provider to load at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pkcs11Entry {
    /// The `[[pkcs11]]` header.
    pub(crate) pos: Pos,
    pub(crate) provider: PathBuf,
    /// Log in with the PIN kept in the OS keyring (else no login).
    pub(crate) pin_from_keyring: bool,
    pub(crate) confirm: bool,
    pub(crate) lifetime: Option<Duration>,
}

/// The settings a config file gives (all unset when there is no file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Config {
    /// The file read; `None` when there is none at the default place.
    pub(crate) path: Option<PathBuf>,
    pub(crate) socket: Option<PathBuf>,
    pub(crate) pipe: Option<String>,
    pub(crate) openssh_pipe: bool,
    pub(crate) lifetime: Option<Duration>,
    pub(crate) allow_ssh_rsa_sha1: bool,
    /// Provider allow-list patterns (`-P`); `None` means the OS's default.
    pub(crate) allowed_providers: Option<String>,
    /// known_hosts files; `None` means OpenSSH's defaults.
    pub(crate) known_hosts: Option<Vec<PathBuf>>,
    pub(crate) backend: Option<(Pos, Backend)>,
    pub(crate) askpass: Option<PathBuf>,
    pub(crate) prompt_timeout: Option<Duration>,
    pub(crate) confirm_all: bool,
    pub(crate) confirm_forwarded_only: bool,
    pub(crate) confirm_remember: Option<Duration>,
    pub(crate) keys: Vec<KeyEntry>,
    pub(crate) pkcs11: Vec<Pkcs11Entry>,
}

/// A config file that cannot be used, with every problem found.
#[derive(Debug)]
pub(crate) struct ConfigError {
    pub(crate) path: PathBuf,
    pub(crate) problems: Vec<Problem>,
}

impl ConfigError {
    /// Prints every problem on stderr and returns the failure that ends the command.
    pub(crate) fn report(self) -> Failure {
        for problem in &self.problems {
            eprintln!("{}", problem.render(&self.path));
        }
        let n = self.problems.len();
        Failure::new(format!(
            "{}: {n} error{} in the configuration",
            self.path.display(),
            if n == 1 { "" } else { "s" }
        ))
    }
}

/// The config file in use and whether the user named it (then it must exist).
pub(crate) fn locate(cli: Option<&Path>) -> Result<(PathBuf, bool), Failure> {
    if let Some(path) = cli {
        return Ok((path.to_owned(), true));
    }
    if let Some(path) = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
        return Ok((PathBuf::from(path), true));
    }
    // %APPDATA%, where the user (or a test) set it, as docs/config.md names the place.
    if let Some(appdata) = std::env::var_os("APPDATA").filter(|v| cfg!(windows) && !v.is_empty()) {
        let dir = PathBuf::from(appdata).join("agentry").join("config");
        return Ok((dir.join("config.toml"), false));
    }
    let dirs = directories::ProjectDirs::from("", "", "agentry").ok_or_else(|| {
        Failure::new("cannot find the configuration directory (no home directory); use --config")
    })?;
    Ok((dirs.config_dir().join("config.toml"), false))
}

/// Finds, reads and checks the config file (not the key files it names).
pub(crate) fn load(cli: Option<&Path>) -> Result<Config, Failure> {
    let (path, named) = locate(cli)?;
    // Paths in the file are relative to it: make them absolute (the socket path is printed).
    let path = std::path::absolute(&path).unwrap_or(path);
    let text = match read_small_text(&path, KEY_FILE_LIMIT) {
        Ok(text) => text,
        Err(e) if e.is_not_found() && !named => return Ok(Config::default()),
        Err(e) => return Err(Failure::new(format!("{}: {e}", path.display()))),
    };
    Config::parse(&text, &path).map_err(ConfigError::report)
}

impl Config {
    /// Parses config text read from `path` (relative key paths are relative to its directory).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let fail = |problems| ConfigError {
            path: path.to_owned(),
            problems,
        };
        let (file, mut problems) = every_error::read(text);
        let Some(file) = file else {
            return Err(fail(sorted(problems)));
        };
        let base = path.parent().unwrap_or(Path::new(""));
        let keys = file
            .keys
            .into_iter()
            .filter_map(|k| key_entry(text, base, k, &mut problems))
            .collect();
        let pkcs11 = file
            .pkcs11
            .into_iter()
            .filter_map(|p| pkcs11_entry(text, base, p, &mut problems))
            .collect();
        let backend = file.prompts.backend.as_ref().map(|b| {
            let pos = Pos::at(text, b.span().start);
            let backend = *b.get_ref();
            if let Some(why) = unavailable(backend) {
                problems.push(Problem::at(pos, why));
            }
            (pos, backend)
        });
        if !problems.is_empty() {
            return Err(fail(sorted(problems)));
        }
        let (agent, prompts, confirm) = (file.agent, file.prompts, file.confirm);
        Ok(Self {
            path: Some(path.to_owned()),
            socket: agent.socket.map(|s| expand(base, &s)),
            pipe: agent.pipe,
            openssh_pipe: agent.openssh_pipe.unwrap_or(false),
            lifetime: agent.lifetime.map(|l| l.0),
            allow_ssh_rsa_sha1: agent.allow_ssh_rsa_sha1.unwrap_or(false),
            allowed_providers: agent.allowed_providers,
            known_hosts: agent
                .known_hosts
                .map(|files| files.iter().map(|f| expand(base, f)).collect()),
            backend,
            askpass: prompts.askpass.map(|a| expand(base, &a)),
            prompt_timeout: prompts.timeout.map(|l| l.0),
            confirm_all: confirm.all.unwrap_or(false),
            confirm_forwarded_only: confirm.forwarded_only.unwrap_or(false),
            confirm_remember: confirm.remember.map(|l| l.0),
            keys,
            pkcs11,
        })
    }

    /// Refuses `backend = "terminal"` for an agent that is to run in the background.
    pub(crate) fn check_foreground(&self, foreground: bool) -> Result<(), Failure> {
        match (self.backend, &self.path) {
            (Some((pos, Backend::Terminal)), Some(path)) if !foreground => {
                let why = "prompts backend \"terminal\" needs `agentry start -D` (a background agent has no terminal)";
                Err(Failure::new(Problem::at(pos, why).render(path)))
            }
            _ => Ok(()),
        }
    }

    /// The known_hosts files to read: the configured ones, else OpenSSH's defaults.
    pub(crate) fn known_hosts_files(&self) -> Vec<PathBuf> {
        self.known_hosts
            .clone()
            .unwrap_or_else(agentry_platform::known_hosts::default_files)
    }
}

/// Problems in file order (line, then column); those without a place first.
fn sorted(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.sort_by_key(|p| p.pos.map(|p| (p.line, p.col)));
    problems
}

/// Why a prompt backend cannot work on this OS.
fn unavailable(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Dialog if cfg!(unix) => {
            Some("prompts backend \"dialog\" is for Windows; use \"askpass\" or \"terminal\"")
        }
        Backend::Askpass if cfg!(windows) => {
            Some("prompts backend \"askpass\" is for Unix; use \"dialog\" or \"terminal\"")
        }
        _ => None,
    }
}

/// Checks one `[[key]]` table's shape; problems go to `problems`.
fn pkcs11_entry(
    text: &str,
    base: &Path,
    entry: Spanned<Pkcs11Section>,
    problems: &mut Vec<Problem>,
) -> Option<Pkcs11Entry> {
    let pos = Pos::at(text, entry.span().start);
    let entry = entry.into_inner();
    let provider = match entry.provider {
        Some(p) if !p.get_ref().trim().is_empty() => expand(base, p.get_ref()),
        Some(p) => {
            problems.push(Problem::at(
                Pos::at(text, p.span().start),
                "`provider` is empty",
            ));
            return None;
        }
        None => {
            problems.push(Problem::at(
                pos,
                "a [[pkcs11]] needs `provider = \"PATH\"` (the PKCS#11 library)",
            ));
            return None;
        }
    };
    Some(Pkcs11Entry {
        pos,
        provider,
        pin_from_keyring: entry.pin == Some(PinSource::Keyring),
        confirm: entry.confirm,
        lifetime: entry.lifetime.map(|l| l.0),
    })
}

fn key_entry(
    text: &str,
    base: &Path,
    key: Spanned<KeySection>,
    problems: &mut Vec<Problem>,
) -> Option<KeyEntry> {
    let pos = Pos::at(text, key.span().start);
    let key = key.into_inner();
    let mut ok = true;
    let mut complain = |at: Pos, message: String| {
        problems.push(Problem::at(at, message));
        ok = false;
    };
    let source = match (key.file, key.keyring) {
        (Some(_), Some(_)) => {
            complain(pos, "a [[key]] takes `file` or `keyring`, not both".into());
            None
        }
        (None, None) => {
            complain(
                pos,
                "a [[key]] needs `file = \"PATH\"` or `keyring = \"NAME\"`".into(),
            );
            None
        }
        (Some(file), None) if file.get_ref().trim().is_empty() => {
            complain(pos, "`file` is empty".into());
            None
        }
        (None, Some(name)) if name.get_ref().trim().is_empty() => {
            complain(pos, "`keyring` is empty".into());
            None
        }
        (Some(file), None) => Some(KeySource::File(expand(base, file.get_ref()))),
        (None, Some(name)) => Some(KeySource::Keyring(name.into_inner())),
    };
    if key.encrypted && matches!(source, Some(KeySource::Keyring(_))) {
        complain(
            pos,
            "`encrypted` applies to key files; keyring keys are stored by the OS keyring".into(),
        );
    }
    let mut destinations = Vec::new();
    for spec in &key.destinations {
        let at = Pos::at(text, spec.span().start);
        match DestinationSpec::parse(spec.get_ref()) {
            Ok(parsed) => destinations.push((at, parsed)),
            Err(e) => complain(at, e),
        }
    }
    Some(KeyEntry {
        pos,
        source: source.filter(|_| ok)?,
        encrypted: key.encrypted,
        confirm: key.confirm,
        lifetime: key.lifetime.map(|l| l.0),
        destinations,
    })
}

/// A path from the file: `~/…` is in the home directory, a relative path is relative to the
/// config file's directory.
fn expand(base: &Path, path: &str) -> PathBuf {
    if path == "~" || path.starts_with("~/") || (cfg!(windows) && path.starts_with("~\\")) {
        if let Some(home) = directories::BaseDirs::new() {
            let rest = path[1..].trim_start_matches(['/', '\\']);
            return home.home_dir().join(rest);
        }
    }
    base.join(path)
}
