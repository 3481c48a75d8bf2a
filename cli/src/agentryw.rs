//! `agentryw`: agentry without a console window, for what Windows starts with no console to
//! write to — Explorer (a double-click, a shortcut like Pageant's), the Start menu and the logon
//! `Run` value `agentry install` writes. A GUI-subsystem program, so Windows opens no console for
//! it; it runs `agentry` from its own directory with the same arguments and `CREATE_NO_WINDOW`,
//! waits, and exits with its status. The invariant: it adds nothing of its own, so every command
//! means what it means to `agentry` (docs/windows.md, "No console window"). In a console, use
//! `agentry`: a console does not wait for a GUI program, and its output goes nowhere. Elsewhere
//! (Unix) it simply runs `agentry`.

#![cfg_attr(windows, windows_subsystem = "windows")]
#![forbid(unsafe_code)]

use std::process::{Command, ExitCode};

/// `CREATE_NO_WINDOW`: the console program gets a console of its own that is never shown.
#[cfg(windows)]
const CREATE_NO_WINDOW: u32 = 0x0800_0000;

fn main() -> ExitCode {
    let name = if cfg!(windows) {
        "agentry.exe"
    } else {
        "agentry"
    };
    let Some(agentry) = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name(name))
    else {
        return ExitCode::from(2);
    };
    let mut command = Command::new(&agentry);
    command.args(std::env::args_os().skip(1));
    #[cfg(windows)]
    std::os::windows::process::CommandExt::creation_flags(&mut command, CREATE_NO_WINDOW);
    match command.status() {
        Ok(status) => ExitCode::from(status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1))),
        Err(e) => {
            // Seen only when run from a console (or with its stderr redirected).
            eprintln!("agentryw: cannot run {}: {e}", agentry.display());
            ExitCode::from(2)
        }
    }
}
