//! The Windows benchmark (built for x86_64-pc-windows-gnu, run under Wine by
//! `scripts/bench-wine`): starts the `agentry.exe` next to this executable in the foreground on a
//! private pipe with Pageant's `WM_COPYDATA` window, adds the Ed25519 and RSA-2048 fixture keys
//! with `agentry add`, then times the same requests over both transports: sign (RSA as
//! rsa-sha2-512) on 1 and 4 concurrent connections, and list with the fixture keys and with
//! 1,000 more. It prints ops/s, p50 and p99 per transport and the ratio pipe : `WM_COPYDATA`.
//! No OpenSSH agent runs there, and Wine is not Windows: ratios only, no targets.
//!
//! Two more modes serve the Linux side's WSL benchmark (`agentry-bench wsl`, in `wsl.rs`):
//! `agentry-bench.exe pipe PIPE ROW` times one of the same sign rows straight over an agent's
//! pipe and prints it as a [`crate::client::Row`] line, and `agentry-bench.exe processes` prints the
//! handle count and memory of every `agentry.exe` process.

use crate::client::{self, call, many_ed25519_keys, sign_body, Stats};
use agentry_core::frame::encode_frame;
use agentry_core::proto::{msg, SIGN_FLAG_RSA_SHA2_512};
use agentry_platform::windows::client::{connect_pipe, CopyDataStream};
use agentry_platform::windows::file_access::write_private_file;
use agentry_platform::windows::PAGEANT_WINDOW;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Keys signed with: fixture name and sign flags.
const KEYS: &[(&str, u32)] = &[("ed25519", 0), ("rsa-2048", SIGN_FLAG_RSA_SHA2_512)];

/// The agent under test, killed when dropped.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {}
        ["pipe", pipe, row] => return pipe_row(pipe, row.parse().expect("a row number")),
        ["processes"] => return print_processes(),
        _ => panic!("usage: agentry-bench.exe [pipe PIPE ROW | processes]"),
    }
    let duration = crate::run_length();
    let agentry = agentry_binary();
    let pipe = format!(r"\\.\pipe\agentry-bench-{}", std::process::id());
    let mut agent = Agent(
        Command::new(&agentry)
            .args(["start", "-D", "-a", &pipe])
            .env("AGENTRY_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", agentry.display())),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while connect_pipe(&pipe).is_err() || CopyDataStream::connect(PAGEANT_WINDOW).is_err() {
        if let Ok(Some(status)) = agent.0.try_wait() {
            panic!("agentry exited ({status}): is Pageant or another agent running?");
        }
        assert!(Instant::now() < deadline, "agentry did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Private copies: agentry refuses key files others may open, as a checkout's may be.
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/keys");
    let copies = std::env::temp_dir().join(format!("agentry-bench-{}", std::process::id()));
    std::fs::create_dir_all(&copies).expect("make a directory for the key copies");
    for (name, _) in KEYS {
        let copy = copies.join(name);
        let _ = std::fs::remove_file(&copy);
        let bytes = std::fs::read(keys.join(name)).expect("read a fixture key");
        write_private_file(&copy, &bytes).expect("write a private key copy");
        let out = Command::new(&agentry)
            .arg("add")
            .arg(&copy)
            .env("SSH_AUTH_SOCK", &pipe)
            .stdin(Stdio::null())
            .output()
            .expect("run agentry add");
        assert!(
            out.status.success(),
            "agentry add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&copies);

    let over_pipe = || connect_pipe(&pipe).expect("connect to the pipe");
    let over_copydata = || CopyDataStream::connect(PAGEANT_WINDOW).expect("find the window");
    println!(
        "agentry-bench (Windows build; under Wine these are Wine's numbers, not Windows'): \
         {} s per run; ratio = pipe ops/s ÷ WM_COPYDATA ops/s",
        duration.as_secs_f64()
    );
    let sub = format!("{:>9} {:>8} {:>8}", "ops/s", "p50 µs", "p99 µs");
    println!("{:<28}  {:>28}  {:>28}", "", "named pipe", "WM_COPYDATA");
    println!(
        "{:<22} {:>5}  {sub:>28}  {sub:>28}  {:>6}",
        "operation", "conns", "ratio"
    );
    for (name, flags) in KEYS {
        let body = sign_body(&keys.join(format!("{name}.pub")), *flags);
        for connections in [1, 4] {
            let expect = msg::SIGN_RESPONSE;
            let pipe = client::run(over_pipe, &body, expect, connections, duration);
            let copydata = client::run(over_copydata, &body, expect, connections, duration);
            print_row(&format!("sign {name}"), connections, pipe, copydata);
        }
    }
    let list = [msg::REQUEST_IDENTITIES];
    let count = identities(&mut over_pipe());
    let label = format!("list, {count} keys");
    let (pipe, copydata) = both(over_pipe, over_copydata, &list, duration);
    print_row(&label, 1, pipe, copydata);

    let mut stream = over_pipe();
    for add in many_ed25519_keys(1_000) {
        assert_eq!(call(&mut stream, &add), [msg::SUCCESS], "add key");
    }
    let count = identities(&mut stream);
    let label = format!("list, {count} keys");
    let (pipe, copydata) = both(over_pipe, over_copydata, &list, duration);
    print_row(&label, 1, pipe, copydata);
}

/// The WSL benchmark's reference: row `row` of [`client::WSL_ROWS`] straight over `pipe` (an
/// agent holding the fixture keys), printed as a [`client::Row`] line.
fn pipe_row(pipe: &str, row: usize) {
    let (name, flags, connections) = client::WSL_ROWS[row];
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/keys");
    let body = sign_body(&keys.join(format!("{name}.pub")), flags);
    let stats = client::run(
        || connect_pipe(pipe).expect("connect to the pipe"),
        &body,
        msg::SIGN_RESPONSE,
        connections,
        crate::run_length(),
    );
    println!("{}", client::Row::new(name, connections, stats));
}

/// `agentry.exe PID HANDLES PRIVATE_BYTES WORKING_SET` for every agentry.exe process (`-` for a
/// figure Windows withholds).
fn print_processes() {
    let show = |v: Option<usize>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let found = agentry_platform::windows::process_stats::processes_named("agentry.exe")
        .expect("list processes");
    for p in found {
        println!(
            "agentry.exe {} {} {} {}",
            p.pid,
            show(p.handles.map(|h| h as usize)),
            show(p.private_bytes),
            show(p.working_set)
        );
    }
}

/// Times `body` on one connection over each transport.
fn both<P, C>(
    pipe: impl Fn() -> P + Sync,
    copydata: impl Fn() -> C + Sync,
    body: &[u8],
    duration: Duration,
) -> (Stats, Stats)
where
    P: std::io::Read + std::io::Write,
    C: std::io::Read + std::io::Write,
{
    let expect = msg::IDENTITIES_ANSWER;
    (
        client::run(pipe, body, expect, 1, duration),
        client::run(copydata, body, expect, 1, duration),
    )
}

fn identities(stream: &mut (impl std::io::Read + std::io::Write)) -> u32 {
    let listed = call(stream, &encode_frame(&[msg::REQUEST_IDENTITIES]));
    assert_eq!(listed[0], msg::IDENTITIES_ANSWER);
    u32::from_be_bytes(listed[1..5].try_into().expect("4 bytes"))
}

fn print_row(label: &str, connections: usize, pipe: Stats, copydata: Stats) {
    let cell = |s: Stats| format!("{:>9.0} {:>8.1} {:>8.1}", s.ops_per_sec, s.p50_us, s.p99_us);
    println!(
        "{label:<22} {connections:>5}  {:>28}  {:>28}  {:>5.2}×",
        cell(pipe),
        cell(copydata),
        pipe.ops_per_sec / copydata.ops_per_sec
    );
}

/// `agentry.exe` next to this executable, or `AGENTRY_BIN`.
fn agentry_binary() -> PathBuf {
    let binary = std::env::var_os("AGENTRY_BIN").map_or_else(
        || {
            std::env::current_exe()
                .expect("current exe")
                .with_file_name("agentry.exe")
        },
        PathBuf::from,
    );
    assert!(
        binary.exists(),
        "no agentry binary at {} (build it, or set AGENTRY_BIN)",
        binary.display()
    );
    binary
}
