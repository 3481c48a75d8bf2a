//! The `agentry` command: `start`/`stop`/`status` run and manage the agent, and the ssh-add-like
//! commands (`list`, `add`, `remove`, …) talk to whatever agent `SSH_AUTH_SOCK` names. This file
//! holds only the command line and the exit status rules (ssh-add's: 0 ok, 1 failure or no
//! identities, 2 no agent); the work is in the modules.

#![forbid(unsafe_code)]

mod agent_args;
mod agent_commands;
mod agent_state;
mod client;
mod config;
mod confirm;
mod daemon;
mod destinations;
mod encrypted_keys;
mod generate;
mod help;
mod install;
mod key_args;
mod key_bundle;
mod key_commands;
mod keyring_commands;
mod lifetime;
mod pageant_command;
mod passphrase;
mod pkcs11_commands;
mod private_files;
mod public_files;
mod ready;
#[cfg(windows)]
mod relay;
#[cfg(unix)]
mod shell;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A cross-platform SSH agent, compatible with OpenSSH's ssh-agent protocol and tools.
#[derive(Debug, Parser)]
#[command(
    name = "agentry",
    version,
    propagate_version = true,
    after_help = help::EXAMPLES,
    override_usage = "agentry [OPTIONS] <COMMAND>\n       \
        agentry [--encrypted] [KEYFILE]... [--openssh-config FILE] [-c COMMAND [ARGS]...]"
)]
struct Cli {
    /// How client commands reach the agent: auto (SSH_AUTH_SOCK, else Pageant's pipe, else
    /// its WM_COPYDATA window), pipe (SSH_AUTH_SOCK or Pageant's pipe), copydata.
    #[cfg(windows)]
    #[arg(long, global = true, value_enum, default_value = "auto")]
    transport: client::Transport,
    /// Configuration file (default: $AGENTRY_CONFIG, else config.toml in the platform's
    /// configuration directory; `agentry config path` prints it).
    #[arg(long, global = true, value_name = "PATH", display_order = 1000)]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    pageant: pageant_command::PageantArgs,
}

/// Whether `arg` names one of agentry's commands (which wins over a key file of that name).
pub(crate) fn is_command_name(arg: &std::ffi::OsStr) -> bool {
    use clap::CommandFactory;
    Cli::command()
        .get_subcommands()
        .any(|c| arg == c.get_name() || c.get_all_aliases().any(|a| arg == a))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the agent (in the background unless -D), printing shell commands like ssh-agent.
    #[command(after_help = help::START_EXAMPLES)]
    Start(daemon::StartArgs),
    /// Stop the agent SSH_AGENT_PID names, printing shell commands to unset its variables.
    #[command(after_help = help::STOP_EXAMPLES)]
    Stop(daemon::StopArgs),
    /// Show whether the agent SSH_AUTH_SOCK names answers, and what it holds.
    Status,
    /// List the agent's identities (fingerprints by default).
    List(key_commands::ListArgs),
    /// Add private key files (OpenSSH, PuTTY PPK, PEM) or keys from the OS keyring to the agent.
    #[command(disable_help_flag = true, after_help = help::ADD_EXAMPLES)]
    Add(key_commands::AddArgs),
    /// Drop the decrypted copy of keys held encrypted (they ask for the passphrase again).
    Reencrypt(encrypted_keys::ReencryptArgs),
    /// Keep keys in the OS keyring: import, list, remove; forget remembered passphrases.
    #[command(subcommand)]
    Keyring(keyring_commands::KeyringCommand),
    /// Remove identities given as key files or fingerprints.
    Remove(key_commands::RemoveArgs),
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
    /// Serve a socket whose connections go to the Windows agent through one `agentry.exe relay
    /// --mux` (the WSL end of the bridge).
    #[cfg(unix)]
    Bridge(daemon::BridgeArgs),
    /// Relay the agent protocol between stdin/stdout and the agent's pipe (the Windows end of
    /// a WSL or socat bridge; a drop-in for npiperelay).
    #[cfg(windows)]
    Relay(relay::RelayArgs),
    /// Start the agent at every logon: systemd user units (Linux), the Run registry value
    /// (Windows).
    Install(install::InstallArgs),
    /// Undo `agentry install`: remove exactly what it wrote.
    Uninstall(install::UninstallArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; scripts/man-page writes it to a file).
    #[command(hide = true)]
    ManPage,
    /// Internal: a helper process the agent starts to load a provider library.
    #[command(hide = true)]
    Helper {
        /// What the helper loads.
        #[arg(value_enum)]
        kind: HelperKindArg,
    },
}

/// `agentry helper KIND`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum HelperKindArg {
    /// PKCS#11 providers.
    Pkcs11,
    /// A security-key middleware library.
    Sk,
}

/// Prints `agentry: MESSAGE` on stderr, in plain words: an OS error's ` (os error N)` suffix,
/// which some error types still add, is left out.
pub(crate) fn report(message: &str) {
    eprintln!("agentry: {}", without_os_error_numbers(message));
}

fn without_os_error_numbers(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(" (os error ") {
        let tail = &rest[at + " (os error ".len()..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && tail[digits..].starts_with(')') {
            out.push_str(&rest[..at]);
            rest = &tail[digits + 1..];
        } else {
            out.push_str(&rest[..at + 1]);
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn os_error_numbers_are_left_out() {
        use super::without_os_error_numbers as plain;
        assert_eq!(plain("a: No such file (os error 2)"), "a: No such file");
        assert_eq!(plain("x (os error 13): y (os error 1)"), "x: y");
        assert_eq!(
            plain("kept (os error x) (os error"),
            "kept (os error x) (os error"
        );
    }
}

/// Why a command failed, and so its exit status (ssh-add's rules: 1 the operation failed, 2 no
/// agent to talk to or a command line that cannot be acted on).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The operation failed (exit 1); the message says why.
    Failed(String),
    /// No agent reachable, or the command line cannot be acted on (exit 2).
    Fatal(String),
    /// The agent refused and gave no reason: the caller establishes one (exit 1).
    Refused,
    /// Failed after every problem was reported on a line of its own (exit 1, nothing to add).
    Reported,
    /// The command `start -- COMMAND` (Unix) or Pageant's `-c` ran exited with this status.
    Exited(u8),
}

impl Failure {
    /// The operation failed, for the reason `message` gives (exit 1).
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The exit status.
    pub(crate) fn code(&self) -> u8 {
        match self {
            Self::Fatal(_) => 2,
            Self::Exited(code) => *code,
            Self::Failed(_) | Self::Refused | Self::Reported => 1,
        }
    }

    /// What to tell the user, if anything is left to say.
    pub(crate) fn message(&self) -> Option<&str> {
        match self {
            Self::Failed(m) | Self::Fatal(m) => Some(m),
            Self::Refused => Some("the agent refused"),
            Self::Reported | Self::Exited(_) => None,
        }
    }

    /// Reports this failure's message (if any) and turns it into [`Failure::Reported`], for
    /// commands that go on with their other arguments; a fatal one is returned as it is.
    pub(crate) fn report_and_go_on(self) -> Result<Self, Self> {
        if let Self::Fatal(_) = self {
            return Err(self);
        }
        if let Some(message) = self.message() {
            report(message);
        }
        Ok(Self::Reported)
    }
}

impl From<agentry_platform::client::ClientError> for Failure {
    fn from(e: agentry_platform::client::ClientError) -> Self {
        if e.is_unreachable() {
            Self::Fatal(e.to_string())
        } else {
            Self::Failed(e.to_string())
        }
    }
}

pub(crate) type Outcome = Result<(), Failure>;

/// Parses the command line; clap's own errors, except that `agentry add -h` (ssh-add's
/// destination option, not help) says where help is.
fn parse() -> Cli {
    let args = pageant_command::with_pageant_spellings(std::env::args_os().collect());
    Cli::try_parse_from(args).unwrap_or_else(|e| {
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
    let target = client::Target {
        #[cfg(windows)]
        transport: cli.transport,
    };
    let target = &target;
    let Some(command) = cli.command else {
        // Pageant's command line; with nothing on it, Windows starts the agent as Pageant does.
        if !cli.pageant.given() && cfg!(unix) {
            use clap::CommandFactory;
            Cli::command()
                .error(
                    clap::error::ErrorKind::MissingSubcommand,
                    "a command or key files are required",
                )
                .exit();
        }
        let outcome = config::load(cli.config.as_deref())
            .and_then(|config| pageant_command::run(&cli.pageant, config, target));
        return exit_code(outcome);
    };
    if cli.pageant.given() {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "key files, --encrypted, --openssh-config and -c are Pageant's command line: they \
                 go without a command (`agentry add` takes options of its own)",
            )
            .exit();
    }
    let outcome = match command {
        Command::Start(args) => {
            config::load(cli.config.as_deref()).and_then(|config| daemon::start(args, config))
        }
        Command::Stop(args) => daemon::stop(&args),
        Command::Status => agent_commands::status(target),
        Command::List(args) => key_commands::list(&args, target),
        Command::Add(args) => key_commands::add(&args, target),
        Command::Reencrypt(args) => encrypted_keys::reencrypt(&args, target),
        Command::Keyring(command) => keyring_commands::run(&command),
        Command::Remove(args) => key_commands::remove(&args, target),
        Command::RemoveAll => key_commands::remove_all(target),
        Command::Lock => agent_commands::lock(true, target),
        Command::Unlock => agent_commands::lock(false, target),
        Command::Query => agent_commands::query(target),
        Command::Config(args) => config::config_command(&args, cli.config.as_deref()),
        #[cfg(windows)]
        Command::OpensshConfig(args) => daemon::openssh_config(&args),
        #[cfg(windows)]
        Command::Relay(args) => relay::relay(&args),
        Command::Install(args) => install::install(&args),
        Command::Uninstall(args) => install::uninstall(&args),
        #[cfg(unix)]
        Command::Bridge(args) => daemon::bridge(&args),
        Command::Completions { shell } => generate::completions(shell),
        Command::ManPage => generate::man_page(),
        Command::Helper { kind } => {
            daemon::harden_helper();
            let kind = match kind {
                HelperKindArg::Pkcs11 => agentry_platform::helper::HelperKind::Pkcs11,
                HelperKindArg::Sk => agentry_platform::helper::HelperKind::Sk,
            };
            agentry_platform::helper::run_helper(kind)
                .map_err(|e| Failure::new(format!("helper: {e}")))
        }
    };
    exit_code(outcome)
}

/// Reports a failure's message, if it has one left, and turns the outcome into the exit status.
fn exit_code(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = failure.message() {
                report(message);
            }
            ExitCode::from(failure.code())
        }
    }
}
