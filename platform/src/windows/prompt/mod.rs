//! Prompts on Windows. [`DialogPrompter`] asks with native dialogs: a Yes/No message box for
//! confirmations ([`confirm`]) and a password dialog for passphrases ([`passphrase`]), their
//! text laid out by [`text`], the tray showing a notification and its "prompt waiting" icon
//! meanwhile, each
//! brought to the foreground and kept on top, shown from a blocking thread so no agent thread
//! (and never the `WM_COPYDATA` window thread) waits on it. [`ConsolePrompter`] asks on the
//! agent's console instead (`--tty-prompts`), one question at a time. Nobody answering within
//! the timeout means no: the dialog is then closed ("No" or "Cancel"), and a late console answer
//! is discarded. A dialog whose answer is no longer wanted (the agent dropped the question) is
//! closed the same way.
//!
//! Each dialog has a caption unique to its prompter and process
//! ([`confirm_caption`], [`passphrase_caption`]), by which it is found again to be closed, and by
//! which tests drive it ([`press_yes`], [`close_with_no`], [`answer_passphrase_dialog`],
//! [`type_into_passphrase_dialog`], [`cancel_passphrase_dialog`]).

mod confirm;
mod passphrase;
mod template;
mod text;
pub mod waiting;

pub use confirm::{close_with_no, confirm_box_open, confirm_caption, press_yes};
pub(crate) use passphrase::show as ask_passphrase_in_dialog;
pub use passphrase::{
    answer_passphrase_dialog, cancel_passphrase_dialog, passphrase_caption, passphrase_dialog_open,
    type_into_passphrase_dialog,
};

use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PromptFuture, Prompter};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// Asks with native dialogs; no answer within `timeout` is a refusal.
#[derive(Debug)]
pub struct DialogPrompter {
    timeout: Duration,
    next: AtomicU64,
}

impl DialogPrompter {
    /// A prompter whose questions expire after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            next: AtomicU64::new(1),
        }
    }

    fn number(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

impl Prompter for DialogPrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        let caption = confirm_caption(std::process::id(), self.number());
        let text = text::confirm(&request);
        let notice = text::notice(&request.client, &request.comment, "asks to use");
        let show = move |caption: &str| confirm::show(caption, &text);
        let answer = ask_in_dialog(caption, self.timeout, show, close_with_no);
        Box::pin(async move {
            let _waiting = waiting::prompt_waiting(notice);
            answer.await.unwrap_or(false)
        })
    }

    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        let caption = passphrase_caption(std::process::id(), &request.comment, self.number());
        let text = text::passphrase(&request);
        let notice = text::notice(
            &request.client,
            &request.comment,
            "asks for the passphrase of",
        );
        let show = move |caption: &str| passphrase::show(caption, &text);
        let answer = ask_in_dialog(caption, self.timeout, show, cancel_passphrase_dialog);
        Box::pin(async move {
            let _waiting = waiting::prompt_waiting(notice);
            answer.await.flatten()
        })
    }
}

/// Runs `show(caption)` on a blocking thread and waits for it up to `timeout`. Past the
/// timeout, or when the returned future is dropped first, `dismiss(caption)` is pressed until
/// the dialog has returned; `None` then.
async fn ask_in_dialog<T: Send + 'static>(
    caption: String,
    timeout: Duration,
    show: impl FnOnce(&str) -> T + Send + 'static,
    dismiss: fn(&str) -> bool,
) -> Option<T> {
    let guard = Dismiss {
        caption: caption.clone(),
        returned: Arc::new(AtomicBool::new(false)),
        dismiss,
    };
    let returned = guard.returned.clone();
    let mut task = tokio::task::spawn_blocking(move || {
        let answer = show(&caption);
        returned.store(true, Ordering::Release);
        answer
    });
    if let Ok(answer) = tokio::time::timeout(timeout, &mut task).await {
        return answer.ok();
    }
    // Timed out: the guard dismisses the dialog (retrying, as it may not be created yet);
    // wait for it to return.
    drop(guard);
    let _ = tokio::time::timeout(DISMISS_FOR, task).await;
    None
}

/// How long a dismissed dialog is pressed (every 100 ms) until it returns.
const DISMISS_FOR: Duration = Duration::from_secs(10);

/// Dismisses a dialog still showing when its question is dropped (from a thread of its own,
/// since a drop cannot wait).
struct Dismiss {
    caption: String,
    returned: Arc<AtomicBool>,
    dismiss: fn(&str) -> bool,
}

impl Drop for Dismiss {
    fn drop(&mut self) {
        if self.returned.load(Ordering::Acquire) {
            return;
        }
        let (caption, returned, dismiss) =
            (self.caption.clone(), self.returned.clone(), self.dismiss);
        std::thread::spawn(move || {
            for _ in 0..DISMISS_FOR.as_millis() / 100 {
                if returned.load(Ordering::Acquire) {
                    return;
                }
                dismiss(&caption);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    }
}

/// Asks on the agent's console (`CONOUT$`/`CONIN$`), one question at a time.
#[derive(Debug)]
pub struct ConsolePrompter {
    turns: crate::turns::Turns,
}

impl ConsolePrompter {
    /// A prompter whose questions expire after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            turns: crate::turns::Turns::new(timeout),
        }
    }
}

impl Prompter for ConsolePrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        let text = request.message();
        let asked = self.turns.ask(move || confirm::ask_console(&text).ok());
        Box::pin(async move { asked.await.unwrap_or(false) })
    }

    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        let text = request.message();
        self.turns.ask(move || passphrase::ask_console(&text))
    }
}

/// `s` as a NUL-terminated UTF-16 string.
/// The dialog (class `#32770`: message boxes and our passphrase dialog) titled `caption`.
fn find_dialog(caption: &str) -> Option<windows_sys::Win32::Foundation::HWND> {
    use windows_sys::Win32::UI::WindowsAndMessaging::FindWindowW;
    let (class, caption) = (wide("#32770"), wide(caption));
    // SAFETY: both strings are NUL-terminated.
    let dialog = unsafe { FindWindowW(class.as_ptr(), caption.as_ptr()) };
    (!dialog.is_null()).then_some(dialog)
}

/// The text of every control of the dialog titled `caption`, one control a line, if it is open
/// (tests read what a prompt says with it, whatever the dialog's layout).
pub fn dialog_text(caption: &str) -> Option<String> {
    use windows_sys::core::BOOL;
    use windows_sys::Win32::Foundation::{HWND, LPARAM};
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        EnumChildWindows, GetWindowTextLengthW, GetWindowTextW,
    };
    unsafe extern "system" fn collect(child: HWND, texts: LPARAM) -> BOOL {
        // SAFETY: `texts` is the address of the `Vec<String>` below, alive for the whole
        // EnumChildWindows call, which calls this on its own thread only.
        let texts = unsafe { &mut *(texts as *mut Vec<String>) };
        // SAFETY: `child` is a window handle EnumChildWindows gave us; a window closed since
        // makes these calls return 0.
        let len = unsafe { GetWindowTextLengthW(child) };
        let mut buffer = vec![0u16; usize::try_from(len).unwrap_or(0) + 1];
        let capacity = i32::try_from(buffer.len()).unwrap_or(i32::MAX);
        // SAFETY: `buffer` holds `capacity` u16s, as GetWindowTextW is told.
        let got = unsafe { GetWindowTextW(child, buffer.as_mut_ptr(), capacity) };
        buffer.truncate(usize::try_from(got).unwrap_or(0));
        texts.push(String::from_utf16_lossy(&buffer));
        1
    }
    let dialog = find_dialog(caption)?;
    let mut texts: Vec<String> = Vec::new();
    // SAFETY: `collect` matches WNDENUMPROC and is given the address of `texts`, which outlives
    // the call.
    unsafe {
        EnumChildWindows(
            dialog,
            Some(collect),
            &mut texts as *mut Vec<String> as LPARAM,
        )
    };
    Some(texts.join("\n"))
}

/// Presses `button` (`IDOK`, `IDCANCEL`, `IDYES`, `IDNO`) on the dialog titled `caption`, if
/// it is open.
fn press_button(caption: &str, button: i32) -> bool {
    use windows_sys::Win32::UI::WindowsAndMessaging::{PostMessageW, WM_COMMAND};
    let Some(dialog) = find_dialog(caption) else {
        return false;
    };
    let button = usize::try_from(button).unwrap_or_default();
    // SAFETY: posting a command to a window handle is harmless even if it closed meanwhile.
    unsafe { PostMessageW(dialog, WM_COMMAND, button, 0) != 0 }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}
