//! Prompts through an askpass program, as ssh-agent and ssh-add use one. `$SSH_ASKPASS` (else
//! `/usr/bin/ssh-askpass`) runs with the question as its argument: for a confirmation with
//! `SSH_ASKPASS_PROMPT=confirm`, exit status 0 meaning "allow"; for a passphrase, the program
//! prints it on standard output. As in OpenSSH, askpass is used only with a display
//! (`DISPLAY` or `WAYLAND_DISPLAY`) unless `SSH_ASKPASS_REQUIRE=force`, and never with
//! `SSH_ASKPASS_REQUIRE=never`. The program runs on a blocking thread, so a pending prompt holds
//! up nothing else.

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
            let asked = tokio::task::spawn_blocking(move || {
                Command::new(&program)
                    .arg(question)
                    .env("SSH_ASKPASS_PROMPT", "confirm")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|status| status.success())
                    .unwrap_or_else(|e| {
                        tracing::warn!(target: "agentry::prompt", program = %program.display(), error = %e, "cannot run askpass");
                        false
                    })
            })
            .await;
            asked.unwrap_or(false)
        })
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
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Ok(None);
    }
    Ok(core::str::from_utf8(&stdout)
        .ok()
        .map(|text| Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_owned())))
}

impl Prompter for AskpassPrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        self.ask_confirm(request.message())
    }

    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        let (program, question) = (self.program.clone(), request.message());
        Box::pin(async move {
            let asked = tokio::task::spawn_blocking(move || {
                ask_passphrase(&program, &question).unwrap_or_else(|e| {
                    tracing::warn!(target: "agentry::prompt", program = %program.display(), error = %e, "cannot run askpass");
                    None
                })
            });
            asked.await.ok().flatten()
        })
    }
}
