//! `agentry start -- COMMAND`, like `ssh-agent COMMAND`: the agent serves while the command runs
//! and exits when it does, with its status, even with clients still connected; its socket, and
//! the directory it created for it, are removed. A command killed by a signal is a failure, and
//! an agent stopped before its command says so. The 20 s bounds are liveness bounds, not timing
//! assertions.
#![cfg(unix)]

mod common;

use common::*;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn exit_within_20s(agent: &mut KillOnDrop) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = agent.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the agent still runs after 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `agentry start [-a SOCKET] -- sh -c SCRIPT`, in `runtime` as XDG_RUNTIME_DIR, stderr to `log`.
fn start_with_command(
    socket: Option<&Path>,
    runtime: &Path,
    script: &str,
    log: &Path,
) -> KillOnDrop {
    let mut command = agentry();
    command.arg("start").env("XDG_RUNTIME_DIR", runtime);
    if let Some(socket) = socket {
        command.arg("-a").arg(socket);
    }
    let child = command
        .args(["--", "sh", "-c", script])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start agentry");
    KillOnDrop(child)
}

#[test]
fn the_agent_exits_with_its_command_and_removes_its_socket_despite_connected_clients() {
    let dir = private_tempdir();
    let (ready, go, log) = (
        dir.path().join("ready"),
        dir.path().join("go"),
        dir.path().join("log"),
    );
    // The default place, so the agent creates (and must remove) `agentry/` itself.
    let socket = dir.path().join("agentry/agent.sock");
    let script = format!(
        "[ \"$SSH_AUTH_SOCK\" = '{}' ] && : > '{}'; while [ ! -e '{}' ]; do sleep 0.05; done; exit 7",
        socket.display(),
        ready.display(),
        go.display()
    );
    let mut agent = start_with_command(None, dir.path(), &script, &log);
    wait_for_file(&ready);
    // A client that stays connected, idle, does not keep the agent alive.
    let mut idle = UnixStream::connect(&socket).expect("the agent serves while the command runs");
    std::fs::write(&go, b"").unwrap();
    let status = exit_within_20s(&mut agent);
    assert_eq!(
        status.code(),
        Some(7),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(
        idle.read(&mut [0u8; 1]).unwrap(),
        0,
        "the client was not closed"
    );
    assert!(!socket.exists(), "socket left behind");
    assert!(
        !dir.path().join("agentry").exists(),
        "directory left behind"
    );
}

#[test]
fn a_command_killed_by_a_signal_is_a_failure_and_the_socket_is_removed() {
    let dir = private_tempdir();
    let socket = dir.path().join("agent.sock");
    let log = dir.path().join("log");
    let mut agent = start_with_command(Some(&socket), dir.path(), "kill -9 $$", &log);
    let status = exit_within_20s(&mut agent);
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("sh did not exit normally"), "{log}");
    assert!(!socket.exists(), "socket left behind");
}

#[test]
fn an_agent_stopped_before_its_command_says_so_and_removes_its_socket() {
    let dir = private_tempdir();
    let socket = dir.path().join("agent.sock");
    let (pid_file, log) = (dir.path().join("pid"), dir.path().join("log"));
    let script = format!(
        "echo $$ > '{}.tmp'; mv '{0}.tmp' '{0}'; exec sleep 1000",
        pid_file.display()
    );
    let mut agent = start_with_command(Some(&socket), dir.path(), &script, &log);
    wait_for_file(&pid_file);
    /// The command, which outlives its agent here: killed however the test ends.
    struct Command(String);
    impl Drop for Command {
        fn drop(&mut self) {
            let _ = run(std::process::Command::new("kill").args(["-9", &self.0]));
        }
    }
    let _command = Command(
        std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_owned(),
    );
    agentry_platform::unix::process::terminate_process(agent.0.id()).unwrap();
    let status = exit_within_20s(&mut agent);
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("the agent stopped while sh was still running"),
        "{log}"
    );
    assert!(!socket.exists(), "socket left behind");
}
