//! The dialogs the tray and key list open: the standard open-file dialog for key files, the
//! passphrase dialog (the prompter's) for Lock/Unlock, and message boxes. Each caption names
//! what it is for and this process's id ([`caption`]), so tests find the one this agent showed.

use super::wide;
use std::path::PathBuf;
use windows_sys::Win32::Foundation::HWND;
use windows_sys::Win32::UI::Controls::Dialogs::{
    GetOpenFileNameW, OFN_EXPLORER, OFN_FILEMUSTEXIST, OFN_HIDEREADONLY, OFN_NOCHANGEDIR,
    OFN_PATHMUSTEXIST, OPENFILENAMEW,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    MessageBoxW, MB_ICONERROR, MB_ICONINFORMATION, MB_OK, MB_SETFOREGROUND,
};
use zeroize::Zeroizing;

/// The open-file dialog of Add Key.
pub const ADD_KEY: &str = "Add Key";
/// The open-file dialog of Add Key (encrypted).
pub const ADD_KEY_ENCRYPTED: &str = "Add Key (encrypted)";
/// The message box saying why a key file was not added.
pub const ADD_FAILED: &str = "cannot add the key";
/// The passphrase dialog of Lock….
pub const LOCK: &str = "Lock";
/// The passphrase dialog of Unlock….
pub const UNLOCK: &str = "Unlock";
/// The About box.
pub const ABOUT: &str = "About";
/// The message box `agentryw.exe` shows when the `agentry` command it ran failed.
pub const AGENTRYW_FAILED: &str = "error";

/// The caption of the dialog `what` in this process.
pub fn caption(what: &str) -> String {
    caption_of(std::process::id(), what)
}

/// The caption of the dialog `what` in the agent process `pid`.
pub fn caption_of(pid: u32, what: &str) -> String {
    format!("agentry: {what} (pid {pid})")
}

/// The open-file dialog for a key file (PPK, OpenSSH, PEM; all files), owned by `owner`; the
/// chosen path, or `None` when cancelled.
pub(super) fn open_key_file(owner: HWND, encrypted: bool) -> Option<PathBuf> {
    let filter: Vec<u16> = "Key files (*.ppk, id_*, *.pem, *.key)\0*.ppk;id_*;*.pem;*.key\0\
                            PuTTY keys (*.ppk)\0*.ppk\0All files (*.*)\0*.*\0\0"
        .encode_utf16()
        .collect();
    let title = wide(&caption(if encrypted {
        ADD_KEY_ENCRYPTED
    } else {
        ADD_KEY
    }));
    let mut file = vec![0u16; 4096];
    let mut dialog = OPENFILENAMEW {
        lStructSize: std::mem::size_of::<OPENFILENAMEW>() as u32,
        hwndOwner: owner,
        lpstrFilter: filter.as_ptr(),
        nFilterIndex: 1,
        lpstrFile: file.as_mut_ptr(),
        nMaxFile: file.len() as u32,
        lpstrTitle: title.as_ptr(),
        Flags: OFN_EXPLORER
            | OFN_FILEMUSTEXIST
            | OFN_PATHMUSTEXIST
            | OFN_HIDEREADONLY
            | OFN_NOCHANGEDIR,
        ..Default::default()
    };
    // SAFETY: `dialog` is filled; its strings and buffer outlive the call, which blocks.
    if unsafe { GetOpenFileNameW(&mut dialog) } == 0 {
        return None;
    }
    let end = file.iter().position(|&c| c == 0).unwrap_or(file.len());
    Some(PathBuf::from(String::from_utf16_lossy(&file[..end])))
}

/// Asks a passphrase with the prompter's dialog, captioned [`caption`]`(what)`.
pub fn ask_passphrase(what: &str, text: &str) -> Option<Zeroizing<String>> {
    crate::windows::prompt::ask_passphrase_in_dialog(&caption(what), text)
}

/// An error message box captioned [`caption`]`(what)`; blocks until closed.
pub fn error_box(what: &str, text: &str) {
    message(&caption(what), text, true);
}

/// A message box; blocks until closed.
pub(super) fn message(caption: &str, text: &str, error: bool) {
    let icon = if error {
        MB_ICONERROR
    } else {
        MB_ICONINFORMATION
    };
    let (text, caption) = (wide(text), wide(caption));
    // SAFETY: both strings are NUL-terminated and outlive the call.
    unsafe {
        MessageBoxW(
            std::ptr::null_mut(),
            text.as_ptr(),
            caption.as_ptr(),
            MB_OK | icon | MB_SETFOREGROUND,
        )
    };
}
