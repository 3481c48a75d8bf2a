//! `agentry install --bridge` (Linux, for WSL with systemd): the systemd user units for `agentry
//! bridge` — a socket at `%t/agentry/bridge.sock` (where `agentry bridge` listens by default) and
//! a service that starts the bridge on the first connection with the relay command resolved at
//! install time (`agentry.exe relay --mux`: a user service sees neither the shell's `PATH` nor
//! `$AGENTRY_WINDOWS_EXE`) and the WSL distribution name (`$WSL_DISTRO_NAME`, likewise missing
//! there). The invariant: every path and argument goes through the caller's systemd quoting, so
//! the unit runs exactly the programs named at install time. `systemd.rs` writes these units
//! (with its marker line) as it writes the agent's.

use std::ffi::OsString;
use std::path::Path;

/// The bridge's socket unit, enabled by `install --bridge`.
pub(super) const BRIDGE_SOCKET_UNIT: &str = "agentry-bridge.socket";

/// The bridge's service unit.
pub(super) const BRIDGE_SERVICE_UNIT: &str = "agentry-bridge.service";

/// Where the socket unit listens (what `SSH_AUTH_SOCK` must name), for the user's profile.
pub(super) const BRIDGE_SOCKET_FOR_PROFILE: &str = "$XDG_RUNTIME_DIR/agentry/bridge.sock";

/// The units (name, contents after the marker line) for the bridge `exe` relaying through
/// `relay` (the relay's argv), reporting `distribution` (empty outside WSL); every word of a
/// command line quoted with `quoted`.
pub(super) fn bridge_units(
    exe: &Path,
    relay: &[OsString],
    distribution: &str,
    quoted: fn(&Path) -> String,
) -> Vec<(&'static str, String)> {
    let relay: Vec<String> = relay.iter().map(|arg| quoted(Path::new(arg))).collect();
    let environment = if distribution.is_empty() {
        String::new()
    } else {
        format!(
            "Environment={}\n",
            quoted(Path::new(&format!("WSL_DISTRO_NAME={distribution}")))
        )
    };
    let socket = format!(
        "# systemd user socket for agentry bridge (WSL): connections go to the Windows agentry through
# one agentry.exe relay --mux. export SSH_AUTH_SOCK=\"{BRIDGE_SOCKET_FOR_PROFILE}\"
[Unit]
Description=agentry bridge socket (to the Windows agent)

[Socket]
ListenStream=%t/agentry/bridge.sock
SocketMode=0600
DirectoryMode=0700
Service={BRIDGE_SERVICE_UNIT}

[Install]
WantedBy=sockets.target
"
    );
    let service = format!(
        "# systemd user service for agentry bridge, started by {BRIDGE_SOCKET_UNIT}.
[Unit]
Description=agentry bridge to the Windows agent
Requires={BRIDGE_SOCKET_UNIT}

[Service]
Type=simple
{environment}ExecStart={} bridge --foreground -- {}
Restart=on-failure
LimitCORE=0
NoNewPrivileges=true

[Install]
Also={BRIDGE_SOCKET_UNIT}
WantedBy=default.target
",
        quoted(exe),
        relay.join(" ")
    );
    vec![(BRIDGE_SOCKET_UNIT, socket), (BRIDGE_SERVICE_UNIT, service)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_runs_the_bridge_with_the_resolved_relay_and_distribution() {
        let relay: Vec<OsString> = vec![
            "/mnt/c/Program Files/agentry/agentry.exe".into(),
            "relay".into(),
            "--mux".into(),
        ];
        let quoted = |path: &Path| format!("\"{}\"", path.display());
        let units = bridge_units(Path::new("/usr/bin/agentry"), &relay, "Debian 12", quoted);
        assert!(units[0]
            .1
            .contains("\nListenStream=%t/agentry/bridge.sock\n"));
        let service = &units[1].1;
        assert!(
            service.contains("\nEnvironment=\"WSL_DISTRO_NAME=Debian 12\"\n"),
            "{service}"
        );
        assert!(
            service.contains(
                "\nExecStart=\"/usr/bin/agentry\" bridge --foreground -- \"/mnt/c/Program Files/agentry/agentry.exe\" \"relay\" \"--mux\"\n"
            ),
            "{service}"
        );
        let outside_wsl = bridge_units(Path::new("/usr/bin/agentry"), &relay, "", quoted);
        assert!(!outside_wsl[1].1.contains("Environment="));
    }
}
