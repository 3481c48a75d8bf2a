//! The `agentry` command: `start`/`stop`/`status` run and manage the agent, and the ssh-add-like
//! commands (`list`, `add`, `remove`, …) talk to whatever agent `SSH_AUTH_SOCK` names. This file
//! holds only the command line and the exit status rules (ssh-add's: 0 ok, 1 failure or no
//! identities, 2 no agent); the work is in the modules.

#![forbid(unsafe_code)]

mod agent_args;
mod agent_state;
mod config;
mod confirm;
mod daemon;
mod deferred;
mod destinations;
mod generate;
mod keyfiles;
mod keyload;
mod keyring;
mod keys;
mod lifetime;
mod passphrase;
mod ready;
#[cfg(unix)]
mod shell;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Examples for `agentry --help`.
const EXAMPLES: &str = "\
Examples:
  eval \"$(agentry start -s)\"        start the agent in the background, set SSH_AUTH_SOCK
  agentry add ~/.ssh/id_ed25519     add a key (asks its passphrase if it has one)
  agentry list                      list the agent's keys
  agentry lock                      lock the agent; `agentry unlock` unlocks it
  eval \"$(agentry stop -s)\"         stop the agent, unset its variables
  agentry config check              check config.toml and the key files it names";

/// Examples for `agentry start --help`.
#[cfg(unix)]
const START_EXAMPLES: &str = "\
Examples:
  eval \"$(agentry start -s)\"            in the background; sets SSH_AUTH_SOCK and SSH_AGENT_PID
  agentry start -D                      in the foreground, logging to the terminal
  agentry start -D --tty-prompts        ... and asking passphrases and confirmations there
  agentry start -a ~/.agentry/sock -s   at this socket (its directory must be yours, mode 0700)
  agentry start -t 1h -s                keys are forgotten an hour after they are added
  agentry start -- ssh host             serve while one command runs

Prompts (for `add -c` and `add --encrypted` keys) use SSH_ASKPASS when DISPLAY is set.";

#[cfg(windows)]
const START_EXAMPLES: &str = "\
Examples:
  agentry start                   in the background, on Pageant's pipe and window
  agentry start -D                in the foreground, logging to the console
  agentry start --openssh-pipe    also serve Windows OpenSSH's pipe";

/// Examples for `agentry stop --help`.
const STOP_EXAMPLES: &str = "\
Examples:
  eval \"$(agentry stop -s)\"    stop the agent SSH_AGENT_PID names and unset the variables
  agentry stop                 the same, printing nothing to evaluate (Windows)";

/// Examples for `agentry add --help`.
const ADD_EXAMPLES: &str = "\
Examples:
  agentry add                              ~/.ssh/id_rsa, id_ecdsa, id_ed25519 (those that exist)
  agentry add ~/.ssh/id_ed25519            decrypt now (asks the passphrase)
  agentry add --encrypted ~/.ssh/id_rsa    list now, ask the passphrase at first use
  agentry add -c -t 30m key                confirm each use, forget in 30 minutes
  agentry add -h github.com key            usable only to log in to github.com
  agentry add - < key                      a key on standard input
  agentry add --keyring work               the key imported as `work` into the OS keyring

-h is ssh-add's destination option; help is --help.";

/// A cross-platform SSH agent, compatible with OpenSSH's ssh-agent protocol and tools.
#[derive(Debug, Parser)]
#[command(name = "agentry", version, propagate_version = true, after_help = EXAMPLES)]
struct Cli {
    /// How client commands reach the agent: auto (SSH_AUTH_SOCK, else Pageant's pipe, else
    /// its WM_COPYDATA window), pipe (SSH_AUTH_SOCK or Pageant's pipe), copydata.
    #[cfg(windows)]
    #[arg(long, global = true, value_enum, default_value = "auto")]
    transport: daemon::Transport,
    /// Configuration file (default: $AGENTRY_CONFIG, else config.toml in the platform's
    /// configuration directory; `agentry config path` prints it).
    #[arg(long, global = true, value_name = "PATH", display_order = 1000)]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the agent (in the background unless -D), printing shell commands like ssh-agent.
    #[command(after_help = START_EXAMPLES)]
    Start(daemon::StartArgs),
    /// Stop the agent SSH_AGENT_PID names, printing shell commands to unset its variables.
    #[command(after_help = STOP_EXAMPLES)]
    Stop(daemon::StopArgs),
    /// Show whether the agent SSH_AUTH_SOCK names answers, and what it holds.
    Status,
    /// List the agent's identities (fingerprints by default).
    List(keys::ListArgs),
    /// Add private key files (OpenSSH, PuTTY PPK, PEM) or keys from the OS keyring to the agent.
    #[command(disable_help_flag = true, after_help = ADD_EXAMPLES)]
    Add(keys::AddArgs),
    /// Drop the decrypted copy of keys held encrypted (they ask for the passphrase again).
    Reencrypt(deferred::ReencryptArgs),
    /// Keep keys in the OS keyring: import, list, remove; forget remembered passphrases.
    #[command(subcommand)]
    Keyring(keyring::KeyringCommand),
    /// Remove identities given as key files or fingerprints.
    Remove(keys::RemoveArgs),
    /// Remove every identity from the agent.
    RemoveAll,
    /// Lock the agent with a passphrase (from askpass, the terminal or standard input).
    ///
    /// The passphrase is asked through SSH_ASKPASS when there is no terminal and a display (or
    /// with SSH_ASKPASS_REQUIRE=force), else on the terminal (twice), else read as one line from
    /// standard input. It may not be empty.
    Lock,
    /// Unlock the agent (passphrase from askpass, the terminal or standard input).
    ///
    /// The passphrase is asked through SSH_ASKPASS when there is no terminal and a display (or
    /// with SSH_ASKPASS_REQUIRE=force), else on the terminal, else read as one line from
    /// standard input.
    Unlock,
    /// List the protocol extensions the agent supports.
    Query,
    /// Check the configuration file, or show where it is.
    #[command(subcommand)]
    Config(config::ConfigArgs),
    /// Print the IdentityAgent line that points OpenSSH at this agent's pipe.
    #[cfg(windows)]
    OpensshConfig(daemon::OpensshConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; scripts/man-page writes it to a file).
    #[command(hide = true)]
    ManPage,
}

/// A failed command: one line for the user and the exit status.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    /// Exit status 1 (the operation failed).
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<agentry_platform::client::ClientError> for Failure {
    fn from(e: agentry_platform::client::ClientError) -> Self {
        Self {
            code: if e.is_unreachable() { 2 } else { 1 },
            message: e.to_string(),
        }
    }
}

pub(crate) type Outcome = Result<(), Failure>;

/// Parses the command line; clap's own errors, except that `agentry add -h` (ssh-add's
/// destination option, not help) says where help is.
fn parse() -> Cli {
    Cli::try_parse().unwrap_or_else(|e| {
        use clap::error::{ContextKind, ContextValue, ErrorKind};
        let dest_missing = e.kind() == ErrorKind::InvalidValue
            && matches!(e.get(ContextKind::InvalidArg), Some(ContextValue::String(arg)) if arg.starts_with("-h "));
        if dest_missing {
            eprintln!(
                "error: -h takes a destination (HOST, USER@HOST or FROM>TO), as ssh-add -h does\n\nFor help, use `agentry add --help`."
            );
            std::process::exit(2);
        }
        e.exit()
    })
}

fn main() -> ExitCode {
    let cli = parse();
    #[cfg(windows)]
    daemon::choose_transport(cli.transport);
    let outcome = match cli.command {
        Command::Start(args) => {
            config::load(cli.config.as_deref()).and_then(|config| daemon::start(args, config))
        }
        Command::Stop(args) => daemon::stop(&args),
        Command::Status => keys::status(),
        Command::List(args) => keys::list(&args),
        Command::Add(args) => keys::add(&args),
        Command::Reencrypt(args) => deferred::reencrypt(&args),
        Command::Keyring(command) => keyring::run(&command),
        Command::Remove(args) => keys::remove(&args),
        Command::RemoveAll => keys::remove_all(),
        Command::Lock => keys::lock(true),
        Command::Unlock => keys::lock(false),
        Command::Query => keys::query(),
        Command::Config(args) => config::config_command(&args, cli.config.as_deref()),
        #[cfg(windows)]
        Command::OpensshConfig(args) => daemon::openssh_config(&args),
        Command::Completions { shell } => generate::completions(shell),
        Command::ManPage => generate::man_page(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("agentry: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}
