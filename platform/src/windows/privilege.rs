//! Token privileges and the system under us, for tests and diagnostics: enabling a privilege the
//! process's token holds but has disabled (`SeRestorePrivilege`, which lets an administrator
//! give an object another owner), and telling Wine from Windows (Wine lacks some services, such
//! as Windows Error Reporting, that Windows must provide). Nothing here is used by the agent.

use std::io;
use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, ERROR_NOT_ALL_ASSIGNED, HANDLE, LUID,
};
use windows_sys::Win32::Security::{
    AdjustTokenPrivileges, LookupPrivilegeValueW, LUID_AND_ATTRIBUTES, SE_PRIVILEGE_ENABLED,
    TOKEN_ADJUST_PRIVILEGES, TOKEN_PRIVILEGES, TOKEN_QUERY,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// Enables privilege `name` (such as `"SeRestorePrivilege"`) in this process's token. `Ok(false)`
/// when the token does not hold it (not an administrator).
pub fn enable_privilege(name: &str) -> io::Result<bool> {
    let wide: Vec<u16> = name.encode_utf16().chain([0]).collect();
    let mut luid = LUID::default();
    // SAFETY: `wide` is NUL-terminated and `luid` a live local the call writes.
    if unsafe { LookupPrivilegeValueW(std::ptr::null(), wide.as_ptr(), &mut luid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle; `token` receives a handle we close.
    let opened = unsafe {
        OpenProcessToken(
            GetCurrentProcess(),
            TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY,
            &mut token,
        )
    };
    if opened == 0 {
        return Err(io::Error::last_os_error());
    }
    let privileges = TOKEN_PRIVILEGES {
        PrivilegeCount: 1,
        Privileges: [LUID_AND_ATTRIBUTES {
            Luid: luid,
            Attributes: SE_PRIVILEGE_ENABLED,
        }],
    };
    // SAFETY: `token` is open with TOKEN_ADJUST_PRIVILEGES; `privileges` is a complete
    // TOKEN_PRIVILEGES with one entry; no previous state is asked for.
    let adjusted = unsafe {
        AdjustTokenPrivileges(
            token,
            0,
            &privileges,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    // SAFETY: read right after the call, on this thread.
    let last = unsafe { GetLastError() };
    // SAFETY: `token` is a handle we opened above and close once.
    unsafe { CloseHandle(token) };
    if adjusted == 0 {
        return Err(io::Error::from_raw_os_error(last as i32));
    }
    Ok(last != ERROR_NOT_ALL_ASSIGNED)
}

/// True when this Windows program runs under Wine (its ntdll exports `wine_get_version`).
pub fn running_under_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    let ntdll: Vec<u16> = "ntdll.dll".encode_utf16().chain([0]).collect();
    // SAFETY: a NUL-terminated name; ntdll is loaded in every process and is not freed.
    let module = unsafe { GetModuleHandleW(ntdll.as_ptr()) };
    if module.is_null() {
        return false;
    }
    // SAFETY: `module` is ntdll's handle and the name is a NUL-terminated ASCII string.
    unsafe { GetProcAddress(module, c"wine_get_version".as_ptr().cast()) }.is_some()
}
