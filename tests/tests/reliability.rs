//! Reliability of the Unix socket server under abuse, against an in-process agent on a temporary
//! socket: a thousand concurrent clients listing and signing, clients that hang up mid-frame or
//! mid-reply, a client that never reads its replies, and ten thousand connect/disconnect cycles
//! without descriptor growth. Tests take a shared lock: they count this process's descriptors
//! and open thousands of them, so they must not overlap. Timeouts here detect hangs; nothing
//! asserts on speed.
#![cfg(target_os = "linux")]

use agentry_core::frame::encode_frame;
use agentry_core::proto::{msg, Request, Response, SignRequest};
use agentry_tests::fixtures;
use agentry_tests::server::TestAgent;
use agentry_tests::transport::{Connection, StreamConnection};
use std::io::{ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{mpsc, Arc, Barrier, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long any single step may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(5);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn connect(socket: &Path) -> StreamConnection<UnixStream> {
    let stream = UnixStream::connect(socket).expect("connect to the agent");
    stream.set_read_timeout(Some(HANG)).unwrap();
    stream.set_write_timeout(Some(HANG)).unwrap();
    StreamConnection(stream)
}

/// An agent holding the Ed25519 fixture key.
fn agent_with_ed25519() -> TestAgent {
    let agent = TestAgent::start();
    let reply = connect(agent.socket()).call(&fixtures::request("ssh-add-ed25519"));
    assert_eq!(reply, [msg::SUCCESS]);
    agent
}

fn sign_request() -> Vec<u8> {
    Request::Sign(SignRequest {
        key_blob: fixtures::public_blob("ed25519"),
        data: b"reliability: data to sign".to_vec(),
        flags: 0,
    })
    .encode()
    .to_vec()
}

/// Lists (expecting the one key) and signs once on `conn`; `verify` also checks the signature.
fn list_and_sign(conn: &mut dyn Connection, sign: &[u8], verify: bool) {
    match Response::decode(&conn.call(&[msg::REQUEST_IDENTITIES])) {
        Ok(Response::Identities(ids)) => assert_eq!(ids.len(), 1),
        other => panic!("expected one identity, got {other:?}"),
    }
    let Ok(Response::Signature(sig)) = Response::decode(&conn.call(sign)) else {
        panic!("expected a signature");
    };
    if verify {
        use ssh_encoding::Decode;
        let sig = ssh_key::Signature::decode(&mut sig.as_slice()).expect("signature decodes");
        let public = fixtures::public_key("ed25519");
        signature::Verifier::verify(public.key_data(), b"reliability: data to sign", &sig)
            .expect("signature verifies");
    }
}

/// Runs `f` on a thread and fails if it does not finish within `limit` (a hang detector).
fn within(limit: Duration, what: &str, f: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => thread.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no answer within {limit:?}"),
    }
}

/// A fresh connection is served correctly (and promptly).
fn fresh_client_is_served(agent: &TestAgent) {
    let socket = agent.socket().to_owned();
    within(HANG, "fresh connection", move || {
        list_and_sign(&mut connect(&socket), &sign_request(), true);
    });
}

/// `(soft, hard)` RLIMIT_NOFILE of this process, from `/proc/self/limits`.
fn nofile_limits() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("no open files line in /proc/self/limits");
    let parse = |v: &str| v.parse().unwrap_or(u64::MAX); // "unlimited"
    let mut values = line["Max open files".len()..].split_whitespace();
    (parse(values.next().unwrap()), parse(values.next().unwrap()))
}

/// Raises the soft descriptor limit to the hard one when it is below `wanted`, and returns the
/// soft limit in force, using util-linux's `prlimit` on this process (this crate has no libc).
fn raise_nofile_to(wanted: u64) -> u64 {
    let (soft, hard) = nofile_limits();
    if soft >= wanted || hard <= soft {
        return soft;
    }
    let status = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"))
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success(), "prlimit failed: {status}");
    nofile_limits().0
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_thousand_concurrent_clients_list_and_sign() {
    let _serial = serial();
    // Each client costs two descriptors here (its end and the in-process agent's end), plus the
    // runtime's and the test harness's: a thousand clients need a 2,100 descriptor limit.
    let clients = 1_000;
    let limit = raise_nofile_to(2_100);
    assert!(
        limit >= 2_100,
        "{clients} clients need 2,100 descriptors; the hard limit allows {limit} (raise it: ulimit -Hn)"
    );
    let agent = agent_with_ed25519();
    let start = Arc::new(Barrier::new(clients));
    let sign = Arc::new(sign_request());
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (socket, start, sign) = (agent.socket().to_owned(), start.clone(), sign.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let mut conn = connect(&socket);
                    start.wait(); // every client is connected before any sends
                                  // Verifying is slow in debug builds: check every 50th signature.
                    list_and_sign(&mut conn, &sign, i % 50 == 0);
                })
                .expect("spawn client thread")
        })
        .collect();
    for thread in threads {
        thread.join().expect("client failed");
    }
    fresh_client_is_served(&agent);
}

#[test]
fn clients_hanging_up_mid_frame_or_mid_reply_do_not_disturb_the_agent() {
    let _serial = serial();
    let agent = agent_with_ed25519();
    let sign = sign_request();
    let frame = encode_frame(&sign);
    // After two bytes of the length header.
    connect(agent.socket()).send_raw(&frame[..2]).unwrap();
    fresh_client_is_served(&agent);
    // After the header and half the body.
    connect(agent.socket())
        .send_raw(&frame[..4 + sign.len() / 2])
        .unwrap();
    fresh_client_is_served(&agent);
    // After a whole sign request, before reading the reply.
    connect(agent.socket()).send_raw(&frame).unwrap();
    fresh_client_is_served(&agent);
    // All three at once, several times over, then one more check.
    for _ in 0..20 {
        for cut in [2, 4 + sign.len() / 2, frame.len()] {
            connect(agent.socket()).send_raw(&frame[..cut]).unwrap();
        }
    }
    fresh_client_is_served(&agent);
}

#[test]
fn a_client_that_never_reads_does_not_block_others() {
    let _serial = serial();
    let agent = agent_with_ed25519();
    let stream = UnixStream::connect(agent.socket()).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let list = encode_frame(&[msg::REQUEST_IDENTITIES]);
    let mut sent = 0usize;
    let filled = loop {
        match (&stream).write_all(&list) {
            Ok(()) => sent += 1,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break true
            }
            Err(e) => panic!("writing list requests: {e}"),
        }
        if sent >= 10_000_000 {
            break false;
        }
    };
    assert!(filled, "the socket never filled after {sent} requests");
    // The stuck client stays connected while others are served.
    fresh_client_is_served(&agent);
    fresh_client_is_served(&agent);
    drop(stream);
    fresh_client_is_served(&agent);
}

#[test]
fn ten_thousand_connect_disconnect_cycles_leak_no_descriptors() {
    let _serial = serial();
    let agent = agent_with_ed25519();
    fresh_client_is_served(&agent);
    let before = open_fds();
    for i in 0..10_000 {
        let mut conn = connect(agent.socket());
        if i % 100 == 0 {
            assert_eq!(
                conn.call(&[msg::REQUEST_IDENTITIES])[0],
                msg::IDENTITIES_ANSWER
            );
        }
    }
    // The agent closes its ends asynchronously: give it a moment to catch up.
    const SLACK: usize = 8;
    let deadline = Instant::now() + HANG;
    let mut after = open_fds();
    while after > before + SLACK && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        after = open_fds();
    }
    assert!(
        after <= before + SLACK,
        "descriptors grew from {before} to {after} over 10,000 connections"
    );
    fresh_client_is_served(&agent);
}
