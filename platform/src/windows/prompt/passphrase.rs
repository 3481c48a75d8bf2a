//! The passphrase question: a modal dialog built at run time (a static text with the question,
//! an `ES_PASSWORD` edit, OK and Cancel), on top and in the foreground, or an echo-free line on
//! the console (`rpassword`, which reads `CONIN$`). The typed text is read with `GetWindowTextW`
//! into a buffer that is zeroized afterwards, and the edit control is cleared. OK with an empty
//! field, Cancel, closing the dialog or an empty console line all mean "no passphrase". Also the
//! presses that answer a dialog from outside (the timeout's Cancel, tests).

use super::template::{Class, Template};
use super::{find_dialog, press_button, wide};
use std::cell::RefCell;
use windows_sys::Win32::Foundation::{HWND, LPARAM, WPARAM};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    DialogBoxIndirectParamW, EndDialog, GetDlgItem, GetWindowTextLengthW, GetWindowTextW,
    IsWindowVisible, SendMessageW, SetForegroundWindow, SetWindowPos, SetWindowTextW, BM_CLICK,
    BS_DEFPUSHBUTTON, BS_PUSHBUTTON, DS_CENTER, DS_MODALFRAME, DS_SETFONT, DS_SETFOREGROUND,
    ES_AUTOHSCROLL, ES_PASSWORD, HWND_TOPMOST, IDCANCEL, IDOK, SWP_NOMOVE, SWP_NOSIZE, WM_COMMAND,
    WM_INITDIALOG, WM_SETTEXT, WS_BORDER, WS_CAPTION, WS_EX_TOPMOST, WS_POPUP, WS_SYSMENU,
    WS_TABSTOP,
};
use zeroize::Zeroizing;

/// The edit control's id.
const ID_PASSPHRASE: u16 = 100;

thread_local! {
    /// What OK read, handed from the dialog procedure to [`show`] on the same thread.
    static ANSWER: RefCell<Option<Zeroizing<String>>> = const { RefCell::new(None) };
}

/// The caption of passphrase question number `n` about the key `comment` in process `pid`.
pub fn passphrase_caption(pid: u32, comment: &str, n: u64) -> String {
    // Escaped as prompts escape it: no control or bidi character reaches the title bar.
    let comment: String = agentry_core::text::untrusted(comment)
        .chars()
        .take(64)
        .collect();
    format!("agentry: passphrase for {comment} #{n} (pid {pid})")
}

fn build(caption: &str, text: &str) -> Vec<u32> {
    let style = (DS_MODALFRAME | DS_CENTER | DS_SETFOREGROUND | DS_SETFONT) as u32
        | WS_POPUP
        | WS_CAPTION
        | WS_SYSMENU;
    let mut t = Template::new(
        style,
        WS_EX_TOPMOST,
        (0, 0, 280, 100),
        caption,
        (8, "MS Shell Dlg"),
    );
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    // The edit comes first: the dialog manager focuses the first tab stop.
    let edit = (ES_PASSWORD | ES_AUTOHSCROLL) as u32 | WS_BORDER | WS_TABSTOP;
    t.item(Class::Edit, ID_PASSPHRASE, edit, (7, 58, 266, 14), "");
    t.item(Class::Static, 0xFFFF, 0, (7, 7, 266, 46), &text);
    let ok = BS_DEFPUSHBUTTON as u32 | WS_TABSTOP;
    t.item(Class::Button, IDOK as u16, ok, (166, 79, 50, 14), "OK");
    let cancel = BS_PUSHBUTTON as u32 | WS_TABSTOP;
    t.item(
        Class::Button,
        IDCANCEL as u16,
        cancel,
        (223, 79, 50, 14),
        "Cancel",
    );
    t.finish()
}

/// Shows the dialog and blocks until it is answered; the passphrase for OK with text in the field.
pub(crate) fn show(caption: &str, text: &str) -> Option<Zeroizing<String>> {
    let template = build(caption, text);
    ANSWER.with(|a| a.borrow_mut().take());
    // SAFETY: a null name asks for this executable's module handle.
    let module = unsafe { GetModuleHandleW(std::ptr::null()) };
    // SAFETY: the template is a well-formed DLGTEMPLATE (see `template`), DWORD-aligned because
    // it is stored in u32s, and outlives the call; the procedure matches DLGPROC.
    let result = unsafe {
        DialogBoxIndirectParamW(
            module,
            template.as_ptr().cast(),
            std::ptr::null_mut(),
            Some(dialog_proc),
            0,
        )
    };
    let answer = ANSWER.with(|a| a.borrow_mut().take());
    if result == -1 || result == 0 {
        tracing::warn!(
            "cannot show the passphrase dialog: {}",
            std::io::Error::last_os_error()
        );
    }
    if result == IDOK as isize {
        answer
    } else {
        None
    }
}

/// The dialog procedure: on top and in front when shown; OK reads the field, Cancel (also the
/// close box and Escape) ends with nothing.
unsafe extern "system" fn dialog_proc(
    dialog: HWND,
    message: u32,
    wparam: WPARAM,
    _lparam: LPARAM,
) -> isize {
    match message {
        WM_INITDIALOG => {
            // SAFETY: `dialog` is the live dialog this procedure is called for.
            unsafe {
                SetWindowPos(dialog, HWND_TOPMOST, 0, 0, 0, 0, SWP_NOMOVE | SWP_NOSIZE);
                SetForegroundWindow(dialog);
            }
            1
        }
        WM_COMMAND => {
            let id = (wparam & 0xFFFF) as i32;
            if id != IDOK && id != IDCANCEL {
                return 0;
            }
            if id == IDOK {
                let typed = read_and_clear(dialog);
                ANSWER.with(|a| *a.borrow_mut() = typed);
            }
            // SAFETY: ends the modal loop of the dialog this procedure is called for.
            unsafe { EndDialog(dialog, id as isize) };
            1
        }
        _ => 0,
    }
}

/// The edit control's text, read into a zeroized buffer; the control is emptied.
fn read_and_clear(dialog: HWND) -> Option<Zeroizing<String>> {
    // SAFETY: `dialog` is a live dialog handle; a missing item gives a null handle.
    let edit = unsafe { GetDlgItem(dialog, i32::from(ID_PASSPHRASE)) };
    if edit.is_null() {
        return None;
    }
    // SAFETY: `edit` is a live window handle.
    let len = usize::try_from(unsafe { GetWindowTextLengthW(edit) }).unwrap_or(0);
    let mut buffer = Zeroizing::new(vec![0u16; len + 1]);
    let capacity = i32::try_from(buffer.len()).unwrap_or(i32::MAX);
    // SAFETY: the buffer holds `capacity` u16s; the call writes at most that many, NUL included.
    let got = unsafe { GetWindowTextW(edit, buffer.as_mut_ptr(), capacity) };
    let empty = [0u16];
    // SAFETY: `empty` is a NUL-terminated (empty) string.
    unsafe { SetWindowTextW(edit, empty.as_ptr()) };
    let got = usize::try_from(got).unwrap_or(0).min(len);
    if got == 0 {
        return None;
    }
    // Reserved up front (UTF-8 needs at most 3 bytes per UTF-16 unit) so it never reallocates,
    // leaving no unzeroized copy behind.
    let mut text = Zeroizing::new(String::with_capacity(got * 3));
    for c in char::decode_utf16(buffer[..got].iter().copied()) {
        text.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    Some(text)
}

/// The dialog titled `caption` once it is shown: it is found by its caption while still being
/// built, before its controls exist.
fn find_shown(caption: &str) -> Option<HWND> {
    // SAFETY: `IsWindowVisible` accepts any handle.
    find_dialog(caption).filter(|&dialog| unsafe { IsWindowVisible(dialog) } != 0)
}

/// True while the passphrase dialog titled `caption` is shown.
pub fn passphrase_dialog_open(caption: &str) -> bool {
    find_shown(caption).is_some()
}

/// Presses Cancel on the passphrase dialog titled `caption`, if it is open.
pub fn cancel_passphrase_dialog(caption: &str) -> bool {
    press_button(caption, IDCANCEL)
}

/// Types `passphrase` into the password field of the dialog titled `caption` (tests and
/// automation, in this process: a password field gives its text to no other process).
pub fn type_into_passphrase_dialog(caption: &str, passphrase: &str) -> bool {
    let Some(dialog) = find_shown(caption) else {
        return false;
    };
    // SAFETY: `dialog` was just found; a closed handle only makes the call fail.
    let edit = unsafe { GetDlgItem(dialog, i32::from(ID_PASSPHRASE)) };
    if edit.is_null() {
        return false;
    }
    let text = Zeroizing::new(wide(passphrase));
    // SAFETY: `text` is NUL-terminated and outlives the synchronous call.
    unsafe { SendMessageW(edit, WM_SETTEXT, 0, text.as_ptr() as LPARAM) != 0 }
}

/// Types `passphrase` into the dialog titled `caption` and clicks OK.
pub fn answer_passphrase_dialog(caption: &str, passphrase: &str) -> bool {
    if !type_into_passphrase_dialog(caption, passphrase) {
        return false;
    }
    let Some(dialog) = find_dialog(caption) else {
        return false;
    };
    // SAFETY: `dialog` was just found; a closed handle only makes the calls fail.
    let ok = unsafe { GetDlgItem(dialog, IDOK) };
    if ok.is_null() {
        return false;
    }
    // SAFETY: a button click needs no arguments.
    unsafe { SendMessageW(ok, BM_CLICK, 0, 0) };
    true
}

/// Asks on the console without echo; an empty line (or no console) is no passphrase.
pub(super) fn ask_console(text: &str) -> Option<Zeroizing<String>> {
    let typed = Zeroizing::new(rpassword::prompt_password(format!("{text}\nPassphrase: ")).ok()?);
    (!typed.is_empty()).then_some(typed)
}
