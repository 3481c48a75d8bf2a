//! `agentry install` on Linux: the systemd user units of `platform/systemd/` written to
//! `$XDG_CONFIG_HOME/systemd/user/` (else `~/.config/systemd/user/`) with `ExecStart` naming the
//! running binary, then `systemctl --user daemon-reload` and `enable --now agentry.socket`.
//! Without a user manager (containers, some WSL setups) it says so and writes nothing, unless
//! `--no-enable` asks for the files alone. Every file written starts with [`MARKER`];
//! `uninstall` disables the units and removes only files that carry it.

use super::bridge_units::{bridge_units, BRIDGE_SOCKET_FOR_PROFILE, BRIDGE_SOCKET_UNIT};
use crate::{Failure, Outcome};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The first line of every file `install` writes: what `uninstall` looks for before removing.
pub(super) const MARKER: &str = "# Written by `agentry install`; `agentry uninstall` removes it.";

/// The unit systemd starts at logon; it starts the service on the first connection.
const SOCKET_UNIT: &str = "agentry.socket";

#[derive(Debug, Args)]
pub(crate) struct OsInstallArgs {
    /// Only write the unit files; do not run systemctl (enable them later with
    /// `systemctl --user enable --now agentry.socket`).
    #[arg(long)]
    no_enable: bool,
    /// Install `agentry bridge` (WSL: connections go to the Windows agentry.exe) instead of the
    /// agent; agentry.exe is found as `agentry bridge` finds it ($AGENTRY_WINDOWS_EXE, PATH).
    #[arg(long)]
    bridge: bool,
}

/// One unit file: its name and its contents.
pub(super) struct Unit {
    pub(super) name: &'static str,
    pub(super) contents: String,
}

/// The units `install` writes for the binary `exe`: the shipped socket and service, the
/// service's `ExecStart` pointed at `exe`. More units (a bridge, say) go in this list.
pub(super) fn units(exe: &Path) -> Vec<Unit> {
    let service = include_str!("../../../platform/systemd/agentry.service")
        .lines()
        .map(|line| {
            if line.starts_with("ExecStart=") {
                format!("ExecStart={} start --foreground", systemd_quoted(exe))
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    vec![
        Unit {
            name: SOCKET_UNIT,
            contents: with_marker(include_str!("../../../platform/systemd/agentry.socket")),
        },
        Unit {
            name: "agentry.service",
            contents: with_marker(&(service + "\n")),
        },
    ]
}

fn with_markers(units: Vec<(&'static str, String)>) -> Vec<Unit> {
    units
        .into_iter()
        .map(|(name, contents)| Unit {
            name,
            contents: with_marker(&contents),
        })
        .collect()
}

fn with_marker(unit: &str) -> String {
    format!("{MARKER}\n{unit}")
}

/// `path` as one word of a systemd command line: double-quoted, with `\` and `"` escaped and
/// `%` (specifiers) and `$` (variables) doubled, so any path runs as it is.
fn systemd_quoted(path: &Path) -> String {
    let mut out = String::from("\"");
    for c in path.to_string_lossy().chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where systemd looks for the user's own units.
fn unit_dir() -> Result<PathBuf, Failure> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))
        .ok_or_else(|| Failure::new("neither XDG_CONFIG_HOME nor HOME is set"))?;
    Ok(config.join("systemd").join("user"))
}

/// Runs `systemctl --user ARGS`; its last stderr line as the error.
fn systemctl(args: &[&str]) -> Result<(), String> {
    let out = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run systemctl ({e}): this system does not run systemd"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    Err(format!(
        "systemctl --user {}: {}",
        args.join(" "),
        last.unwrap_or("failed").trim()
    ))
}

/// Whether a systemd user manager answers; why not when it does not.
fn user_manager() -> Result<(), String> {
    systemctl(&["show", "--property=Version"])
}

pub(super) fn install(args: &OsInstallArgs, exe: &Path) -> Outcome {
    if !args.no_enable {
        user_manager().map_err(|why| {
            Failure::new(format!(
                "cannot install: no systemd user manager to enable the units with ({why}). \
                 `agentry install --no-enable` writes them anyway; without systemd, start the \
                 agent from your shell profile with `eval \"$(agentry start -s)\"`"
            ))
        })?;
    }
    let dir = unit_dir()?;
    let (units, socket_unit, socket_path) = if args.bridge {
        let relay = crate::daemon::relay_command(&[])?;
        let distribution = std::env::var("WSL_DISTRO_NAME").unwrap_or_default();
        let units = with_markers(bridge_units(exe, &relay, &distribution, systemd_quoted));
        (units, BRIDGE_SOCKET_UNIT, BRIDGE_SOCKET_FOR_PROFILE)
    } else {
        (
            units(exe),
            SOCKET_UNIT,
            "$XDG_RUNTIME_DIR/agentry/agent.sock",
        )
    };
    // Refuse before writing anything when a file of the same name is not ours.
    for unit in &units {
        let path = dir.join(unit.name);
        if let Ok(existing) = std::fs::read_to_string(&path) {
            if !existing.starts_with(MARKER) {
                return Err(Failure::new(format!(
                    "{} exists and was not written by `agentry install`: remove or rename it first",
                    path.display()
                )));
            }
        }
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
    for unit in &units {
        let path = dir.join(unit.name);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(unit.contents.as_str()) {
            eprintln!("{} is up to date", path.display());
            continue;
        }
        std::fs::write(&path, &unit.contents)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    if args.no_enable {
        eprintln!("not enabled (--no-enable): systemctl --user enable --now {socket_unit}");
        return Ok(());
    }
    systemctl(&["daemon-reload"]).map_err(Failure::new)?;
    systemctl(&["enable", "--now", socket_unit]).map_err(Failure::new)?;
    eprintln!(
        "enabled {socket_unit}: systemd listens now and at every logon, and starts {} on the \
         first connection. Point clients at it (in your shell profile):",
        exe.display()
    );
    println!("export SSH_AUTH_SOCK=\"{socket_path}\"");
    Ok(())
}

pub(super) fn uninstall() -> Outcome {
    let dir = unit_dir()?;
    let bridge = with_markers(bridge_units(Path::new("agentry"), &[], "", systemd_quoted));
    let ours: Vec<Unit> = units(Path::new("agentry"))
        .into_iter()
        .chain(bridge)
        .filter(|unit| {
            std::fs::read_to_string(dir.join(unit.name)).is_ok_and(|text| text.starts_with(MARKER))
        })
        .collect();
    if ours.is_empty() {
        eprintln!(
            "nothing to uninstall: no unit written by `agentry install` in {}",
            dir.display()
        );
        return Ok(());
    }
    let names: Vec<&str> = ours.iter().map(|unit| unit.name).collect();
    let manager = user_manager();
    match &manager {
        Ok(()) => {
            let mut args = vec!["disable", "--now"];
            args.extend(&names);
            systemctl(&args).map_err(Failure::new)?;
        }
        Err(why) => eprintln!("not stopping the units ({why}); removing their files"),
    }
    for unit in &ours {
        remove_enable_links(&dir, unit.name);
        let path = dir.join(unit.name);
        std::fs::remove_file(&path)
            .map_err(|e| Failure::new(format!("cannot remove {}: {e}", path.display())))?;
        eprintln!("removed {}", path.display());
    }
    if manager.is_ok() {
        systemctl(&["daemon-reload"]).map_err(Failure::new)?;
    }
    Ok(())
}

/// Removes the `*.wants/NAME` links `systemctl enable` made to our unit, for when no manager
/// was there to disable it (after `disable` there are none left).
fn remove_enable_links(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let wants = entry.path();
        if !wants.to_string_lossy().ends_with(".wants") {
            continue;
        }
        let link = wants.join(name);
        if std::fs::read_link(&link).is_ok_and(|target| target == dir.join(name)) {
            let _ = std::fs::remove_file(&link);
            let _ = std::fs::remove_dir(&wants);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_start_quotes_any_path() {
        assert_eq!(
            systemd_quoted(Path::new("/opt/my tools/100%/$x\"y\\z")),
            r#""/opt/my tools/100%%/$$x\"y\\z""#
        );
    }

    #[test]
    fn the_service_runs_the_given_binary_in_the_foreground() {
        let units = units(Path::new("/usr/local/bin/agentry"));
        let service = &units[1].contents;
        assert!(service.starts_with(MARKER));
        assert!(
            service.contains("\nExecStart=\"/usr/local/bin/agentry\" start --foreground\n"),
            "{service}"
        );
        assert!(!service.contains(".cargo"));
        assert!(units[0]
            .contents
            .contains("ListenStream=%t/agentry/agent.sock"));
    }
}
