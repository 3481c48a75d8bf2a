//! `agentry install` on Windows: the value `agentry` under the user's
//! `HKCU\Software\Microsoft\Windows\CurrentVersion\Run` key, starting the agent at logon with no
//! console window (`agentryw.exe start`, from the directory of the running agentry.exe) and no
//! administrator rights. `uninstall` deletes that value. No Start-menu shortcut is made.

use crate::{Failure, Outcome};
use agentry_platform::windows::registry::{delete_run_value, run_value, set_run_value, RUN_KEY};
use clap::Args;
use std::path::Path;

/// The name of the value in the `Run` key.
pub(super) const RUN_VALUE: &str = "agentry";

#[derive(Debug, Args)]
pub(crate) struct OsInstallArgs {}

/// What logon runs: the windowless twin next to `exe` when it is there, else `exe` itself (a
/// console window then shows for a moment at logon).
pub(super) fn logon_command(exe: &Path) -> String {
    let twin = exe.with_file_name("agentryw.exe");
    let program = if twin.is_file() { twin } else { exe.to_owned() };
    format!("\"{}\" start", program.display())
}

pub(super) fn install(_args: &OsInstallArgs, exe: &Path) -> Outcome {
    let command = logon_command(exe);
    let place = format!(r"HKCU\{RUN_KEY}\{RUN_VALUE}");
    let before =
        run_value(RUN_VALUE).map_err(|e| Failure::new(format!("cannot read {place}: {e}")))?;
    if before.as_deref() == Some(command.as_str()) {
        eprintln!("{place} is up to date: {command}");
    } else {
        set_run_value(RUN_VALUE, &command)
            .map_err(|e| Failure::new(format!("cannot write {place}: {e}")))?;
        eprintln!("wrote {place} = {command}");
    }
    if !command.contains("agentryw.exe") {
        eprintln!(
            "note: agentryw.exe is not next to {}: a console window will show at logon",
            exe.display()
        );
    }
    eprintln!(
        "the agent starts at your next logon; to start it now without a console: {}",
        command
    );
    Ok(())
}

pub(super) fn uninstall() -> Outcome {
    let place = format!(r"HKCU\{RUN_KEY}\{RUN_VALUE}");
    match delete_run_value(RUN_VALUE) {
        Ok(true) => eprintln!("removed {place}"),
        Ok(false) => eprintln!("nothing to uninstall: there is no {place}"),
        Err(e) => return Err(Failure::new(format!("cannot remove {place}: {e}"))),
    }
    Ok(())
}
