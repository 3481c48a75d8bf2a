//! Starting and stopping the background agent on any OS: spawn `agentry start --foreground
//! --notify-ready …` detached, read the one line it prints once it listens (its socket or pipe),
//! or, if it exits first, turn its last stderr line into the error; find the agent to stop from
//! `SSH_AGENT_PID`.

use crate::config::Config;
use crate::Failure;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// `agentry start --foreground --notify-ready` for this executable, with `--config` when `config`
/// was read from a file. The background agent's log goes nowhere, so that file's key problems are
/// shown here first (`can_prompt`: whether the agent will be able to ask for passphrases).
pub(crate) fn background_start_command(
    config: &Config,
    can_prompt: bool,
) -> Result<Command, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(format!("cannot find the agentry executable: {e}")))?;
    let mut command = Command::new(exe);
    command.args(["start", "--foreground", "--notify-ready"]);
    if let Some(path) = &config.path {
        crate::config::report_key_problems(config, path, can_prompt);
        command.arg("--config").arg(path);
    }
    Ok(command)
}

/// Spawns `command` (already detached as the OS requires) and waits until it reports where it
/// listens. Returns that address and the agent's process id.
pub(crate) fn spawn_until_ready(command: &mut Command) -> Result<(String, u32), Failure> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| Failure::new(format!("cannot start the agent: {e}")))?;
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    let address = line.trim_end();
    if address.is_empty() {
        let mut errors = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut errors);
        }
        let _ = child.wait();
        let last = errors.lines().last().unwrap_or("the agent exited").trim();
        let last = last.strip_prefix("agentry: ").unwrap_or(last);
        return Err(Failure::new(last.to_owned()));
    }
    Ok((address.to_owned(), child.id()))
}

/// The agent's process id from `SSH_AGENT_PID`, as `agentry stop` (like `ssh-agent -k`) needs it.
pub(crate) fn agent_pid_from_env() -> Result<u32, Failure> {
    let pid = std::env::var("SSH_AGENT_PID")
        .map_err(|_| Failure::new("SSH_AGENT_PID is not set, cannot stop the agent"))?;
    pid.trim()
        .parse()
        .map_err(|_| Failure::new(format!("SSH_AGENT_PID={pid} is not a process id")))
}
