//! Connection churn against the real binary: ten thousand clients that connect, (some) list,
//! and hang up must leave the agent process with no more descriptors than it settled at after a
//! warm-up, and its resident memory must stop growing: a per-connection leak grows it in every
//! round of 10,000 connections, while the allocator's own growth (an arena, a longer free list)
//! comes once, so one round of three must stay within the slack. The agent runs as its own
//! process, so /proc shows its own figures, not the test's.
#![cfg(target_os = "linux")]

mod common;

use agentry_core::frame::{body_len_from_header, encode_frame, HEADER_LEN};
use agentry_core::proto::msg;
use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Connects, lists on every `list_every`-th connection, and hangs up, `count` times.
fn churn(socket: &Path, count: usize, list_every: usize) {
    let frame = encode_frame(&[msg::REQUEST_IDENTITIES]);
    for i in 0..count {
        let mut stream = UnixStream::connect(socket).expect("connect to the agent");
        if i % list_every == 0 {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            stream.write_all(&frame).unwrap();
            let mut header = [0u8; HEADER_LEN];
            stream.read_exact(&mut header).expect("reply header");
            let mut body = vec![0; body_len_from_header(u32::from_be_bytes(header)).unwrap()];
            stream.read_exact(&mut body).expect("reply body");
            assert_eq!(body[0], msg::IDENTITIES_ANSWER);
        }
    }
}

/// The agent's resident memory (KiB) and open descriptors, once both stop changing: it closes
/// connections asynchronously, so give it a moment to catch up.
fn settled_usage(pid: u32) -> (u64, usize) {
    let read = || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        let fds = agentry_tests::tools::open_descriptors(pid);
        (rss, fds)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = read();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = read();
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

#[test]
fn ten_thousand_connections_leave_no_descriptor_or_memory_growth() {
    let dir = private_tempdir();
    let agent = ForegroundAgent::start(&dir.path().join("agent.sock"), |_| {});
    let key = fixture_key(dir.path(), "ed25519");
    let added = run(agent.client("ssh-add").arg(&key));
    assert!(added.status.success(), "{}", describe(&added));
    let pid = agent.pid().unwrap();

    // Warm-up: runtime threads, allocator arenas and buffers reach their working size.
    churn(&agent.socket, 2_000, 10);
    let (mut rss_before, fds_before) = settled_usage(pid);
    // 256 KiB over 10,000 connections: any per-connection leak of 27 bytes or more shows.
    const SLACK_KIB: u64 = 256;
    let mut growth = Vec::new();
    for _ in 0..3 {
        churn(&agent.socket, 10_000, 10);
        let (rss_after, fds_after) = settled_usage(pid);
        assert_eq!(
            fds_after, fds_before,
            "the agent's descriptors went from {fds_before} to {fds_after} over 10,000 connections"
        );
        growth.push(rss_after.saturating_sub(rss_before));
        rss_before = rss_after;
    }
    eprintln!("rss growth per 10,000 connections: {growth:?} KiB, fds {fds_before}");
    assert!(
        growth.iter().any(|&g| g <= SLACK_KIB),
        "the agent's RSS grew in every round of 10,000 connections: {growth:?} KiB"
    );
    let listed = run(agent.client("ssh-add").arg("-l"));
    assert!(listed.status.success(), "{}", describe(&listed));
}
