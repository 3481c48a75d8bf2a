//! What the tray and the key list share on the UI thread: the [`Desktop`] they act on, and
//! handing an [`Action`] to it on a worker thread, so the UI thread never waits for the agent
//! or a prompt; a failure is shown in a message box that says why.

use super::{dialogs, Action, Desktop};
use std::cell::RefCell;
use std::sync::Arc;
use windows_sys::Win32::Foundation::HWND;

thread_local! {
    static DESKTOP: RefCell<Option<Arc<dyn Desktop>>> = const { RefCell::new(None) };
}

/// The desktop, cloned out of the UI state.
pub(super) fn desktop() -> Option<Arc<dyn Desktop>> {
    DESKTOP.with(|d| d.borrow().clone())
}

/// Sets (or clears) this UI thread's desktop.
pub(super) fn set_desktop(desktop: Option<Arc<dyn Desktop>>) {
    DESKTOP.with(|d| *d.borrow_mut() = desktop);
}

/// Runs `action()` (which may ask the user first, returning `None` to give up) and hands it to
/// the desktop on a worker thread; a failure gets a message box captioned `what`.
pub(super) fn run_action(
    what: &'static str,
    action: impl FnOnce() -> Option<Action> + Send + 'static,
) {
    let Some(desktop) = desktop() else { return };
    std::thread::spawn(move || {
        let Some(action) = action() else { return };
        match desktop.perform(action) {
            Ok(None) => {}
            Ok(Some(text)) => dialogs::message(&dialogs::caption(what), &text, false),
            Err(text) => dialogs::message(&dialogs::caption(what), &text, true),
        }
    });
}

/// Asks for a key file on this (UI) thread, then adds it on a worker.
pub(super) fn add_key_file(owner: HWND, encrypted: bool) {
    if let Some(path) = dialogs::open_key_file(owner, encrypted) {
        run_action(dialogs::ADD_FAILED, move || {
            Some(Action::AddFile { path, encrypted })
        });
    }
}
