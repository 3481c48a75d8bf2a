//! Prompts through an askpass program, as ssh-agent and ssh-add use one. `$SSH_ASKPASS` (else
//! `/usr/bin/ssh-askpass`) runs with the question as its argument: for a confirmation with
//! `SSH_ASKPASS_PROMPT=confirm`, exit status 0 meaning "allow"; for a passphrase, the program
//! prints it on standard output. As in OpenSSH, askpass is used only with a display
//! (`DISPLAY` or `WAYLAND_DISPLAY`) unless `SSH_ASKPASS_REQUIRE=force`, and never with
//! `SSH_ASKPASS_REQUIRE=never`. The program runs on a blocking thread, so a pending prompt holds
//! up nothing else.

use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PromptFuture, Prompter};
use std::path::PathBuf;
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

    /// The askpass OpenSSH would use in this environment, if any.
    pub fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let require = var("SSH_ASKPASS_REQUIRE");
        let require = require.as_ref().and_then(|v| v.to_str());
        let has_display = var("DISPLAY").is_some() || var("WAYLAND_DISPLAY").is_some();
        match require {
            Some("never") => return None,
            Some("force") => {}
            _ if !has_display => return None,
            _ => {}
        }
        let program = var("SSH_ASKPASS").map(PathBuf::from).or_else(|| {
            let default = PathBuf::from(DEFAULT_ASKPASS);
            default.exists().then_some(default)
        })?;
        Some(Self { program })
    }

    /// Runs the program with `question`; its exit status and standard output.
    fn ask(&self, question: String, confirm: bool) -> PromptFuture<Option<(bool, Vec<u8>)>> {
        let program = self.program.clone();
        Box::pin(async move {
            let asked = tokio::task::spawn_blocking(move || {
                let mut command = Command::new(&program);
                command.arg(question).stdin(Stdio::null()).stderr(Stdio::null());
                if confirm {
                    command.env("SSH_ASKPASS_PROMPT", "confirm").stdout(Stdio::null());
                } else {
                    command.env_remove("SSH_ASKPASS_PROMPT").stdout(Stdio::piped());
                }
                match command.output() {
                    Ok(out) => Some((out.status.success(), out.stdout)),
                    Err(e) => {
                        tracing::warn!(target: "agentry::prompt", program = %program.display(), error = %e, "cannot run askpass");
                        None
                    }
                }
            })
            .await;
            asked.ok().flatten()
        })
    }
}

impl Prompter for AskpassPrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        let asked = self.ask(request.message(), true);
        Box::pin(async move { matches!(asked.await, Some((true, _))) })
    }

    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        let asked = self.ask(request.message(), false);
        Box::pin(async move {
            let (ok, stdout) = asked.await?;
            let stdout = Zeroizing::new(stdout);
            if !ok {
                return None;
            }
            let text = core::str::from_utf8(&stdout).ok()?;
            Some(Zeroizing::new(
                text.trim_end_matches(['\n', '\r']).to_owned(),
            ))
        })
    }
}
