//! Where Pageant-compatible clients look for the agent: the named pipe
//! `\\.\pipe\pageant.<USER>.<HEX>`, computed exactly as PuTTY's
//! `windows/utils/agent_named_pipe_name.c` does. USER is the user principal name cut at `@`
//! (`GetUserNameExA(NameUserPrincipal)`), else `GetUserNameA`; HEX is the lowercase SHA-256 of
//! `uint32be(16) || buf`, where buf is "Pageant" NUL-padded to 16 bytes and passed through
//! `CryptProtectMemory(CRYPTPROTECTMEMORY_CROSS_PROCESS)` (whose failure is ignored, as PuTTY
//! ignores it). The result is stable for one user and can only be computed in their session.

use sha2::{Digest, Sha256};
use windows_sys::Win32::Security::Authentication::Identity::{GetUserNameExA, NameUserPrincipal};
use windows_sys::Win32::Security::Cryptography::{
    CryptProtectMemory, CRYPTPROTECTMEMORY_BLOCK_SIZE, CRYPTPROTECTMEMORY_CROSS_PROCESS,
};
use windows_sys::Win32::System::WindowsProgramming::GetUserNameA;

/// The class and title of Pageant's `WM_COPYDATA` window.
pub const PAGEANT_WINDOW: &str = "Pageant";

/// Windows OpenSSH's agent pipe.
pub const OPENSSH_PIPE: &str = r"\\.\pipe\openssh-ssh-agent";

/// Pageant's named pipe for the current user.
pub fn pageant_pipe_name() -> std::io::Result<String> {
    let user = user_name()?;
    Ok(format!(r"\\.\pipe\pageant.{user}.{}", obfuscate("Pageant")))
}

/// PuTTY's `get_username()`: the UPN cut at `@`, else the account name.
pub fn user_name() -> std::io::Result<String> {
    if let Some(upn) = ansi_name(|buf, len| {
        // SAFETY: `buf` is valid for `*len` bytes (or null with `*len` 0 to ask the size) and
        // `len` points to a live u32; the call writes at most `*len` bytes.
        unsafe { GetUserNameExA(NameUserPrincipal, buf, len) }
    }) {
        let user = upn.split('@').next().unwrap_or_default();
        if !user.is_empty() {
            return Ok(user.to_owned());
        }
    }
    ansi_name(|buf, len| {
        // SAFETY: as above, `buf` holds `*len` bytes and `len` is a live u32.
        unsafe { GetUserNameA(buf, len) != 0 }
    })
    .ok_or_else(std::io::Error::last_os_error)
}

/// Calls a `(buffer, &mut len)` ANSI name function twice: once for the size, once for the name.
fn ansi_name(call: impl Fn(*mut u8, *mut u32) -> bool) -> Option<String> {
    let mut len = 0u32;
    call(std::ptr::null_mut(), &mut len);
    if len == 0 {
        return None;
    }
    let mut buf = vec![0u8; len as usize + 1];
    let mut len = buf.len() as u32;
    if !call(buf.as_mut_ptr(), &mut len) {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    buf.truncate(end);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// PuTTY's `capi_obfuscate_string`: lowercase hex SHA-256 of the string framed as an SSH
/// string after `CryptProtectMemory` with the cross-process key.
pub fn obfuscate(s: &str) -> String {
    let block = CRYPTPROTECTMEMORY_BLOCK_SIZE as usize;
    let padded = (s.len() + 1).div_ceil(block) * block;
    let mut buf = vec![0u8; padded];
    buf[..s.len()].copy_from_slice(s.as_bytes());
    // SAFETY: `buf` is a live, writable buffer of exactly `padded` bytes, a multiple of the
    // block size as the call requires. Its result is ignored, as PuTTY ignores it.
    unsafe {
        CryptProtectMemory(
            buf.as_mut_ptr().cast(),
            padded as u32,
            CRYPTPROTECTMEMORY_CROSS_PROCESS,
        )
    };
    let mut hash = Sha256::new();
    hash.update((padded as u32).to_be_bytes());
    hash.update(&buf);
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `IdentityAgent` line for OpenSSH's config (Pageant's `--openssh-config`): the pipe name
/// with backslashes turned into slashes, quoted.
pub fn openssh_config_line(pipe: &str) -> String {
    format!("IdentityAgent \"{}\"", pipe.replace('\\', "/"))
}
