//! `agentry install` and `agentry uninstall`: make the agent start at logon for the current user,
//! with no administrator rights, and undo exactly that. On Linux, systemd user units
//! (`systemd.rs`; with `--bridge`, those of `agentry bridge` for WSL, `bridge_units.rs`), enabled
//! through `systemctl --user`; on Windows, a value in the user's `Run`
//! registry key (`windows.rs`). The invariant: `uninstall` removes only what `install` wrote
//! (files carry a marker line; the registry value has agentry's name), and running either twice
//! changes nothing the second time.

#[cfg(unix)]
mod bridge_units;
#[cfg(unix)]
mod systemd;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
use systemd as os;
#[cfg(windows)]
use windows as os;

use crate::{Failure, Outcome};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    #[command(flatten)]
    os: os::OsInstallArgs,
}

#[derive(Debug, Args)]
pub(crate) struct UninstallArgs {}

/// `agentry install`.
pub(crate) fn install(args: &InstallArgs) -> Outcome {
    os::install(&args.os, &this_executable()?)
}

/// `agentry uninstall`.
pub(crate) fn uninstall(_args: &UninstallArgs) -> Outcome {
    os::uninstall()
}

/// The running agentry executable, as logon should start it (on Unix with symbolic links
/// resolved; on Windows as it is, since canonical paths there take the `\\?\` form).
fn this_executable() -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(format!("cannot find the agentry executable: {e}")))?;
    #[cfg(unix)]
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    Ok(exe)
}
