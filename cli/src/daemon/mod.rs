//! `agentry start` and `agentry stop`: one flow for both OSes, in ripgrep's style, with the
//! differences in `unix.rs` and `windows.rs`. `start` checks the configuration, re-executes
//! itself in the background unless it stays in the foreground (`-D`, or a command to run), sets
//! up logging (stderr in the foreground, the rotated file of `log_file.rs` in the background), hardens the process, builds the agent with its prompter chain (the OS's
//! prompter, then passphrases remembered in the OS keyring, then names from known_hosts) and
//! runs the OS's `serve(args, config, agent)` on a multi-threaded runtime. Each OS only binds,
//! announces and serves until its shutdown (a signal, Ctrl-C, its socket gone, its command done).
//! `agentry bridge` (Unix, `bridge.rs`) serves the same way with a relay to the Windows agent in
//! place of the agent.

#[cfg(unix)]
mod bridge;
#[cfg(windows)]
mod desktop;
mod log_file;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
use unix as os;
#[cfg(windows)]
use windows as os;

#[cfg(unix)]
pub(crate) use bridge::{bridge, relay_command, BridgeArgs};
pub(crate) use log_file::log_path;
pub(crate) use os::{stop, StopArgs};
#[cfg(windows)]
pub(crate) use windows::{openssh_config, OpensshConfigArgs};

use crate::agent_args::AgentArgs;
use crate::config::{Backend, Config};
use crate::{Failure, Outcome};
use agentry_core::prompt::Prompter;
use agentry_core::Agent;
use agentry_platform::keyring::RememberedPassphrases;
use agentry_platform::known_hosts::KnownHostsNames;
use clap::Args;
use std::sync::Arc;

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    #[command(flatten)]
    os: os::OsStartArgs,
    /// Stay in the foreground and log to standard error.
    #[arg(short = 'D', long)]
    foreground: bool,
    #[command(flatten)]
    agent: AgentArgs,
    /// Ask confirmations and passphrases on this terminal (needs -D) instead of through
    /// SSH_ASKPASS or Windows dialogs.
    #[arg(long, requires = "foreground")]
    tty_prompts: bool,
    /// Internal: print where the agent listens on stdout once it does, then detach.
    #[arg(long, hide = true)]
    notify_ready: bool,
}

/// `agentry start`: command-line flags win over `config`'s values.
pub(crate) fn start(args: StartArgs, config: Config) -> Outcome {
    let stays = args.foreground || args.os.runs_command();
    config.check_foreground(stays)?;
    if !stays {
        return os::start_in_background(&args, &config);
    }
    init_logs(&args);
    os::harden();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the runtime: {e}")))?;
    let agent = build_agent(&args, &config);
    runtime.block_on(os::serve(&args, &config, agent))
}

/// Starts an agent in the background with the default options and `config`, prints what
/// `agentry start` prints, and returns its address (socket or pipe) and process id: Pageant's
/// "no agent is running yet" (`pageant_command`).
pub(crate) fn start_default_in_background(config: &Config) -> Result<String, Failure> {
    config.check_foreground(false)?;
    let args = StartArgs::defaults();
    let (address, pid) = os::spawn_in_background(&args, config)?;
    os::print_started(&args.os, &address, pid);
    Ok(address)
}

impl StartArgs {
    /// `agentry start` with no options.
    fn defaults() -> Self {
        use clap::{FromArgMatches, Parser};
        #[derive(Parser)]
        struct Start {
            #[command(flatten)]
            args: StartArgs,
        }
        let matches = <Start as clap::CommandFactory>::command().get_matches_from(["start"]);
        Start::from_arg_matches(&matches)
            .expect("no options parse")
            .args
    }
}

/// Hardens a helper process as the agent is hardened (no core dumps, no same-user debugger):
/// it holds the token's PIN.
pub(crate) fn harden_helper() {
    os::harden();
}

/// Logs to standard error in the foreground (info; warnings only while running a command), and
/// in the background (`--notify-ready`) to the size-rotated file of `log_file`, or nowhere when
/// that cannot be opened. A plain level unless AGENTRY_LOG asks for more, so the directive
/// parser is left untouched (about 250 KiB less resident memory).
fn init_logs(args: &StartArgs) {
    let level = if args.os.runs_command() {
        tracing::Level::WARN
    } else {
        tracing::Level::INFO
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGENTRY_LOG").ok();
    if args.notify_ready {
        let Ok(file) = log_file::RotatingLog::open_user_log() else {
            return;
        };
        let logs = tracing_subscriber::fmt().with_writer(file).with_ansi(false);
        match filter {
            Some(filter) => logs.with_env_filter(filter).init(),
            None => logs.with_max_level(level).init(),
        }
        return;
    }
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(cfg!(unix) && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match filter {
        Some(filter) => logs.with_env_filter(filter).init(),
        None => logs.with_max_level(level).init(),
    }
}

/// The agent with its options and prompter chain, on the suspend-counting boot clock.
fn build_agent(args: &StartArgs, config: &Config) -> Agent {
    let (options, timeout) = args.agent.options(config);
    let terminal = args.tty_prompts || matches!(config.backend, Some((_, Backend::Terminal)));
    let files = config.known_hosts_files();
    let prompter = os::prompter(terminal, config, timeout).map(|p| {
        let remembered = Arc::new(RememberedPassphrases::new(p));
        Arc::new(KnownHostsNames::new(remembered, files)) as Arc<dyn Prompter>
    });
    Agent::with_parts(
        options,
        prompter,
        Arc::new(agentry_platform::clock::BootClock::new()),
    )
}
