//! The Unix benchmark: agentry against OpenSSH's ssh-agent, both as real processes holding
//! the same Ed25519, ECDSA P-256 and RSA-3072 fixture keys (see `main.rs`).

use crate::agents::{agentry_binary, fixture_key, openssh_version, AgentProcess};
use crate::client::{self, call, many_ed25519_keys, sign_body, Stats};
use agentry_core::frame::encode_frame;
use agentry_core::proto::{msg, SIGN_FLAG_RSA_SHA2_512};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Keys signed with: fixture name, sign flags, and the 4-connection throughput target.
const KEYS: &[(&str, u32, f64)] = &[
    ("ed25519", 0, 10.0),
    ("ecdsa-p256", 0, 3.0),
    ("rsa-3072", SIGN_FLAG_RSA_SHA2_512, 1.8),
];

pub(crate) fn main() {
    let duration = crate::run_length();
    let seconds = duration.as_secs_f64();
    let dir = tempfile::Builder::new()
        .prefix("agentry-bench-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .expect("temp dir");
    let key_files: Vec<_> = KEYS
        .iter()
        .map(|(name, ..)| fixture_key(dir.path(), name))
        .collect();
    let agentry_bin = agentry_binary();
    let agents = [
        AgentProcess::start(
            "agentry",
            &agentry_bin,
            &["start", "-D", "-a"],
            dir.path().join("agentry.sock"),
        ),
        AgentProcess::start(
            "ssh-agent",
            Path::new("ssh-agent"),
            &["-D", "-a"],
            dir.path().join("ssh-agent.sock"),
        ),
    ];
    for agent in &agents {
        agent.ssh_add(&key_files);
    }
    std::thread::sleep(Duration::from_millis(500));
    let idle: Vec<u64> = agents.iter().map(AgentProcess::rss_kib).collect();

    println!("ssh-agent: {}", openssh_version());
    println!("agentry-bench: {seconds} s per run; ratio = agentry ops/s ÷ ssh-agent ops/s");
    let sub = format!("{:>9} {:>8} {:>8}", "ops/s", "p50 µs", "p99 µs");
    println!("{:<28}  {:>28}  {:>28}", "", "agentry", "ssh-agent");
    println!(
        "{:<22} {:>5}  {sub:>28}  {sub:>28}  {:>6}",
        "operation", "conns", "ratio"
    );
    let only = std::env::var("BENCH_ONLY").ok();
    for (name, flags, target) in KEYS {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let body = sign_body(&dir.path().join(format!("{name}.pub")), *flags);
        for connections in [1, 4] {
            let [ours, theirs] = agents.each_ref().map(|a| {
                client::run(
                    || connect(&a.socket),
                    &body,
                    msg::SIGN_RESPONSE,
                    connections,
                    duration,
                )
            });
            let label = format!("sign {name}");
            let verdict = (connections == 4).then(|| {
                let ratio_ok = ours.ops_per_sec / theirs.ops_per_sec >= *target;
                let p99_ok = ours.p99_us < theirs.p50_us;
                format!(
                    "  (target ≥{target}×: {}; p99 < their p50: {})",
                    yes(ratio_ok),
                    yes(p99_ok)
                )
            });
            print_row(
                &label,
                connections,
                ours,
                theirs,
                verdict.as_deref().unwrap_or(""),
            );
        }
    }

    let signed: Vec<u64> = agents.iter().map(AgentProcess::rss_kib).collect();
    println!();
    println!(
        "idle RSS after adding 3 keys: agentry {} KiB, ssh-agent {} KiB (not above ssh-agent: {})",
        idle[0],
        idle[1],
        yes(idle[0] <= idle[1])
    );
    println!(
        "RSS after the signing runs: agentry {} KiB, ssh-agent {} KiB",
        signed[0], signed[1]
    );

    let adds = many_ed25519_keys(1_000);
    for agent in &agents {
        let mut stream = UnixStream::connect(&agent.socket).expect("connect");
        for add in &adds {
            assert_eq!(
                call(&mut stream, add),
                [msg::SUCCESS],
                "{}: add key",
                agent.name
            );
        }
        let listed = call(&mut stream, &encode_frame(&[msg::REQUEST_IDENTITIES]));
        let count = u32::from_be_bytes(listed[1..5].try_into().unwrap());
        assert_eq!(count, 1_003, "{} lists {count} keys", agent.name);
    }
    let [ours, theirs] = agents.each_ref().map(|a| {
        client::run(
            || connect(&a.socket),
            &[msg::REQUEST_IDENTITIES],
            msg::IDENTITIES_ANSWER,
            1,
            duration,
        )
    });
    print_row("list, 1,003 keys", 1, ours, theirs, "");
    let loaded: Vec<u64> = agents.iter().map(AgentProcess::rss_kib).collect();
    println!(
        "RSS with 1,003 keys: agentry {} KiB, ssh-agent {} KiB",
        loaded[0], loaded[1]
    );
}

fn yes(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn print_row(label: &str, connections: usize, ours: Stats, theirs: Stats, note: &str) {
    let cell = |s: Stats| format!("{:>9.0} {:>8.1} {:>8.1}", s.ops_per_sec, s.p50_us, s.p99_us);
    println!(
        "{label:<22} {connections:>5}  {:>28}  {:>28}  {:>5.2}×{note}",
        cell(ours),
        cell(theirs),
        ours.ops_per_sec / theirs.ops_per_sec
    );
}

fn connect(socket: &Path) -> UnixStream {
    UnixStream::connect(socket).expect("connect")
}
