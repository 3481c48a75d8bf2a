//! The WSL benchmark (`agentry-bench wsl`, run by `scripts/bench-wine wsl`): the Windows
//! `agentry.exe` under Wine on a private pipe, the Linux `agentry bridge` in front of it through
//! `wine agentry.exe relay --mux`, and the issue's three comparisons in one run:
//!
//! 1. signing through the bridge (this Linux client) against the same client code built for
//!    Windows signing straight over the pipe (`agentry-bench.exe pipe PIPE ROW`), alternating
//!    in [`ROUNDS`] rounds so that the machine's drift favours neither: throughput at 4
//!    connections (target ≥ 80 %) and p50 latency at 1 connection (target ≤ 1.25×), medians;
//! 2. connections per second (connect, list, close) through the bridge against
//!    `socat UNIX-LISTEN:…,fork EXEC:"wine agentry.exe relay"`, which starts a relay per
//!    connection (target ≥ 5×);
//! 3. 1,000 connections in a row through the bridge: open descriptors and resident memory of
//!    the bridge, the relay and the agent (their Linux processes), and the Windows handle count
//!    and private bytes of the relay and the agent (`agentry-bench.exe processes`), before and
//!    after.
//!
//! It needs `WINE` (the loader), `AGENTRY_WINDOWS_EXE` and `BENCH_WINDOWS_EXE` (the Windows
//! builds) and Wine's prefix variables, which scripts/bench-wine sets. Everything it starts is
//! killed when it ends.

use crate::agents::{agentry_binary, fixture_key, rss_kib_of, ssh_add};
use crate::client::{self, call, sign_body, Row, Stats, WSL_ROWS};
use agentry_core::frame::encode_frame;
use agentry_core::proto::msg;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Rounds of each signing row on each side, alternating.
const ROUNDS: usize = 3;
/// Connections opened in a row for the growth figures (after [`WARM_UP`] more).
const CONNECTIONS: usize = 1_000;
/// Connections opened before the "before" figures, so first-use allocations are not growth.
const WARM_UP: usize = 100;

/// A child process killed (and reaped) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the benchmark runs: Wine and the two Windows executables.
struct Windows {
    wine: PathBuf,
    agentry: PathBuf,
    bench: PathBuf,
}

impl Windows {
    fn from_env() -> Self {
        let var = |name: &str| -> PathBuf {
            std::env::var_os(name)
                .map(PathBuf::from)
                .unwrap_or_else(|| panic!("{name} is not set (run scripts/bench-wine wsl)"))
        };
        Self {
            wine: var("WINE"),
            agentry: var("AGENTRY_WINDOWS_EXE"),
            bench: var("BENCH_WINDOWS_EXE"),
        }
    }

    /// `wine PROGRAM ARGS…`, no display, Wine quiet.
    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(&self.wine);
        command
            .arg(program)
            .args(args)
            .env("WINEDEBUG", "-all")
            .env("AGENTRY_LOG", "warn")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        command
    }

    /// The argv of `wine agentry.exe relay ARGS…`.
    fn relay_argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec![
            self.wine.display().to_string(),
            self.agentry.display().to_string(),
            "relay".to_owned(),
        ];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        argv
    }

    /// Row `row` of [`WSL_ROWS`] timed straight over `pipe` by `agentry-bench.exe`.
    fn pipe_row(&self, pipe: &str, row: usize, duration: Duration) -> Stats {
        let out = self
            .command(&self.bench, &["pipe", pipe, &row.to_string()])
            .env("BENCH_SECONDS", duration.as_secs_f64().to_string())
            .output()
            .expect("run agentry-bench.exe pipe");
        assert!(
            out.status.success(),
            "agentry-bench.exe pipe: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(Row::parse)
            .expect("a row from agentry-bench.exe pipe")
            .stats
    }

    /// `agentry.exe` processes: pid → (handles, private bytes), `None` where withheld.
    fn processes(&self) -> Vec<(u32, Option<u64>, Option<u64>)> {
        let out = self
            .command(&self.bench, &["processes"])
            .output()
            .expect("run agentry-bench.exe processes");
        assert!(out.status.success(), "agentry-bench.exe processes failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let mut words = line.strip_prefix("agentry.exe ")?.split_whitespace();
                let pid = words.next()?.parse().ok()?;
                let handles = words.next()?.parse().ok();
                let private = words.next()?.parse().ok();
                Some((pid, handles, private))
            })
            .collect()
    }
}

pub(crate) fn main() {
    let duration = crate::run_length();
    let windows = Windows::from_env();
    let dir = tempfile::Builder::new()
        .prefix("agentry-bench-wsl-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .expect("temp dir");
    let pipe = format!(r"\\.\pipe\agentry-bench-wsl-{}", std::process::id());

    // The Windows agent; it prints its shell lines once it serves the pipe.
    let mut agent = Killed(
        windows
            .command(
                &windows.agentry,
                &["start", "-D", "-a", &pipe, "--no-window"],
            )
            .stdout(Stdio::piped())
            .spawn()
            .expect("start agentry.exe under Wine"),
    );
    let first = first_line_then_drain(agent.0.stdout.take().expect("stdout"));
    assert!(first.starts_with("SSH_AUTH_SOCK="), "agent: {first:?}");
    let agent_windows: BTreeSet<u32> = windows.processes().iter().map(|p| p.0).collect();

    // The bridge, and the fixture keys added through it.
    let socket = dir.path().join("bridge.sock");
    let mut bridge = Killed(
        Command::new(agentry_binary())
            .args(["bridge", "-D", "-a"])
            .arg(&socket)
            .arg("--")
            .args(windows.relay_argv(&["--mux", "--pipe", &pipe]))
            .env("AGENTRY_LOG", "warn")
            .env_remove("WSL_DISTRO_NAME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start agentry bridge"),
    );
    let first = first_line_then_drain(bridge.0.stdout.take().expect("stdout"));
    assert!(first.starts_with("SSH_AUTH_SOCK="), "bridge: {first:?}");
    let keys: Vec<PathBuf> = ["ed25519", "rsa-2048"]
        .iter()
        .map(|name| fixture_key(dir.path(), name))
        .collect();
    ssh_add(&socket, &keys, "the bridge");
    let bridge_connect = || UnixStream::connect(&socket).expect("connect to the bridge");

    println!(
        "agentry-bench wsl (under Wine: Wine's numbers, not Windows'): {} s per run",
        duration.as_secs_f64()
    );
    println!(
        "1. signing: the same client straight over the named pipe (Windows build) and through \
         the bridge, alternating, {ROUNDS} rounds each; medians, and the range of the ratio"
    );
    let sub = format!("{:>9} {:>8} {:>8}", "ops/s", "p50 µs", "p99 µs");
    println!("{:<24}  {:>28}  {:>28}", "", "named pipe", "bridge");
    println!(
        "{:<18} {:>5}  {sub:>28}  {sub:>28}  {:>17} {:>17}",
        "operation", "conns", "ops ratio", "p50 ratio"
    );
    let mut verdicts = Vec::new();
    for (row, (name, flags, connections)) in WSL_ROWS.iter().enumerate() {
        let body = sign_body(&dir.path().join(format!("{name}.pub")), *flags);
        let (mut direct, mut bridged) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Pipe first in even rounds, bridge first in odd ones: drift favours neither.
            for side in [round % 2, 1 - round % 2] {
                if side == 0 {
                    direct.push(windows.pipe_row(&pipe, row, duration));
                } else {
                    bridged.push(client::run(
                        bridge_connect,
                        &body,
                        msg::SIGN_RESPONSE,
                        *connections,
                        duration,
                    ));
                }
            }
        }
        let ops: Vec<f64> = (0..ROUNDS)
            .map(|i| bridged[i].ops_per_sec / direct[i].ops_per_sec)
            .collect();
        let p50: Vec<f64> = (0..ROUNDS)
            .map(|i| bridged[i].p50_us / direct[i].p50_us)
            .collect();
        let (pipe_row, bridge_row) = (median_stats(&direct), median_stats(&bridged));
        let ops_ratio = bridge_row.ops_per_sec / pipe_row.ops_per_sec;
        let p50_ratio = bridge_row.p50_us / pipe_row.p50_us;
        let cell = |s: Stats| format!("{:>9.0} {:>8.1} {:>8.1}", s.ops_per_sec, s.p50_us, s.p99_us);
        println!(
            "{:<18} {connections:>5}  {:>28}  {:>28}  {:>17} {:>17}",
            format!("sign {name}"),
            cell(pipe_row),
            cell(bridge_row),
            ratio_cell(ops_ratio, &ops),
            ratio_cell(p50_ratio, &p50),
        );
        if *connections == 4 {
            verdicts.push(format!(
                "sign {name}, 4 connections: bridge throughput {:.0} % of the pipe's (target ≥ 80 %): {}",
                ops_ratio * 100.0,
                met(ops_ratio >= 0.8)
            ));
        } else {
            verdicts.push(format!(
                "sign {name}, 1 connection: bridge p50 latency {p50_ratio:.2}× the pipe's (target ≤ 1.25×): {}",
                met(p50_ratio <= 1.25)
            ));
        }
    }
    for verdict in &verdicts {
        println!("  {verdict}");
    }

    println!("2. connections per second (connect, list, close), one after another");
    let relay_script = dir.path().join("relay.sh");
    let quoted: Vec<String> = windows
        .relay_argv(&["--pipe", &pipe])
        .iter()
        .map(|a| format!("'{a}'"))
        .collect();
    std::fs::write(
        &relay_script,
        format!("#!/bin/sh\nexec {}\n", quoted.join(" ")),
    )
    .expect("write relay.sh");
    std::fs::set_permissions(&relay_script, std::fs::Permissions::from_mode(0o700))
        .expect("chmod relay.sh");
    let socat_socket = dir.path().join("socat.sock");
    let _socat = Killed(
        Command::new("socat")
            .arg(format!("UNIX-LISTEN:{},fork", socat_socket.display()))
            .arg(format!("EXEC:{}", relay_script.display()))
            .env("WINEDEBUG", "-all")
            .env("AGENTRY_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("start socat (Debian package socat)"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socat_socket.exists() {
        assert!(Instant::now() < deadline, "socat did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let socat_rate = connection_rate(&socat_socket, duration, 5);

    // The bridge's rate and the growth figures come from the same 1,000 connections.
    for _ in 0..WARM_UP {
        list_on_a_new_connection(&socket);
    }
    std::thread::sleep(Duration::from_millis(500));
    let relay_linux = only(&children_of(bridge.0.id()), "relay processes of the bridge");
    let relay_windows: Vec<u32> = windows
        .processes()
        .iter()
        .map(|p| p.0)
        .filter(|pid| !agent_windows.contains(pid))
        .collect();
    let relay_windows = only(
        &relay_windows,
        "agentry.exe relays (is another agentry.exe running in this prefix?)",
    );
    let agent_windows = only(
        &agent_windows.into_iter().collect::<Vec<_>>(),
        "agentry.exe agents before the bridge started",
    );
    let sides = [
        ("bridge (Linux)", bridge.0.id(), None),
        ("relay (Wine)", relay_linux, Some(relay_windows)),
        ("agent (Wine)", agent.0.id(), Some(agent_windows)),
    ];
    let before = figures(&windows, &sides);
    let started = Instant::now();
    for _ in 0..CONNECTIONS {
        list_on_a_new_connection(&socket);
    }
    let bridge_rate = CONNECTIONS as f64 / started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    let after = figures(&windows, &sides);
    let ratio = bridge_rate / socat_rate;
    println!("  socat EXEC (a relay per connection): {socat_rate:>8.1} connections/s");
    println!("  bridge (one relay, --mux):           {bridge_rate:>8.1} connections/s ({CONNECTIONS} in a row)");
    println!(
        "  bridge ÷ socat: {ratio:.1}× (target ≥ 5×): {}",
        met(ratio >= 5.0)
    );

    println!("3. {CONNECTIONS} connections through the bridge (after {WARM_UP} to warm up): before → after");
    println!(
        "  {:<16} {:>16} {:>22} {:>18} {:>24}",
        "process", "Linux fds", "Linux RSS KiB", "Windows handles", "Windows private KiB"
    );
    for (i, (name, ..)) in sides.iter().enumerate() {
        let (b, a) = (&before[i], &after[i]);
        let pair = |b: Option<u64>, a: Option<u64>| match (b, a) {
            (Some(b), Some(a)) => format!("{b} → {a} ({:+})", a as i64 - b as i64),
            _ => "-".to_owned(),
        };
        println!(
            "  {name:<16} {:>16} {:>22} {:>18} {:>24}",
            pair(Some(b.fds), Some(a.fds)),
            pair(Some(b.rss_kib), Some(a.rss_kib)),
            pair(b.handles, a.handles),
            pair(b.private_kib, a.private_kib)
        );
    }
}

/// The first line a child prints (once it serves); the rest is read and dropped on a thread so
/// that its later lines never meet a closed pipe.
fn first_line_then_drain(stdout: std::process::ChildStdout) -> String {
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).expect("read a first line");
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    first
}

/// The median of each figure of `runs` (an odd number of them).
fn median_stats(runs: &[Stats]) -> Stats {
    let median = |f: fn(&Stats) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(f).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    Stats {
        ops_per_sec: median(|s| s.ops_per_sec),
        p50_us: median(|s| s.p50_us),
        p99_us: median(|s| s.p99_us),
    }
}

/// `1.05× (0.98–1.12)`: a ratio of medians and the range of the rounds' own ratios.
fn ratio_cell(ratio: f64, rounds: &[f64]) -> String {
    let low = rounds.iter().copied().fold(f64::INFINITY, f64::min);
    let high = rounds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{ratio:.2}× ({low:.2}–{high:.2})")
}

/// "met" or "NOT met".
fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// Connects to `socket`, lists the keys, and closes.
fn list_on_a_new_connection(socket: &Path) {
    let mut stream = UnixStream::connect(socket).expect("connect");
    let reply = call(&mut stream, &encode_frame(&[msg::REQUEST_IDENTITIES]));
    assert_eq!(reply.first(), Some(&msg::IDENTITIES_ANSWER), "list");
}

/// Connections per second at `socket`, one after another for `duration` and at least `minimum`.
fn connection_rate(socket: &Path, duration: Duration, minimum: usize) -> f64 {
    let started = Instant::now();
    let mut count = 0;
    while count < minimum || started.elapsed() < duration {
        list_on_a_new_connection(socket);
        count += 1;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// The one element of `items`, or a panic naming `what`.
fn only(items: &[u32], what: &str) -> u32 {
    match items {
        [one] => *one,
        _ => panic!("expected one of {what}, found {items:?}"),
    }
}

/// The Linux children of `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("read /proc/PID/task")
        .flatten()
    {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        children.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    children
}

/// One process's figures.
struct Figures {
    fds: u64,
    rss_kib: u64,
    handles: Option<u64>,
    private_kib: Option<u64>,
}

/// The figures of each `(name, Linux pid, Windows pid)`.
fn figures(windows: &Windows, sides: &[(&str, u32, Option<u32>)]) -> Vec<Figures> {
    let processes = windows.processes();
    sides
        .iter()
        .map(|(_, linux, win)| {
            let fds = std::fs::read_dir(format!("/proc/{linux}/fd"))
                .expect("read /proc/PID/fd")
                .count() as u64;
            let rss_kib = rss_kib_of(*linux);
            let windows = win.and_then(|w| processes.iter().find(|p| p.0 == w));
            Figures {
                fds,
                rss_kib,
                handles: windows.and_then(|p| p.1),
                private_kib: windows.and_then(|p| p.2).map(|b| b / 1024),
            }
        })
        .collect()
}
