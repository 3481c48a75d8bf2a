//! Process hardening on Windows, after Pageant's `restrict_process_acl`: the agent process gets
//! a protected DACL that lets SYSTEM do anything and the user only stop it, wait for it, ask
//! its name and read its security (`taskkill` and `agentry stop` keep working), so another
//! program running as the same user cannot read or write its memory (where keys live), inject
//! threads or duplicate its handles without administrator rights.

use super::security::{current_user_sid, object_sddl, SecurityDescriptor};
use std::io;
use std::os::windows::io::{BorrowedHandle, FromRawHandle, OwnedHandle};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_TERMINATE,
};

/// `READ_CONTROL`: read the security descriptor.
const READ_CONTROL: u32 = 0x0002_0000;
/// `SYNCHRONIZE`: wait for the process to end.
const SYNCHRONIZE: u32 = 0x0010_0000;

/// What the user may still do to the agent process.
pub const USER_ACCESS: u32 =
    PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE | READ_CONTROL;

/// Restricts the current process's DACL (see the module documentation).
pub fn harden_process() -> io::Result<()> {
    let user = current_user_sid()?.to_string_sid()?;
    let sddl = format!("D:P(A;;GA;;;SY)(A;;0x{USER_ACCESS:x};;;{user})");
    // SAFETY: GetCurrentProcess returns the pseudo-handle -1, valid for the whole process
    // lifetime (BorrowedHandle allows -1 for exactly this).
    let process = unsafe { BorrowedHandle::borrow_raw(GetCurrentProcess()) };
    SecurityDescriptor::from_sddl(&sddl)?.apply_dacl(process)
}

/// The owner and DACL of process `pid` as SDDL (for tests and diagnostics).
pub fn process_sddl(pid: u32) -> io::Result<String> {
    // SAFETY: plain call; a null handle means failure, else we own the handle.
    let handle = unsafe { OpenProcess(READ_CONTROL, 0, pid) };
    if handle.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `handle` is a fresh handle we own; OwnedHandle closes it.
    let handle = unsafe { OwnedHandle::from_raw_handle(handle) };
    object_sddl(std::os::windows::io::AsHandle::as_handle(&handle))
}
