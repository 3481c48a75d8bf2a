//! Confirmation prompts through an askpass program, as ssh-agent does for `ssh-add -c` keys:
//! `$SSH_ASKPASS` (else `/usr/bin/ssh-askpass`) runs with `SSH_ASKPASS_PROMPT=confirm` and the
//! question as its argument; exit status 0 means "allow". The program runs on a blocking
//! thread, so a pending prompt holds up nothing else.

use agentry_core::prompt::{ConfirmRequest, PromptFuture, Prompter};
use std::path::PathBuf;
use std::process::{Command, Stdio};

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

    /// `$SSH_ASKPASS` or the default askpass, if one is configured or installed.
    pub fn from_env() -> Option<Self> {
        let program = std::env::var_os("SSH_ASKPASS")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                let default = PathBuf::from(DEFAULT_ASKPASS);
                default.exists().then_some(default)
            })?;
        Some(Self { program })
    }
}

impl Prompter for AskpassPrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        let program = self.program.clone();
        Box::pin(async move {
            let question = request.message();
            let asked = tokio::task::spawn_blocking(move || {
                Command::new(&program)
                    .arg(question)
                    .env("SSH_ASKPASS_PROMPT", "confirm")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .status()
                    .map(|s| s.success())
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
