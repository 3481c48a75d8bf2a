//! The confirmation question: a Yes/No message box with "No" as the default button, in the
//! foreground and on top, or a `[y/N]` line on the console. Also the presses that answer a box
//! from outside (the timeout's "No", tests' "Yes").

use super::{press_button, wide};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    MessageBoxW, IDNO, IDYES, MB_DEFBUTTON2, MB_ICONQUESTION, MB_SETFOREGROUND, MB_TOPMOST,
    MB_YESNO,
};

/// The caption of confirmation number `n` of the agent process `pid`.
pub fn confirm_caption(pid: u32, n: u64) -> String {
    format!("agentry: confirm key use #{n} (pid {pid})")
}

/// Shows the box and blocks until it is answered; true only for "Yes".
pub(super) fn show(caption: &str, text: &str) -> bool {
    let (text, caption) = (wide(text), wide(caption));
    let style = MB_YESNO | MB_ICONQUESTION | MB_DEFBUTTON2 | MB_SETFOREGROUND | MB_TOPMOST;
    // SAFETY: both strings are NUL-terminated and live across the call.
    let answer =
        unsafe { MessageBoxW(std::ptr::null_mut(), text.as_ptr(), caption.as_ptr(), style) };
    answer == IDYES
}

/// True while the message box titled `caption` is open (tests).
pub fn confirm_box_open(caption: &str) -> bool {
    super::find_dialog(caption).is_some()
}

/// Presses "No" on the message box titled `caption`, if it is open.
pub fn close_with_no(caption: &str) -> bool {
    press_button(caption, IDNO)
}

/// Presses "Yes" on the message box titled `caption`, if it is open (tests).
pub fn press_yes(caption: &str) -> bool {
    press_button(caption, IDYES)
}

/// Asks on the console; anything but `y`/`yes` is a refusal.
pub(super) fn ask_console(text: &str) -> std::io::Result<bool> {
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
