//! Prompts through an askpass program, as ssh-agent and ssh-add use one. `$SSH_ASKPASS` (else
//! `/usr/bin/ssh-askpass`) runs with the question as its argument: for a confirmation with
//! `SSH_ASKPASS_PROMPT=confirm`, exit status 0 meaning "allow"; for a passphrase, the program
//! prints it on standard output. As in OpenSSH, askpass is used only with a display
//! (`DISPLAY` or `WAYLAND_DISPLAY`) unless `SSH_ASKPASS_REQUIRE=force`, and never with
//! `SSH_ASKPASS_REQUIRE=never`. The agent's prompts wait for the program without holding a
//! thread, so a pending prompt holds up nothing else.
//!
//! Invariant: a prompt's askpass does not outlive the prompt. It runs in a process group of its
//! own, and when the prompt's future is dropped before the program exits (the core's prompt
//! timeout, or the request abandoned), the whole group is killed and the program reaped, so no
//! dialog is left on screen answering nobody and no process is left behind.

use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PromptFuture, Prompter};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

const DEFAULT_ASKPASS: &str = "/usr/bin/ssh-askpass";

/// A [`Prompter`] that runs an askpass program.
#[derive(Debug, Clone)]
pub struct AskpassPrompter {
    program: PathBuf,
}

impl AskpassPrompter {
    /// Runs `program` for every question.
    pub fn new(program: PathBuf) -> Self {
        Self { program }
    }

    /// The askpass OpenSSH would use in this environment (the agent has no terminal), if any.
    pub fn from_env() -> Option<Self> {
        program_from_env(false).map(Self::new)
    }

    /// Runs the program with a yes/no `question`; true when it exits 0.
    fn ask_confirm(&self, question: String) -> PromptFuture<bool> {
        let program = self.program.clone();
        Box::pin(async move {
            let mut command = tokio::process::Command::new(&program);
            command
                .arg(question)
                .env("SSH_ASKPASS_PROMPT", "confirm")
                .stdout(Stdio::null());
            let asked = run_until_dropped(command).await;
            asked.map(|out| out.status.success()).unwrap_or_else(|e| {
                tracing::warn!(target: "agentry::prompt", program = %program.display(), error = %e, "cannot run askpass");
                false
            })
        })
    }
}

/// Runs `command` (standard input and error null, standard output as it was set) in a process
/// group of its own and collects its output. Dropping the future before the program exits kills
/// the group and has the runtime reap the program.
async fn run_until_dropped(
    mut command: tokio::process::Command,
) -> std::io::Result<std::process::Output> {
    command
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    AskpassRun(command.spawn()?).output().await
}

/// A running askpass program. Dropped before it exited, it kills the program's process group
/// (the `Child`, dropped next, only kills the program itself and hands it to the runtime to
/// reap: a shell script's own children would be left running).
struct AskpassRun(tokio::process::Child);

impl AskpassRun {
    async fn output(mut self) -> std::io::Result<std::process::Output> {
        let mut stdout = self.0.stdout.take();
        let read = async {
            let mut bytes = Vec::with_capacity(1024);
            if let Some(stdout) = &mut stdout {
                tokio::io::AsyncReadExt::read_to_end(stdout, &mut bytes).await?;
            }
            Ok(bytes)
        };
        let (status, stdout) = tokio::try_join!(self.0.wait(), read)?;
        Ok(std::process::Output {
            status,
            stdout,
            stderr: Vec::new(),
        })
    }
}

impl Drop for AskpassRun {
    fn drop(&mut self) {
        // `id()` is `None` once the program has been waited for.
        let Some(group) = self.0.id().and_then(|id| libc::pid_t::try_from(id).ok()) else {
            return;
        };
        // SAFETY: a plain system call, no memory passed. `process_group(0)` made the program the
        // leader of group `group`, and it has not been reaped, so the id is still that group's.
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
    }
}

/// The askpass program OpenSSH's rules pick (`readpass.c`): none with
/// `SSH_ASKPASS_REQUIRE=never`; always with `force`; otherwise only without a terminal
/// (`has_terminal`) and with a display.
pub fn program_from_env(has_terminal: bool) -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let require = var("SSH_ASKPASS_REQUIRE");
    let has_display = var("DISPLAY").is_some() || var("WAYLAND_DISPLAY").is_some();
    match require.as_ref().and_then(|v| v.to_str()) {
        Some("never") => return None,
        Some("force") => {}
        _ if has_terminal || !has_display => return None,
        _ => {}
    }
    var("SSH_ASKPASS").map(PathBuf::from).or_else(|| {
        let default = PathBuf::from(DEFAULT_ASKPASS);
        default.exists().then_some(default)
    })
}

/// Asks `program` for a passphrase with `question`, in this thread: `None` when it cancels
/// (a non-zero exit) or prints something that is not text.
pub fn ask_passphrase(
    program: &Path,
    question: &str,
) -> std::io::Result<Option<Zeroizing<String>>> {
    let out = Command::new(program)
        .arg(question)
        .env_remove("SSH_ASKPASS_PROMPT")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()?;
    Ok(passphrase_from(out))
}

/// The passphrase an askpass run printed: `None` when it cancelled (a non-zero exit) or printed
/// something that is not text.
fn passphrase_from(out: std::process::Output) -> Option<Zeroizing<String>> {
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return None;
    }
    core::str::from_utf8(&stdout)
        .ok()
        .map(|text| Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_owned()))
}

impl Prompter for AskpassPrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        self.ask_confirm(request.message())
    }

    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        let (program, question) = (self.program.clone(), request.message());
        Box::pin(async move {
            let mut command = tokio::process::Command::new(&program);
            command
                .arg(question)
                .env_remove("SSH_ASKPASS_PROMPT")
                .stdout(Stdio::piped());
            match run_until_dropped(command).await {
                Ok(out) => passphrase_from(out),
                Err(e) => {
                    tracing::warn!(target: "agentry::prompt", program = %program.display(), error = %e, "cannot run askpass");
                    None
                }
            }
        })
    }
}
