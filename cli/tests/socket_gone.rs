//! The real agent stops on its own once its socket is gone, as gpg-agent does, and says why: its
//! socket directory removed (a temporary directory cleaned up under it), or its socket replaced
//! by another file, which it leaves alone. The 20 s bound is a liveness bound (the agent checks
//! every 5 s), not a timing assertion.
#![cfg(unix)]

mod common;

use common::*;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `agentry start -D -a SOCKET`, logging to `log`.
fn start(socket: &Path, log: &Path) -> KillOnDrop {
    let child = agentry()
        .args(["start", "-D", "-a"])
        .arg(socket)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start agentry");
    let agent = KillOnDrop(child);
    wait_for_agent(socket);
    agent
}

fn exit_within_20s(agent: &mut KillOnDrop) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = agent.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the agent still runs 20 s after its socket went"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_agent_stops_when_its_socket_directory_is_removed() {
    let dir = private_tempdir();
    let run_dir = dir.path().join("run");
    let socket = run_dir.join("agent.sock");
    let log = dir.path().join("agent.log");
    let mut agent = start(&socket, &log);
    std::fs::remove_dir_all(&run_dir).unwrap();
    let status = exit_within_20s(&mut agent);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {log}");
    assert!(
        log.contains(&format!("{} is gone", socket.display())) && log.contains("shutting down"),
        "{log}"
    );
    assert!(!run_dir.exists());
}

#[test]
fn the_agent_stops_when_its_socket_is_replaced_and_leaves_the_new_file() {
    let dir = private_tempdir();
    let socket = dir.path().join("agent.sock");
    let log = dir.path().join("agent.log");
    let mut agent = start(&socket, &log);
    std::fs::remove_file(&socket).unwrap();
    std::fs::write(&socket, b"not the agent's").unwrap();
    let status = exit_within_20s(&mut agent);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("was replaced by another file"), "{log}");
    assert_eq!(std::fs::read(&socket).unwrap(), b"not the agent's");
}
