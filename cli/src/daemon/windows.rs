//! `agentry start` and `agentry stop` on Windows (the shared flow is in `mod.rs`). Serving binds
//! Pageant's named pipe (or the one `-a` names), with `--openssh-pipe` also Windows OpenSSH's,
//! and, unless `--no-window`, Pageant's `WM_COPYDATA` window, and, unless `--no-tray`, the tray
//! icon with its key list (`desktop.rs`), until Ctrl-C or the tray's Exit. Without
//! `-D` it re-executes itself with `-D` as a detached process with no console, waits until the
//! child reports its pipe, prints it and returns. Stop ends the process `SSH_AGENT_PID` names.
//! `agentry openssh-config` prints the `IdentityAgent` line for the pipe.

use crate::config::Config;
use crate::ready::{agent_pid_from_env, background_start_command, spawn_until_ready};
use crate::{Failure, Outcome};
use agentry_core::prompt::Prompter;
use agentry_core::Agent;
use agentry_platform::serve::ServeOptions;
use agentry_platform::windows::copydata::CopyDataWindow;
use agentry_platform::windows::prompt::{ConsolePrompter, DialogPrompter};
use agentry_platform::windows::{
    name, pageant_pipe_name, serve_pipe, PipeError, PipeListener, OPENSSH_PIPE,
};
use clap::Args;
use std::io::Write;
use std::os::windows::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// `DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW`.
const DETACHED: u32 = 0x0000_0008 | 0x0000_0200 | 0x0800_0000;

/// `agentry start`'s Windows options.
#[derive(Debug, Args)]
pub(crate) struct OsStartArgs {
    /// Pipe name (default: Pageant's, \\.\pipe\pageant.USER.HASH).
    #[arg(short = 'a', value_name = "PIPE")]
    address: Option<String>,
    /// Do not open the Pageant WM_COPYDATA window (pipe only).
    #[arg(long)]
    no_window: bool,
    /// Do not show the tray icon (the key list can then not be opened either).
    #[arg(long)]
    no_tray: bool,
    /// Also serve Windows OpenSSH's pipe, \\.\pipe\openssh-ssh-agent (ssh.exe, Git).
    #[arg(long)]
    openssh_pipe: bool,
}

impl OsStartArgs {
    /// Windows has no `start -- COMMAND`.
    pub(super) fn runs_command(&self) -> bool {
        false
    }
}

#[derive(Debug, Args)]
pub(crate) struct StopArgs {}

#[derive(Debug, Args)]
pub(crate) struct OpensshConfigArgs {
    /// Pipe name (default: SSH_AUTH_SOCK if set, else Pageant's).
    #[arg(short = 'a', value_name = "PIPE")]
    address: Option<String>,
}

fn pipe_name(address: Option<&str>) -> Result<String, Failure> {
    match address {
        Some(a) => Ok(a.to_owned()),
        None => pageant_pipe_name()
            .map_err(|e| Failure::new(format!("cannot compute Pageant's pipe name: {e}"))),
    }
}

pub(crate) fn openssh_config(args: &OpensshConfigArgs) -> Outcome {
    let env = std::env::var("SSH_AUTH_SOCK")
        .ok()
        .filter(|s| !s.is_empty());
    let pipe = pipe_name(args.address.as_deref().or(env.as_deref()))?;
    println!("{}", name::openssh_config_line(&pipe));
    Ok(())
}

/// Restricts access to the agent process (after Pageant's `restrict_process_acl`).
pub(super) fn harden() {
    if let Err(e) = agentry_platform::windows::process::harden_process() {
        tracing::warn!("cannot restrict access to the agent process: {e}");
    }
}

/// The console (`--tty-prompts` or the config's `terminal` backend), else dialogs.
pub(super) fn prompter(
    terminal: bool,
    _config: &Config,
    timeout: Duration,
) -> Option<Arc<dyn Prompter>> {
    Some(if terminal {
        Arc::new(ConsolePrompter::new(timeout))
    } else {
        Arc::new(DialogPrompter::new(timeout))
    })
}

/// Binds the pipes and the window and serves until Ctrl-C.
pub(super) async fn serve(args: &super::StartArgs, config: &Config, agent: Agent) -> Outcome {
    let os = &args.os;
    let pipe = pipe_name(os.address.as_deref().or(config.pipe.as_deref()))?;
    crate::config::load_keys(&agent, config);
    crate::config::load_providers(&agent, config).await;
    let listener = PipeListener::bind(&pipe).map_err(|e| Failure::new(e.to_string()))?;
    let openssh = if os.openssh_pipe || config.openssh_pipe {
        Some(PipeListener::bind(OPENSSH_PIPE).map_err(|e| match e {
            PipeError::InUse(_) => Failure::new(format!(
                "{e}. If it is the Windows ssh-agent service, stop it (as administrator): \
                 Stop-Service ssh-agent; Set-Service ssh-agent -StartupType Disabled"
            )),
            other => Failure::new(other.to_string()),
        })?)
    } else {
        None
    };
    let window = if os.no_window {
        None
    } else {
        Some(
            CopyDataWindow::start(name::PAGEANT_WINDOW, agent.clone())
                .map_err(|e| Failure::new(e.to_string()))?,
        )
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tray = if os.no_tray {
        None
    } else {
        let desktop = super::desktop::AgentDesktop {
            agent: agent.clone(),
            runtime: tokio::runtime::Handle::current(),
            stop: stop.clone(),
            config: config.path.clone(),
            pipe: pipe.clone(),
        };
        // No desktop to show it on (a service, a session without one) leaves the agent serving.
        agentry_platform::windows::desktop::start(Arc::new(desktop), &pipe)
            .inspect_err(|e| tracing::warn!("cannot start the tray, serving without it: {e}"))
            .ok()
    };
    if args.notify_ready {
        println!("{pipe}");
    } else {
        println!("SSH_AUTH_SOCK={pipe}");
        println!("{}", name::openssh_config_line(&pipe));
    }
    let _ = std::io::stdout().flush();
    tracing::info!(pipe = %pipe, window = !os.no_window, pid = std::process::id(), "agent listening");
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let extra = openssh.map(|listener| {
        let served = serve_pipe(
            listener,
            agent.clone(),
            until_stopped(stopped.clone()),
            ServeOptions::default(),
        );
        tokio::spawn(served)
    });
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: shutting down");
        let _ = stop.send(true);
    });
    // The pipes and the window share one shutdown: Ctrl-C ends all of them.
    let window = async {
        if let Some(window) = window {
            window.serve_until(until_stopped(stopped.clone())).await;
        }
    };
    let pipe = serve_pipe(
        listener,
        agent,
        until_stopped(stopped.clone()),
        ServeOptions::default(),
    );
    tokio::join!(pipe, window);
    if let Some(extra) = extra {
        let _ = extra.await;
    }
    drop(tray);
    Ok(())
}

/// Re-executes `agentry start -D --notify-ready …` detached and prints where it listens.
pub(super) fn start_in_background(args: &super::StartArgs, config: &Config) -> Outcome {
    let (pipe, pid) = spawn_in_background(args, config)?;
    print_started(&args.os, &pipe, pid);
    Ok(())
}

/// Starts `agentry start -D --notify-ready …` detached; its pipe and process id once it serves.
pub(super) fn spawn_in_background(
    args: &super::StartArgs,
    config: &Config,
) -> Result<(String, u32), Failure> {
    let mut command = background_start_command(config, crate::config::start_can_prompt(config))?;
    if let Some(pipe) = &args.os.address {
        command.arg("-a").arg(pipe);
    }
    if args.os.no_window {
        command.arg("--no-window");
    }
    if args.os.no_tray {
        command.arg("--no-tray");
    }
    if args.os.openssh_pipe {
        command.arg("--openssh-pipe");
    }
    args.agent.pass_on(&mut command);
    command.creation_flags(DETACHED);
    spawn_until_ready(&mut command)
}

/// The lines `agentry start` prints for an agent started in the background.
pub(super) fn print_started(_args: &OsStartArgs, pipe: &str, pid: u32) {
    println!("SSH_AUTH_SOCK={pipe}");
    println!("SSH_AGENT_PID={pid}");
}

pub(crate) fn stop(_args: &StopArgs) -> Outcome {
    let pid = agent_pid_from_env()?;
    let status = Command::new("taskkill")
        .args(["/PID", &pid.to_string(), "/F"])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| Failure::new(format!("cannot run taskkill: {e}")))?;
    if !status.success() {
        return Err(Failure::new(format!("cannot stop agent pid {pid}")));
    }
    println!("Agent pid {pid} killed");
    Ok(())
}
