//! `agentry start` and `agentry stop` on Unix (the shared flow is in `mod.rs`). Serving binds
//! the socket (or takes systemd's) and serves until a signal or until the socket is removed or
//! replaced. Without `-D` start re-executes itself with `-D` in a new session with null standard
//! streams, waits for the child to report its socket, prints the ssh-agent shell lines and
//! returns. With a command, it serves in this process while the command runs with
//! `SSH_AUTH_SOCK` set, then exits with the command's status.

use crate::config::Config;
use crate::ready::{agent_pid_from_env, background_start_command, spawn_until_ready};
use crate::shell::Syntax;
use crate::{Failure, Outcome};
use agentry_core::prompt::Prompter;
use agentry_core::Agent;
use agentry_platform::unix::askpass::AskpassPrompter;
use agentry_platform::unix::terminal::TerminalPrompter;
use agentry_platform::unix::{activation, process, signals, AgentSocket};
use clap::Args;
use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// `agentry start`'s Unix options.
#[derive(Debug, Args)]
pub(crate) struct OsStartArgs {
    /// Socket path; its directory must be yours with mode 0700 (default:
    /// $XDG_RUNTIME_DIR/agentry/agent.sock, else /tmp/agentry-XXXXXX/agent.PID).
    #[arg(short = 'a', value_name = "PATH")]
    address: Option<std::path::PathBuf>,
    /// Print Bourne shell commands.
    #[arg(short = 's', conflicts_with = "csh")]
    sh: bool,
    /// Print C shell commands.
    #[arg(short = 'c')]
    csh: bool,
    /// Run this command with SSH_AUTH_SOCK set; the agent exits when it does.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl OsStartArgs {
    /// True when a command is to run (the agent then stays in the foreground).
    pub(super) fn runs_command(&self) -> bool {
        !self.command.is_empty()
    }
}

#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// Print Bourne shell commands.
    #[arg(short = 's', conflicts_with = "csh")]
    sh: bool,
    /// Print C shell commands.
    #[arg(short = 'c')]
    csh: bool,
}

/// No core dumps; on Linux, not dumpable.
pub(super) fn harden() {
    if let Err(e) = process::harden_process() {
        tracing::warn!("cannot disable core dumps: {e}");
    }
}

/// The terminal (`--tty-prompts` or the config's `terminal` backend), else the config's
/// askpass program, else `SSH_ASKPASS`; `None` when there is no way to ask.
pub(super) fn prompter(
    terminal: bool,
    config: &Config,
    timeout: Duration,
) -> Option<Arc<dyn Prompter>> {
    if terminal {
        Some(Arc::new(TerminalPrompter::new(timeout)))
    } else if let Some(program) = &config.askpass {
        Some(Arc::new(AskpassPrompter::new(program.clone())))
    } else {
        AskpassPrompter::from_env().map(|p| Arc::new(p) as Arc<dyn Prompter>)
    }
}

/// Binds the socket (or takes systemd's) and serves until a signal, until the socket is gone,
/// or, with a command, until the command exits.
pub(super) async fn serve(args: &super::StartArgs, config: &Config, agent: Agent) -> Outcome {
    let os = &args.os;
    let mut socket = match activation::listener_from_systemd() {
        Ok(Some(listener)) => AgentSocket::adopt(listener),
        Ok(None) => agentry_platform::unix::bind_agent_socket(
            os.address.as_deref().or(config.socket.as_deref()),
        )
        .map_err(|e| Failure::new(e.to_string()))?,
        Err(e) => return Err(Failure::new(format!("systemd socket: {e}"))),
    };
    let path = socket.path().to_owned();
    crate::config::load_keys(&agent, config);
    crate::config::load_providers(&agent, config).await;
    let listener = socket
        .tokio_listener()
        .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    let signal = signals::shutdown_signals()
        .map_err(|e| Failure::new(format!("cannot install signal handlers: {e}")))?;
    let socket_gone = socket.watch().gone();
    if os.runs_command() {
        let stop = stop_reason(signal, socket_gone);
        return serve_while_command_runs(listener, agent, stop, &os.command, &path).await;
    }
    announce(args, &path)?;
    tracing::info!(socket = %path.display(), pid = std::process::id(), "agent listening");
    agentry_platform::unix::serve(listener, agent, stop_reason(signal, socket_gone)).await;
    Ok(())
}

/// Tells whoever started us where the agent is.
fn announce(args: &super::StartArgs, path: &std::path::Path) -> Outcome {
    announce_lines(
        args.notify_ready,
        Syntax::choose(args.os.csh, args.os.sh),
        path,
    )
}

/// With `notify_ready`, prints `path` for the parent and detaches; else prints the shell lines.
pub(super) fn announce_lines(
    notify_ready: bool,
    syntax: Syntax,
    path: &std::path::Path,
) -> Outcome {
    if notify_ready {
        println!("{}", path.display());
        let _ = std::io::stdout().flush();
        process::redirect_stdio_to_null()
            .map_err(|e| Failure::new(format!("cannot detach from the terminal: {e}")))?;
    } else {
        print!("{}", syntax.started(path, std::process::id()));
        let _ = std::io::stdout().flush();
    }
    Ok(())
}

/// Resolves when the agent must stop: on a shutdown signal, or once its socket has been removed
/// or replaced (gpg-agent does the same), so an agent nobody can reach does not run on. Logs why.
pub(super) async fn stop_reason(
    signal: impl std::future::Future<Output = &'static str>,
    socket_gone: impl std::future::Future<Output = String>,
) {
    tokio::select! {
        name = signal => tracing::info!("{name}: shutting down"),
        why = socket_gone => tracing::warn!("{why}: shutting down"),
    }
}

async fn serve_while_command_runs(
    listener: tokio::net::UnixListener,
    agent: Agent,
    stop: impl std::future::Future<Output = ()>,
    command: &[String],
    path: &std::path::Path,
) -> Outcome {
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .env("SSH_AUTH_SOCK", path)
        .env("SSH_AGENT_PID", std::process::id().to_string())
        .spawn()
        .map_err(|e| Failure::new(format!("cannot run {}: {e}", command[0])))?;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let mut status = None;
    let mut stopped_first = false;
    agentry_platform::unix::serve(listener, agent, async {
        tokio::select! {
            waited = done_rx => status = waited.ok().and_then(Result::ok),
            () = stop => stopped_first = true,
        }
    })
    .await;
    if stopped_first {
        return Err(Failure::new(format!(
            "the agent stopped while {} was still running",
            command[0]
        )));
    }
    match status.and_then(|s| s.code()) {
        Some(0) => Ok(()),
        Some(code) => Err(Failure::Exited(u8::try_from(code).unwrap_or(1))),
        None => Err(Failure::new(format!(
            "{} did not exit normally",
            command[0]
        ))),
    }
}

/// Re-executes `agentry start -D --notify-ready …` detached and prints its shell lines. The
/// agent's own log goes nowhere, so the config's key entries are checked here first and their
/// problems shown.
pub(super) fn start_in_background(args: &super::StartArgs, config: &Config) -> Outcome {
    let (socket, pid) = spawn_in_background(args, config)?;
    print_started(&args.os, &socket, pid);
    Ok(())
}

/// Starts `agentry start -D --notify-ready …` in a new session; its socket and process id once
/// it serves.
pub(super) fn spawn_in_background(
    args: &super::StartArgs,
    config: &Config,
) -> Result<(String, u32), Failure> {
    let can_prompt = crate::config::start_can_prompt(config);
    let mut command = background_start_command(config, can_prompt)?;
    if let Some(path) = &args.os.address {
        command.arg("-a").arg(path);
    }
    args.agent.pass_on(&mut command);
    process::start_in_new_session(&mut command);
    spawn_until_ready(&mut command)
}

/// The shell lines `agentry start` prints for an agent started in the background.
pub(super) fn print_started(args: &OsStartArgs, socket: &str, pid: u32) {
    print!(
        "{}",
        Syntax::choose(args.csh, args.sh).started(std::path::Path::new(socket), pid)
    );
    let _ = std::io::stdout().flush();
}

pub(crate) fn stop(args: &StopArgs) -> Outcome {
    let pid = agent_pid_from_env()?;
    process::terminate_process(pid)
        .map_err(|e| Failure::new(format!("cannot stop agent pid {pid}: {e}")))?;
    print!("{}", Syntax::choose(args.csh, args.sh).stopped(pid));
    Ok(())
}
