//! Confirmation prompts on Windows: a native Yes/No message box ([`DialogPrompter`]), "No" as
//! the default button, brought to the foreground and kept on top, shown from a blocking thread so
//! no agent thread (and never the `WM_COPYDATA` window thread) waits on it; or, for an agent run
//! in the foreground with `--tty-prompts`, a `[y/N]` question on its console
//! ([`ConsolePrompter`]), one at a time. Nobody answering within the timeout means no: the box
//! is then closed with "No", and a late console answer is discarded.

use agentry_core::prompt::{ConfirmRequest, PromptFuture, Prompter};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    FindWindowW, MessageBoxW, PostMessageW, IDNO, IDYES, MB_DEFBUTTON2, MB_ICONQUESTION,
    MB_SETFOREGROUND, MB_TOPMOST, MB_YESNO, WM_COMMAND,
};

/// Asks with a message box; no answer within `timeout` is a refusal.
#[derive(Debug)]
pub struct DialogPrompter {
    timeout: Duration,
}

impl DialogPrompter {
    /// A prompter whose questions expire after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

impl Prompter for DialogPrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // A caption unique to this question, to find its box again on timeout.
        let caption = format!(
            "agentry: confirm key use #{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let text = request.message();
        let timeout = self.timeout;
        Box::pin(async move {
            let shown = caption.clone();
            let answer = tokio::task::spawn_blocking(move || {
                let (text, caption) = (wide(&text), wide(&shown));
                let style =
                    MB_YESNO | MB_ICONQUESTION | MB_DEFBUTTON2 | MB_SETFOREGROUND | MB_TOPMOST;
                // SAFETY: both strings are NUL-terminated and live across the call.
                unsafe { MessageBoxW(std::ptr::null_mut(), text.as_ptr(), caption.as_ptr(), style) }
            });
            match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(answer)) => answer == IDYES,
                Ok(Err(_)) => false,
                Err(_) => {
                    close_with_no(&caption);
                    false
                }
            }
        })
    }
}

/// Presses "No" on the message box titled `caption`, if it is still open.
pub fn close_with_no(caption: &str) -> bool {
    let (class, caption) = (wide("#32770"), wide(caption));
    // SAFETY: both strings are NUL-terminated.
    let dialog = unsafe { FindWindowW(class.as_ptr(), caption.as_ptr()) };
    if dialog.is_null() {
        return false;
    }
    // SAFETY: posting a command to a window handle is harmless even if it closed meanwhile.
    unsafe { PostMessageW(dialog, WM_COMMAND, IDNO as usize, 0) != 0 }
}

/// Asks on the agent's console (`CONOUT$`/`CONIN$`); anything but `y`/`yes` is a refusal.
#[derive(Debug)]
pub struct ConsolePrompter {
    timeout: Duration,
    one_at_a_time: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl ConsolePrompter {
    /// A prompter whose questions expire after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            one_at_a_time: std::sync::Arc::default(),
        }
    }
}

impl Prompter for ConsolePrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        let (timeout, lock) = (self.timeout, self.one_at_a_time.clone());
        let text = request.message();
        Box::pin(async move {
            let asked = async move {
                // Held until the console read ends, even past the timeout.
                let turn = lock.lock_owned().await;
                tokio::task::spawn_blocking(move || {
                    let _turn = turn;
                    ask_console(&text).unwrap_or(false)
                })
                .await
                .unwrap_or(false)
            };
            tokio::time::timeout(timeout, asked).await.unwrap_or(false)
        })
    }
}

fn ask_console(text: &str) -> std::io::Result<bool> {
    use std::io::{BufRead, Write};
    let mut out = std::fs::OpenOptions::new().write(true).open("CONOUT$")?;
    write!(out, "{text}\nAllow? [y/N] ")?;
    out.flush()?;
    let input = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("CONIN$")?;
    let mut line = String::new();
    std::io::BufReader::new(input).read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
