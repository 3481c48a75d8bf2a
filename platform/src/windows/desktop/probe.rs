//! Finding and driving a running agent's tray and key list from another process: what
//! `--keylist` and the GUI tests use. Windows are named by `usize` handles. Reading the list
//! view's rows ([`list_rows`]) needs `LVM_GETITEMTEXTW` with a buffer inside the agent's process
//! (`VirtualAllocEx`, `ReadProcessMemory`), which the agent's hardened process DACL refuses;
//! tests first give themselves that access back as the process's owner may
//! ([`grant_memory_access`]: the same-user debugging docs/security.md leaves out of scope).

use super::key_list::{self, COLUMNS, ID_LIST};
use super::{wide, KEY_LIST_TITLE, TRAY_CLASS};
use std::io;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, HWND, LPARAM};
use windows_sys::Win32::System::Diagnostics::Debug::{ReadProcessMemory, WriteProcessMemory};
use windows_sys::Win32::System::Memory::{
    VirtualAllocEx, VirtualFreeEx, MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, PAGE_READWRITE,
};
use windows_sys::Win32::System::Threading::{
    OpenProcess, PROCESS_VM_OPERATION, PROCESS_VM_READ, PROCESS_VM_WRITE,
};
use windows_sys::Win32::UI::Controls::{LVITEMW, LVM_GETITEMCOUNT, LVM_GETITEMTEXTW};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    FindWindowExW, FindWindowW, GetDlgItem, GetWindowTextW, GetWindowThreadProcessId,
    IsWindowVisible, PostMessageW, SendMessageW, BM_CLICK, IDOK, WM_COMMAND, WM_SETTEXT,
};

/// The tray window of the agent serving `name`.
pub fn find_tray(name: &str) -> Option<usize> {
    let (class, title) = (wide(TRAY_CLASS), wide(name));
    // SAFETY: both strings are NUL-terminated.
    let hwnd = unsafe { FindWindowW(class.as_ptr(), title.as_ptr()) };
    (!hwnd.is_null()).then_some(hwnd as usize)
}

/// The visible top-level window of class `class` titled `title` that process `pid` owns.
pub fn find_window_of(pid: u32, class: &str, title: &str) -> Option<usize> {
    let (class, title) = (wide(class), wide(title));
    let mut after: HWND = std::ptr::null_mut();
    loop {
        // SAFETY: the strings are NUL-terminated; `after` is null or a window just found.
        after =
            unsafe { FindWindowExW(std::ptr::null_mut(), after, class.as_ptr(), title.as_ptr()) };
        if after.is_null() {
            return None;
        }
        let mut owner = 0u32;
        // SAFETY: `owner` is a live u32; a stale handle only makes the calls fail.
        unsafe { GetWindowThreadProcessId(after, &mut owner) };
        // SAFETY: any handle.
        if owner == pid && unsafe { IsWindowVisible(after) } != 0 {
            return Some(after as usize);
        }
    }
}

/// The key list window of the agent process `pid`.
pub fn find_key_list(pid: u32) -> Option<usize> {
    find_window_of(pid, key_list::CLASS, KEY_LIST_TITLE)
}

/// The dialog (`#32770`: message boxes, the open-file and passphrase dialogs) titled `caption`.
pub fn find_dialog(caption: &str) -> Option<usize> {
    let (class, caption) = (wide("#32770"), wide(caption));
    // SAFETY: both strings are NUL-terminated.
    let hwnd = unsafe { FindWindowW(class.as_ptr(), caption.as_ptr()) };
    (!hwnd.is_null()).then_some(hwnd as usize)
}

/// Posts `WM_COMMAND` with command `id` to `window` (a menu item to the tray, a button to the
/// key list).
pub fn post_command(window: usize, id: u16) -> bool {
    // SAFETY: posting to a window handle is harmless even if it was destroyed meanwhile.
    unsafe { PostMessageW(window as HWND, WM_COMMAND, usize::from(id), 0) != 0 }
}

/// Posts the tray icon's callback with the mouse message `mouse` (`WM_LBUTTONDBLCLK`, …).
pub fn post_tray_callback(tray: usize, mouse: u32) -> bool {
    // SAFETY: as in `post_command`.
    unsafe { PostMessageW(tray as HWND, super::menu::TRAY_CALLBACK, 1, mouse as LPARAM) != 0 }
}

/// Posts a key press (`WM_KEYDOWN` of virtual key `key`) to the key list's list view.
pub fn press_key_in_list(key_list: usize, key: u16) -> bool {
    use windows_sys::Win32::UI::WindowsAndMessaging::WM_KEYDOWN;
    // SAFETY: a child lookup; posting to a stale handle fails harmlessly.
    unsafe {
        let list = GetDlgItem(key_list as HWND, ID_LIST.into());
        PostMessageW(list, WM_KEYDOWN, usize::from(key), 1) != 0
    }
}

/// The text of `window` (a message box's static text is its child 0xFFFF).
pub fn window_text(window: usize) -> String {
    let mut text = vec![0u16; 2048];
    // SAFETY: `text` is a live buffer of the length given; WM_GETTEXT is marshalled.
    let n = unsafe { GetWindowTextW(window as HWND, text.as_mut_ptr(), text.len() as i32) };
    String::from_utf16_lossy(&text[..usize::try_from(n).unwrap_or(0)])
}

/// The message text of the message box titled `caption`.
pub fn message_box_text(caption: &str) -> Option<String> {
    let dialog = find_dialog(caption)?;
    // SAFETY: a child lookup on a window that may have closed meanwhile.
    let text = unsafe { GetDlgItem(dialog as HWND, 0xFFFF) };
    (!text.is_null()).then(|| window_text(text as usize))
}

/// Clicks button `id` of `dialog`.
pub fn click(dialog: usize, id: i32) -> bool {
    // SAFETY: a child lookup; BM_CLICK needs no arguments.
    unsafe {
        let button = GetDlgItem(dialog as HWND, id);
        !button.is_null() && PostMessageW(button, BM_CLICK, 0, 0) != 0
    }
}

/// Types `path` as the file name into the open-file dialog titled `caption` and presses Open.
pub fn answer_open_dialog(caption: &str, path: &str) -> bool {
    let Some(dialog) = find_dialog(caption) else {
        return false;
    };
    // The file name box: `cmb13` (a combo box) in Explorer-style dialogs, else `edt1`.
    let field = [0x47c, 0x480].into_iter().find_map(|id| {
        // SAFETY: a child lookup.
        let child = unsafe { GetDlgItem(dialog as HWND, id) };
        (!child.is_null()).then_some(child)
    });
    let Some(field) = field else { return false };
    let text = wide(path);
    // SAFETY: `text` is NUL-terminated and outlives the synchronous (marshalled) call.
    unsafe { SendMessageW(field, WM_SETTEXT, 0, text.as_ptr() as LPARAM) };
    click(dialog, IDOK)
}

/// Replaces the DACL of process `pid` (ours as its owner: an owner may always rewrite its DACL)
/// with one that lets its user do anything, so [`list_rows`] can read its list view. Tests only.
pub fn grant_memory_access(pid: u32) -> io::Result<()> {
    use crate::windows::security::{current_user_sid, SecurityDescriptor};
    use std::os::windows::io::{FromRawHandle, OwnedHandle};
    /// `WRITE_DAC | READ_CONTROL`.
    const DAC_ACCESS: u32 = 0x0004_0000 | 0x0002_0000;
    // SAFETY: opening a process by id; the handle is owned (and closed) by `OwnedHandle`.
    let handle = unsafe { OpenProcess(DAC_ACCESS, 0, pid) };
    if handle.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `handle` was just opened and is not owned elsewhere.
    let handle = unsafe { OwnedHandle::from_raw_handle(handle) };
    let user = current_user_sid()?.to_string_sid()?;
    SecurityDescriptor::from_sddl(&format!("D:P(A;;GA;;;SY)(A;;GA;;;{user})"))?
        .apply_dacl(std::os::windows::io::AsHandle::as_handle(&handle))
}

/// An open handle to another process, closed on drop.
struct Process(HANDLE);

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and open.
        unsafe { CloseHandle(self.0) };
    }
}

/// The rows of the key list `key_list` (of another process), each the five columns' text.
pub fn list_rows(key_list: usize) -> io::Result<Vec<Vec<String>>> {
    // SAFETY: a child lookup.
    let list = unsafe { GetDlgItem(key_list as HWND, ID_LIST.into()) };
    if list.is_null() {
        return Err(io::Error::other("no list view"));
    }
    let mut pid = 0u32;
    // SAFETY: `pid` is a live u32.
    unsafe { GetWindowThreadProcessId(list, &mut pid) };
    // SAFETY: opening a process by id; the handle is closed by `Process`.
    let handle = unsafe {
        OpenProcess(
            PROCESS_VM_OPERATION | PROCESS_VM_READ | PROCESS_VM_WRITE,
            0,
            pid,
        )
    };
    if handle.is_null() {
        return Err(io::Error::last_os_error());
    }
    let process = Process(handle);
    const TEXT_UNITS: usize = 1024;
    let item_size = std::mem::size_of::<LVITEMW>();
    let size = item_size + TEXT_UNITS * 2;
    // SAFETY: reserves and commits `size` bytes in the other process, freed below.
    let remote = unsafe {
        VirtualAllocEx(
            process.0,
            std::ptr::null(),
            size,
            MEM_COMMIT | MEM_RESERVE,
            PAGE_READWRITE,
        )
    };
    if remote.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a query with no pointers.
    let count = unsafe { SendMessageW(list, LVM_GETITEMCOUNT, 0, 0) };
    let mut rows = Vec::new();
    let mut result = Ok(());
    'rows: for row in 0..count.max(0) as usize {
        let mut cells = Vec::new();
        for column in 0..COLUMNS.len() {
            match remote_item_text(&process, remote, list, row, column, TEXT_UNITS) {
                Ok(text) => cells.push(text),
                Err(e) => {
                    result = Err(e);
                    break 'rows;
                }
            }
        }
        rows.push(cells);
    }
    // SAFETY: `remote` was allocated above in that process.
    unsafe { VirtualFreeEx(process.0, remote, 0, MEM_RELEASE) };
    result.map(|()| rows)
}

fn remote_item_text(
    process: &Process,
    remote: *mut core::ffi::c_void,
    list: HWND,
    row: usize,
    column: usize,
    units: usize,
) -> io::Result<String> {
    let text_at = remote as usize + std::mem::size_of::<LVITEMW>();
    let item = LVITEMW {
        iSubItem: column as i32,
        pszText: text_at as *mut u16,
        cchTextMax: units as i32,
        ..Default::default()
    };
    let mut written = 0;
    // SAFETY: writes the item into the remote allocation, which is large enough.
    let ok = unsafe {
        WriteProcessMemory(
            process.0,
            remote,
            (&item as *const LVITEMW).cast(),
            std::mem::size_of::<LVITEMW>(),
            &mut written,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the pointer is valid in the list view's process, which reads it there.
    let n = unsafe { SendMessageW(list, LVM_GETITEMTEXTW, row, remote as LPARAM) };
    let n = usize::try_from(n).unwrap_or(0).min(units);
    let mut text = vec![0u16; n];
    let mut read = 0;
    // SAFETY: reads `n` units from the remote text buffer into `text`.
    let ok = unsafe {
        ReadProcessMemory(
            process.0,
            text_at as *const _,
            text.as_mut_ptr().cast(),
            n * 2,
            &mut read,
        )
    };
    if ok == 0 && n > 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(String::from_utf16_lossy(&text))
}

/// Chooses MD5 in the key list's fingerprint-type box, as a user picking it does.
pub fn choose_md5(key_list: usize) -> bool {
    use windows_sys::Win32::UI::WindowsAndMessaging::{CBN_SELCHANGE, CB_SETCURSEL};
    let id = key_list::ID_FINGERPRINT;
    // SAFETY: a child lookup; CB_SETCURSEL carries no pointer; posting to a stale handle fails.
    unsafe {
        let combo = GetDlgItem(key_list as HWND, id.into());
        if combo.is_null() || SendMessageW(combo, CB_SETCURSEL, 1, 0) != 1 {
            return false;
        }
        let wparam = (CBN_SELCHANGE as usize) << 16 | usize::from(id);
        PostMessageW(key_list as HWND, WM_COMMAND, wparam, combo as LPARAM) != 0
    }
}
