//! `agentry-bench`, two modes chosen by the platform it is built for.
//!
//! On Unix (`cargo run --release -p agentry-bench`): agentry against OpenSSH's ssh-agent, both
//! as real processes holding the same Ed25519, ECDSA P-256 and RSA-3072 fixture keys. For each
//! key it signs on 1 and 4 concurrent connections for a few seconds per agent (RSA as
//! rsa-sha2-512) and prints ops/s, p50 and p99 and agentry's throughput ratio; then idle RSS
//! after adding the keys, and list latency with 1,000 more Ed25519 keys (fixed seeds) added over
//! the socket.
//!
//! On Windows (`scripts/bench-wine` builds it for x86_64-pc-windows-gnu and runs it under
//! Wine): one agentry process, driven over its named pipe and over Pageant's `WM_COPYDATA`
//! window, signing with Ed25519 and RSA-2048 and listing, with the ratio pipe : `WM_COPYDATA`.
//! There is no OpenSSH agent to compare with there.
//!
//! `agentry-bench wsl` (Unix build, run by `scripts/bench-wine wsl`): the WSL bridge against the
//! named pipe and against `socat` with a relay per connection (see `wsl.rs`).
//!
//! `BENCH_SECONDS` changes the run length (default 3); `AGENTRY_BIN` picks another binary;
//! `BENCH_ONLY=rsa-3072` (a key name) signs with that key only; `BENCH_DIST=1` also prints
//! more latency percentiles of each run to stderr.

#[cfg(unix)]
mod agents;
mod client;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;
#[cfg(unix)]
mod wsl;

fn main() {
    #[cfg(unix)]
    match std::env::args().nth(1).as_deref() {
        None => unix::main(),
        Some("wsl") => wsl::main(),
        Some(other) => panic!("usage: agentry-bench [wsl] (not {other:?})"),
    }
    #[cfg(windows)]
    windows::main();
}

/// The run length: `BENCH_SECONDS`, default 3 s.
fn run_length() -> std::time::Duration {
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    std::time::Duration::from_secs_f64(seconds)
}
