//! `agentry bridge` (Linux, for WSL): serves a Unix socket exactly as `agentry start` does (the
//! same serve loop, socket directory and peer checks, shell output and `agentry stop`), but
//! relays every connection to the Windows agent through ONE long-lived `agentry.exe relay --mux`
//! ([`agentry_platform::unix::bridge`]). The relay is the command after `--`, else
//! `agentry.exe` from `$AGENTRY_WINDOWS_EXE`, else from `PATH` (WSL appends the Windows PATH).
//! Idempotent: when a bridge already answers on the socket, its variables are printed and
//! nothing is started, so `eval "$(agentry bridge -s)"` can sit in a shell profile.

use super::unix::{announce_lines, stop_reason};
use crate::ready::spawn_until_ready;
use crate::shell::Syntax;
use crate::{Failure, Outcome};
use agentry_platform::unix::bridge::{Bridge, BridgeOptions};
use agentry_platform::unix::socket::default_bridge_socket_path;
use agentry_platform::unix::{activation, process, signals, AgentSocket};
use clap::Args;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Windows executable's name looked up on `PATH`.
const WINDOWS_EXE: &str = "agentry.exe";

#[derive(Debug, Args)]
pub(crate) struct BridgeArgs {
    /// Socket path; its directory must be yours with mode 0700 (default:
    /// $XDG_RUNTIME_DIR/agentry/bridge.sock, else /tmp/agentry-bridge-UID/bridge.sock).
    #[arg(short = 'a', value_name = "PATH")]
    address: Option<PathBuf>,
    /// Stay in the foreground and log to standard error.
    #[arg(short = 'D', long)]
    foreground: bool,
    /// Print Bourne shell commands.
    #[arg(short = 's', conflicts_with = "csh")]
    sh: bool,
    /// Print C shell commands.
    #[arg(short = 'c')]
    csh: bool,
    /// Internal: print where the bridge listens on stdout once it does, then detach.
    #[arg(long, hide = true)]
    notify_ready: bool,
    /// The relay to run (default: agentry.exe relay --mux, agentry.exe from $AGENTRY_WINDOWS_EXE,
    /// else PATH).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// `agentry bridge`.
pub(crate) fn bridge(args: &BridgeArgs) -> Outcome {
    let path = args
        .address
        .clone()
        .unwrap_or_else(default_bridge_socket_path);
    let syntax = Syntax::choose(args.csh, args.sh);
    // Started by systemd (`agentry install --bridge`): the socket is ours to serve.
    let activated = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        == Some(std::process::id());
    if activated && !args.foreground {
        return Err(Failure::new("started by systemd: run with --foreground"));
    }
    let answering = if activated {
        None
    } else {
        answering_bridge(&path)?
    };
    if let Some(pid) = answering {
        if args.foreground {
            return Err(Failure::new(format!(
                "a bridge already answers on {} (pid {pid})",
                path.display()
            )));
        }
        print!("{}", syntax.started(&path, pid));
        let _ = std::io::stdout().flush();
        return Ok(());
    }
    let command = relay_command(&args.command)?;
    if !args.foreground {
        return start_in_background(&path, &command, syntax);
    }
    init_logs();
    super::unix::harden();
    // One thread: the bridge only moves bytes between sockets and the relay's pipes, and a
    // request's hops (socket, queue to the relay, reply) then never wake another thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the runtime: {e}")))?;
    let distribution = std::env::var("WSL_DISTRO_NAME").unwrap_or_default();
    let bridge = Bridge::new(BridgeOptions {
        command,
        distribution,
    });
    runtime.block_on(serve(args, &path, bridge))
}

/// The pid of a process of ours that answers on `path`, if one does.
fn answering_bridge(path: &Path) -> Result<Option<u32>, Failure> {
    if UnixStream::connect(path).is_err() {
        return Ok(None);
    }
    let cannot_tell = |e: std::io::Error| {
        Failure::new(format!("{}: cannot tell who answers: {e}", path.display()))
    };
    // The peer's credentials through tokio (std's are unstable), on a small runtime of its own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(cannot_tell)?;
    let cred = runtime
        .block_on(async { tokio::net::UnixStream::connect(path).await?.peer_cred() })
        .map_err(cannot_tell)?;
    let (pid, uid) = (cred.pid().and_then(|p| u32::try_from(p).ok()), cred.uid());
    let pid = pid.ok_or_else(|| cannot_tell(std::io::Error::other("no process id")))?;
    if uid != agentry_platform::unix::peer::our_uid() {
        return Err(Failure::new(format!(
            "{} is served by uid {uid}, not by you",
            path.display()
        )));
    }
    Ok(Some(pid))
}

/// The relay command: `given`, else `agentry.exe relay --mux` found through
/// `$AGENTRY_WINDOWS_EXE`, then `PATH`.
pub(crate) fn relay_command(given: &[OsString]) -> Result<Vec<OsString>, Failure> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let exe = match std::env::var_os("AGENTRY_WINDOWS_EXE").filter(|v| !v.is_empty()) {
        Some(exe) if Path::new(&exe).is_file() => PathBuf::from(exe),
        Some(exe) => {
            return Err(Failure::new(format!(
                "AGENTRY_WINDOWS_EXE={} is not a file: set it to the Windows agentry.exe (e.g. /mnt/c/Users/you/agentry/agentry.exe)",
                Path::new(&exe).display()
            )))
        }
        None => on_path(WINDOWS_EXE).ok_or_else(|| {
            Failure::new(
                "no agentry.exe found: set AGENTRY_WINDOWS_EXE to the Windows agentry.exe (e.g. /mnt/c/Users/you/agentry/agentry.exe), put its directory on PATH, or give the relay command after --",
            )
        })?,
    };
    Ok(vec![exe.into(), "relay".into(), "--mux".into()])
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Re-executes `agentry bridge -D --notify-ready -a PATH -- COMMAND` detached and prints its
/// shell lines.
fn start_in_background(path: &Path, command: &[OsString], syntax: Syntax) -> Outcome {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(format!("cannot find the agentry executable: {e}")))?;
    let mut background = Command::new(exe);
    background
        .args(["bridge", "--foreground", "--notify-ready", "-a"])
        .arg(path)
        .arg("--")
        .args(command);
    process::start_in_new_session(&mut background);
    let (socket, pid) = spawn_until_ready(&mut background)?;
    print!("{}", syntax.started(Path::new(&socket), pid));
    let _ = std::io::stdout().flush();
    Ok(())
}

/// Info to standard error, unless AGENTRY_LOG asks for more.
fn init_logs() {
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match tracing_subscriber::EnvFilter::try_from_env("AGENTRY_LOG") {
        Ok(filter) => logs.with_env_filter(filter).init(),
        Err(_) => logs.with_max_level(tracing::Level::INFO).init(),
    }
}

/// Binds the socket (or takes systemd's), announces it and serves until a signal or until the
/// socket is gone.
async fn serve(args: &BridgeArgs, path: &Path, bridge: Bridge) -> Outcome {
    let mut socket = match activation::listener_from_systemd() {
        Ok(Some(listener)) => AgentSocket::adopt(listener),
        Ok(None) => agentry_platform::unix::bind_agent_socket(Some(path))
            .map_err(|e| Failure::new(e.to_string()))?,
        Err(e) => return Err(Failure::new(format!("systemd socket: {e}"))),
    };
    let path = socket.path().to_owned();
    let listener = socket
        .tokio_listener()
        .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    let signal = signals::shutdown_signals()
        .map_err(|e| Failure::new(format!("cannot install signal handlers: {e}")))?;
    let socket_gone = socket.watch().gone();
    announce_lines(args.notify_ready, Syntax::choose(args.csh, args.sh), &path)?;
    tracing::info!(socket = %path.display(), pid = std::process::id(), "bridge listening");
    agentry_platform::unix::serve(listener, bridge, stop_reason(signal, socket_gone)).await;
    Ok(())
}
