//! `agentryw`: agentry without a console window, for what Windows starts with no console to
//! write to — Explorer (a double-click, a shortcut like Pageant's), the Start menu and the logon
//! `Run` value `agentry install` writes. A GUI-subsystem program, so Windows opens no console for
//! it; it runs `agentry` from its own directory with the same arguments and `CREATE_NO_WINDOW`,
//! waits, and exits with its status. The invariant: it adds nothing of its own to what a
//! command does, so every command means what it means to `agentry` (docs/windows.md, "No console
//! window"). What it adds is where errors go: `agentry`'s standard error is read through a pipe
//! (its last lines kept), and when `agentry` fails they are shown in a message box, as Pageant
//! shows its errors, and written to agentryw's own standard error when it has one. In a
//! console, use `agentry`: a console does not wait for a GUI program. Elsewhere (Unix) it simply
//! runs `agentry`.

#![cfg_attr(windows, windows_subsystem = "windows")]
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `CREATE_NO_WINDOW`: the console program gets a console of its own that is never shown.
#[cfg(windows)]
const CREATE_NO_WINDOW: u32 = 0x0800_0000;

/// The most lines of `agentry`'s standard error kept for the message box.
const KEPT_LINES: usize = 12;

/// How long the error lines may take to arrive once `agentry` has exited. A background agent
/// that `agentry start` detached may hold the pipe open for its whole life: agentryw never waits
/// for the pipe's end, only this long for lines still in it.
const LAST_LINES_WAIT: Duration = Duration::from_millis(300);

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
    command
        .args(std::env::args_os().skip(1))
        .stderr(Stdio::piped());
    #[cfg(windows)]
    std::os::windows::process::CommandExt::creation_flags(&mut command, CREATE_NO_WINDOW);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            report(&format!("agentryw: cannot run {}: {e}", agentry.display()));
            return ExitCode::from(2);
        }
    };
    let kept = Arc::new(Mutex::new(VecDeque::new()));
    let (done, finished) = std::sync::mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        let kept = kept.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut kept = kept
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if kept.len() == KEPT_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
            let _ = done.send(());
        });
    }
    let code = match child.wait() {
        Ok(status) => status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1)),
        Err(e) => {
            report(&format!(
                "agentryw: cannot wait for {}: {e}",
                agentry.display()
            ));
            return ExitCode::from(2);
        }
    };
    if code != 0 {
        let _ = finished.recv_timeout(LAST_LINES_WAIT);
        let kept = kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let lines: Vec<&str> = kept.iter().map(String::as_str).collect();
        report(&if lines.is_empty() {
            format!("agentry exited with status {code}.")
        } else {
            lines.join("\n")
        });
    }
    ExitCode::from(code)
}

/// Says `text` on standard error (when there is one) and, on Windows, in a message box.
fn report(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
    #[cfg(windows)]
    agentry_platform::windows::desktop::dialogs::error_box(
        agentry_platform::windows::desktop::dialogs::AGENTRYW_FAILED,
        text,
    );
}
