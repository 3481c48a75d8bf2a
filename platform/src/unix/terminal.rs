//! Prompts on the controlling terminal, for an agent run in the foreground (`agentry start -D
//! --tty-prompts`): a `[y/N]` question for confirmations, an unechoed line for passphrases.
//! Questions are asked one at a time (they share one terminal); a question nobody answered
//! before the timeout is a refusal, and its late answer is discarded.

use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PromptFuture, Prompter};
use std::io::{BufRead, Write};
use std::time::Duration;
use zeroize::Zeroizing;

/// Asks on `/dev/tty`.
#[derive(Debug)]
pub struct TerminalPrompter {
    turns: crate::turns::Turns,
}

impl TerminalPrompter {
    /// A prompter whose questions expire after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            turns: crate::turns::Turns::new(timeout),
        }
    }
}

impl Prompter for TerminalPrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        let text = request.message();
        let asked = self.turns.ask(move || ask_yes_no(&text).ok());
        Box::pin(async move { asked.await.unwrap_or(false) })
    }

    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        let text = request.message();
        self.turns.ask(move || {
            rpassword::prompt_password(format!("{text}\nPassphrase: "))
                .ok()
                .map(Zeroizing::new)
        })
    }
}

fn ask_yes_no(text: &str) -> std::io::Result<bool> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let mut out = &tty;
    write!(out, "{text}\nAllow? [y/N] ")?;
    out.flush()?;
    let mut line = String::new();
    std::io::BufReader::new(&tty).read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
