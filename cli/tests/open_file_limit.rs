//! The connection cap stays below the open-file limit, and idle connections at the cap do not
//! lock new clients out. The real binary runs under `prlimit --nofile=100:100` (the hard limit
//! too, so it cannot raise it): it must hold at most 100 - 64 = 36 connections at once, say so
//! in its log, and, as more clients come while the earlier ones stay connected and idle, serve
//! every new one (not refused, not left waiting, not crashing) by closing the longest-idle
//! connections: the earliest clients see the end of file, the 36 latest are still served.
#![cfg(target_os = "linux")]

mod common;

use agentry_core::frame::{encode_frame, HEADER_LEN};
use agentry_core::proto::msg;
use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const CLIENTS: usize = 60;
const CAP: usize = 100 - 64;

/// Lists on `stream`: true when answered, false when the agent had closed the connection. The
/// read timeout is a liveness bound (a client left waiting fails the test instead of hanging it).
fn list(stream: &mut UnixStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    if stream
        .write_all(&encode_frame(&[msg::REQUEST_IDENTITIES]))
        .is_err()
    {
        return false;
    }
    let mut header = [0u8; HEADER_LEN];
    match stream.read(&mut header[..1]) {
        Ok(0) => return false,
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return false,
        Err(e) => panic!("no reply and no end of file: {e}"),
    }
    stream.read_exact(&mut header[1..]).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
    stream.read_exact(&mut body).unwrap();
    assert_eq!(body[0], msg::IDENTITIES_ANSWER);
    true
}

#[test]
fn idle_clients_beyond_the_cap_make_room_for_new_ones() {
    let dir = private_tempdir();
    let socket = dir.path().join("agent.sock");
    let log = dir.path().join("agent.log");
    let mut agent = KillOnDrop(
        Command::new("prlimit")
            .arg("--nofile=100:100")
            .arg(env!("CARGO_BIN_EXE_agentry"))
            .args(["start", "-D", "-a"])
            .arg(&socket)
            .env_remove("SSH_AUTH_SOCK")
            .envs(agentry_tests::tools::no_user_config())
            .env("AGENTRY_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("prlimit (util-linux) must be installed"),
    );
    wait_for_agent(&socket);

    // One client after another connects, is answered, and stays connected, idle.
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let mut stream = UnixStream::connect(&socket).expect("connect");
        assert!(list(&mut stream), "client {i} was not served");
        clients.push(stream);
    }
    // Each client past the cap closed the one idle longest: the earliest ones. (The first half,
    // not exactly the first CLIENTS - CAP: two clients a moment apart may go idle in either
    // order on a loaded machine.)
    let answered: Vec<bool> = clients.iter_mut().map(list).collect();
    let closed: Vec<usize> = (0..CLIENTS).filter(|&i| !answered[i]).collect();
    assert_eq!(closed.len(), CLIENTS - CAP, "closed: {closed:?}");
    assert!(
        closed.iter().all(|&i| i < CLIENTS / 2),
        "a recent client was closed: {closed:?}"
    );
    let listed = run(Command::new("ssh-add")
        .arg("-l")
        .env("SSH_AUTH_SOCK", &socket));
    assert_eq!(listed.status.code(), Some(1), "{}", describe(&listed));
    assert!(agent.0.try_wait().unwrap().is_none(), "the agent exited");
    drop(agent);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(&format!("serving at most {CAP} connections at once"))
            && log.contains("connection cap reached"),
        "{log}"
    );
}
