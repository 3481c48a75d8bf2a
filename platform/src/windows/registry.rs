//! The current user's logon programs: one string value under
//! `HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run`, what `agentry install`
//! writes so the agent starts at logon without administrator rights. Only that key is touched;
//! values are read, written and deleted by name, and nothing else under it changes.

use std::io;
use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_SUCCESS};
use windows_sys::Win32::System::Registry::{
    RegCloseKey, RegCreateKeyExW, RegDeleteValueW, RegGetValueW, RegSetValueExW, HKEY,
    HKEY_CURRENT_USER, KEY_QUERY_VALUE, KEY_SET_VALUE, REG_OPTION_NON_VOLATILE, REG_SZ,
    RRF_RT_REG_SZ,
};

/// The key Windows reads the current user's logon programs from.
pub const RUN_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

fn error(code: u32) -> io::Error {
    io::Error::from_raw_os_error(code as i32)
}

/// The `Run` key opened (created if missing, as on a fresh profile) with `access`, closed on drop.
struct RunKey(HKEY);

impl RunKey {
    fn open(access: u32) -> io::Result<Self> {
        let subkey = wide(RUN_KEY);
        let mut key: HKEY = std::ptr::null_mut();
        // SAFETY: `subkey` is NUL-terminated; no class or security attributes; `key` is a live
        // local the call writes and we close once on drop; the disposition is not asked for.
        let status = unsafe {
            RegCreateKeyExW(
                HKEY_CURRENT_USER,
                subkey.as_ptr(),
                0,
                std::ptr::null(),
                REG_OPTION_NON_VOLATILE,
                access,
                std::ptr::null(),
                &mut key,
                std::ptr::null_mut(),
            )
        };
        if status != ERROR_SUCCESS {
            return Err(error(status));
        }
        Ok(Self(key))
    }
}

impl Drop for RunKey {
    fn drop(&mut self) {
        // SAFETY: the handle came from RegCreateKeyExW and is closed only here.
        unsafe { RegCloseKey(self.0) };
    }
}

/// Sets the `Run` value `name` to `command` (a `REG_SZ`), replacing what was there.
pub fn set_run_value(name: &str, command: &str) -> io::Result<()> {
    let key = RunKey::open(KEY_SET_VALUE)?;
    let name = wide(name);
    let data = wide(command);
    let bytes = u32::try_from(data.len() * 2)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "command too long"))?;
    // SAFETY: `key` is open with KEY_SET_VALUE; `name` is NUL-terminated; `data` holds `bytes`
    // bytes (the UTF-16 string with its NUL, as REG_SZ requires) and outlives the call.
    let status =
        unsafe { RegSetValueExW(key.0, name.as_ptr(), 0, REG_SZ, data.as_ptr().cast(), bytes) };
    if status != ERROR_SUCCESS {
        return Err(error(status));
    }
    Ok(())
}

/// The `Run` value `name`, or `None` when there is none.
pub fn run_value(name: &str) -> io::Result<Option<String>> {
    let key = RunKey::open(KEY_QUERY_VALUE)?;
    let name = wide(name);
    let mut size: u32 = 0;
    // SAFETY: `key` is open with KEY_QUERY_VALUE; `name` is NUL-terminated; with no buffer the
    // call only writes the size it needs into `size`.
    let status = unsafe {
        RegGetValueW(
            key.0,
            std::ptr::null(),
            name.as_ptr(),
            RRF_RT_REG_SZ,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut size,
        )
    };
    if status == ERROR_FILE_NOT_FOUND {
        return Ok(None);
    }
    if status != ERROR_SUCCESS {
        return Err(error(status));
    }
    let mut buffer = vec![0u16; (size as usize).div_ceil(2) + 1];
    let mut size = u32::try_from(buffer.len() * 2).unwrap_or(u32::MAX);
    // SAFETY: as above; `buffer` holds `size` writable bytes and the call writes at most that
    // many (a value grown since the first call fails with ERROR_MORE_DATA instead).
    let status = unsafe {
        RegGetValueW(
            key.0,
            std::ptr::null(),
            name.as_ptr(),
            RRF_RT_REG_SZ,
            std::ptr::null_mut(),
            buffer.as_mut_ptr().cast(),
            &mut size,
        )
    };
    if status != ERROR_SUCCESS {
        return Err(error(status));
    }
    let len = buffer.iter().position(|&c| c == 0).unwrap_or(buffer.len());
    Ok(Some(String::from_utf16_lossy(&buffer[..len])))
}

/// Deletes the `Run` value `name`; `Ok(false)` when there was none.
pub fn delete_run_value(name: &str) -> io::Result<bool> {
    let key = RunKey::open(KEY_SET_VALUE)?;
    let name = wide(name);
    // SAFETY: `key` is open with KEY_SET_VALUE; `name` is NUL-terminated.
    let status = unsafe { RegDeleteValueW(key.0, name.as_ptr()) };
    match status {
        ERROR_SUCCESS => Ok(true),
        ERROR_FILE_NOT_FOUND => Ok(false),
        other => Err(error(other)),
    }
}
