//! Where a background agent logs: `agentry start` (in the background) writes its log to
//! `agentry/logs/agentry.log` under `XDG_STATE_HOME` (Unix) or `LOCALAPPDATA` (Windows, run
//! under Wine), and `agentry status` names that file. Rotation itself is unit-tested in
//! `cli/src/daemon/log_file.rs`.

use agentry_tests::tools::{command_without_agent, describe, without_user_config};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn agentry(state: &Path) -> Command {
    let mut command = command_without_agent(env!("CARGO_BIN_EXE_agentry"));
    without_user_config(&mut command);
    command.env(
        if cfg!(windows) {
            "LOCALAPPDATA"
        } else {
            "XDG_STATE_HOME"
        },
        state,
    );
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Stops the agent `SSH_AGENT_PID` names however the test ends.
struct Stop(Option<String>, std::path::PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(pid) = &self.0 {
            let _ = agentry(&self.1)
                .env("SSH_AGENT_PID", pid)
                .arg("stop")
                .output();
        }
    }
}

#[test]
fn a_background_agent_logs_to_the_file_status_names() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let mut start = agentry(&state);
    start.arg("start");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let sockets = dir.path().join("sockets");
        std::fs::create_dir(&sockets).unwrap();
        std::fs::set_permissions(&sockets, std::fs::Permissions::from_mode(0o700)).unwrap();
        start.args(["-s", "-a"]).arg(sockets.join("agent.sock"));
    }
    #[cfg(windows)]
    start
        .args(["--no-window", "-a"])
        .arg(format!(r"\\.\pipe\agentry-log-test-{}", std::process::id()));
    // Output to a file, not a pipe: the detached agent must not keep our pipe open (Windows).
    let out_file = dir.path().join("start.out");
    let status = start
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(Stdio::null())
        .status()
        .expect("run agentry start");
    let out = std::fs::read_to_string(&out_file).unwrap();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap().to_owned())
    };
    let _stop = Stop(field("SSH_AGENT_PID"), state.clone());
    assert!(status.success(), "{out}");
    let socket = field("SSH_AUTH_SOCK").expect("SSH_AUTH_SOCK line");
    let log = state.join("agentry").join("logs").join("agentry.log");
    // The agent logs "agent listening" just after it reports where it listens: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        if logged.contains("agent listening") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}: {logged:?}",
            log.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status: Output = agentry(&state)
        .env("SSH_AUTH_SOCK", &socket)
        .arg("status")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", describe(&status));
    assert!(
        text(&status.stdout).contains(&format!("log: {} (", log.display())),
        "{}",
        describe(&status)
    );
}
