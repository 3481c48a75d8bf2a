//! The connection cap stays below the open-file limit. The real binary runs under
//! `prlimit --nofile=100:100` (the hard limit too, so it cannot raise it): it must serve at
//! most 100 - 64 = 36 clients at once, leave the others waiting to be accepted (not refused,
//! not crashing), say so in its log, and serve the waiting ones as soon as others hang up.
#![cfg(target_os = "linux")]

mod common;

use agentry_core::frame::{encode_frame, HEADER_LEN};
use agentry_core::proto::msg;
use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CLIENTS: usize = 60;
const CAP: usize = 100 - 64;

#[test]
fn clients_beyond_the_cap_wait_until_others_leave() {
    let dir = private_tempdir();
    let socket = dir.path().join("agent.sock");
    let log = dir.path().join("agent.log");
    let mut agent = Command::new("prlimit")
        .arg("--nofile=100:100")
        .arg(env!("CARGO_BIN_EXE_agentry"))
        .args(["start", "-D", "-a"])
        .arg(&socket)
        .env_remove("SSH_AUTH_SOCK")
        .envs(agentry_tests::tools::no_user_config())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("prlimit (util-linux) must be installed");
    wait_for_agent(&socket);

    // Every client connects (the kernel queues them) and asks for the list at once.
    let (replied, replies) = mpsc::channel();
    let list = encode_frame(&[msg::REQUEST_IDENTITIES]);
    for i in 0..CLIENTS {
        let mut stream = UnixStream::connect(&socket).expect("connect");
        stream.write_all(&list).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let replied = replied.clone();
        std::thread::spawn(move || {
            let mut header = [0u8; HEADER_LEN];
            let answered = stream.read_exact(&mut header).is_ok();
            let _ = replied.send((i, answered, stream));
        });
    }
    let next = |wait: Duration| replies.recv_timeout(wait);
    let mut served = Vec::new();
    for _ in 0..CAP {
        let (i, answered, stream) = next(Duration::from_secs(20)).expect("a reply");
        assert!(answered, "client {i} was dropped instead of served");
        served.push(stream);
    }
    // The cap is reached: nobody else is answered while all of these stay connected.
    let extra = next(Duration::from_millis(500));
    assert!(
        extra.is_err(),
        "more than {CAP} clients were served at once"
    );

    // Hanging up frees places for the waiting clients.
    served.truncate(CAP - 30);
    for _ in CAP..CLIENTS {
        let (i, answered, _) = next(Duration::from_secs(20)).expect("a waiting client is served");
        assert!(answered, "waiting client {i} was dropped instead of served");
    }
    drop(served);
    let listed = run(Command::new("ssh-add")
        .arg("-l")
        .env("SSH_AUTH_SOCK", &socket));
    assert_eq!(listed.status.code(), Some(1), "{}", describe(&listed));
    assert!(agent.try_wait().unwrap().is_none(), "the agent exited");
    let _ = agent.kill();
    let _ = agent.wait();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(&format!("serving at most {CAP} connections at once")),
        "{log}"
    );
}
