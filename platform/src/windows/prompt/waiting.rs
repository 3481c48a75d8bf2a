//! Which prompts wait now, for the tray: a dialog's prompter registers what it asks (which
//! program, which key) for as long as the returned [`PromptNotice`] lives, and the tray window,
//! once it listens, is told by a posted [`WM_PROMPT`] to show a notification and its "prompt
//! waiting" icon. With no tray, nothing is posted.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use windows_sys::Win32::Foundation::HWND;
use windows_sys::Win32::UI::WindowsAndMessaging::{PostMessageW, WM_APP};

/// Posted to the listening window when a prompt starts (`wParam` 1) or ends (0).
pub(crate) const WM_PROMPT: u32 = WM_APP + 3;

/// The window told of prompts (0 when none).
static LISTENER: AtomicUsize = AtomicUsize::new(0);
/// What each waiting prompt is about, oldest first.
static PROMPTS: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());

/// A waiting prompt, shown by the tray until dropped.
#[derive(Debug)]
pub struct PromptNotice(u64);

impl Drop for PromptNotice {
    fn drop(&mut self) {
        prompts().retain(|(id, _)| *id != self.0);
        post(0);
    }
}

/// Registers a waiting prompt described by `what` until the notice drops.
pub fn prompt_waiting(what: String) -> PromptNotice {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    prompts().push((id, what));
    post(1);
    PromptNotice(id)
}

/// Makes `hwnd` (0: none) the window told of prompts.
pub(crate) fn set_listener(hwnd: usize) {
    LISTENER.store(hwnd, Ordering::Release);
}

/// How many prompts wait.
pub(crate) fn count() -> usize {
    prompts().len()
}

/// What the newest waiting prompt asks.
pub(crate) fn newest() -> Option<String> {
    prompts().last().map(|(_, what)| what.clone())
}

fn prompts() -> MutexGuard<'static, Vec<(u64, String)>> {
    PROMPTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn post(started: usize) {
    let hwnd = LISTENER.load(Ordering::Acquire);
    if hwnd != 0 {
        // SAFETY: posting to a window handle is harmless even if it was destroyed meanwhile.
        unsafe { PostMessageW(hwnd as HWND, WM_PROMPT, started, 0) };
    }
}
