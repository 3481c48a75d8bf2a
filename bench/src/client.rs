//! The benchmark client: blocking request/reply over any stream (a Unix socket, a named pipe,
//! `WM_COPYDATA`), timed loops of one request on N concurrent connections (each on its own
//! thread), the statistics printed (ops/s over the whole run, p50 and p99 of per-request
//! latency), and the 1,000 extra keys added before timing a long list.

use agentry_core::frame::encode_frame;
use agentry_core::proto::{msg, Request, SignRequest};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Sends one frame (encoded once, outside the timed loop) and returns the reply body, read
/// with the agent's own frame reader.
pub(crate) fn call(stream: &mut (impl Read + Write), frame: &[u8]) -> Vec<u8> {
    stream.write_all(frame).expect("send request");
    agentry_platform::frame_io::read_frame(stream)
        .expect("read reply")
        .expect("the agent closed the connection")
        .to_vec()
}

/// The rows the WSL benchmark times both straight over the pipe (Windows build) and through the
/// bridge (Linux build): fixture key, sign flags, connections.
pub(crate) const WSL_ROWS: &[(&str, u32, usize)] = &[
    ("ed25519", 0, 1),
    ("ed25519", 0, 4),
    ("rsa-2048", agentry_core::proto::SIGN_FLAG_RSA_SHA2_512, 1),
    ("rsa-2048", agentry_core::proto::SIGN_FLAG_RSA_SHA2_512, 4),
];

/// One timed row as the Windows side prints it for the Linux side: `row KEY CONNS OPS P50 P99`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) key: String,
    pub(crate) connections: usize,
    pub(crate) stats: Stats,
}

impl Row {
    #[cfg_attr(unix, allow(dead_code))]
    pub(crate) fn new(key: &str, connections: usize, stats: Stats) -> Self {
        Self {
            key: key.to_owned(),
            connections,
            stats,
        }
    }

    /// The row in a line of `text`, if that line is one.
    #[cfg_attr(windows, allow(dead_code))]
    pub(crate) fn parse(line: &str) -> Option<Self> {
        let mut words = line.strip_prefix("row ")?.split_whitespace();
        let key = words.next()?.to_owned();
        let connections = words.next()?.parse().ok()?;
        let mut number = || words.next()?.parse::<f64>().ok();
        let stats = Stats {
            ops_per_sec: number()?,
            p50_us: number()?,
            p99_us: number()?,
        };
        Some(Self {
            key,
            connections,
            stats,
        })
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.stats;
        write!(
            f,
            "row {} {} {} {} {}",
            self.key, self.connections, s.ops_per_sec, s.p50_us, s.p99_us
        )
    }
}

/// Results of one timed run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stats {
    pub(crate) ops_per_sec: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
}

/// Sends `body` over `connections` connections opened by `connect` for `duration` (after a
/// short warm-up), checking each reply's first byte is `expect`.
pub(crate) fn run<S: Read + Write>(
    connect: impl Fn() -> S + Sync,
    body: &[u8],
    expect: u8,
    connections: usize,
    duration: Duration,
) -> Stats {
    let frame = encode_frame(body);
    let warm_up = Duration::from_millis(200);
    let start = Instant::now() + warm_up;
    let end = start + duration;
    let latencies: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|_| {
                let (frame, connect) = (&frame, &connect);
                scope.spawn(move || {
                    let mut stream = connect();
                    let mut latencies = Vec::with_capacity(1 << 16);
                    loop {
                        let sent = Instant::now();
                        if sent >= end {
                            break;
                        }
                        let reply = call(&mut stream, frame);
                        assert_eq!(reply.first(), Some(&expect), "unexpected reply");
                        if sent >= start {
                            latencies.push(sent.elapsed().as_nanos() as u64);
                        }
                    }
                    latencies
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut all: Vec<u64> = latencies.into_iter().flatten().collect();
    all.sort_unstable();
    let at = |q: f64| all[((all.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    if std::env::var_os("BENCH_DIST").is_some() {
        let qs = [0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999];
        let line: Vec<String> = qs
            .iter()
            .map(|q| format!("p{}={:.0}", q * 100.0, at(*q)))
            .collect();
        eprintln!("  dist n={} {}", all.len(), line.join(" "));
    }
    Stats {
        ops_per_sec: all.len() as f64 / duration.as_secs_f64(),
        p50_us: at(0.50),
        p99_us: at(0.99),
    }
}

/// The body of a sign request for the key in the OpenSSH public key file `public`: 128 bytes of
/// data, with `flags`.
pub(crate) fn sign_body(public: &Path, flags: u32) -> Vec<u8> {
    let public = ssh_key::PublicKey::read_openssh_file(public).expect("read public key");
    Request::Sign(SignRequest {
        key_blob: ssh_encoding::Encode::encode_vec(public.key_data()).unwrap(),
        data: vec![0x5a; 128],
        flags,
    })
    .encode()
    .to_vec()
}

/// `count` framed `SSH_AGENTC_ADD_IDENTITY` requests for Ed25519 keys from fixed seeds.
pub(crate) fn many_ed25519_keys(count: u32) -> Vec<Vec<u8>> {
    fn string(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    (0..count)
        .map(|i| {
            let mut seed = [0x42u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            let public = ed25519_dalek::SigningKey::from_bytes(&seed)
                .verifying_key()
                .to_bytes();
            let mut body = vec![msg::ADD_IDENTITY];
            string(&mut body, b"ssh-ed25519");
            string(&mut body, &public);
            string(&mut body, &[seed.as_slice(), public.as_slice()].concat());
            string(&mut body, format!("bench-{i}").as_bytes());
            encode_frame(&body)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reads_back_what_it_prints() {
        let row = Row::new(
            "rsa-2048",
            4,
            Stats {
                ops_per_sec: 1521.25,
                p50_us: 2472.4,
                p99_us: 5621.8,
            },
        );
        assert_eq!(Row::parse(&row.to_string()), Some(row));
        assert_eq!(Row::parse("agentry-bench: 3 s per run"), None);
        assert_eq!(Row::parse("row ed25519 1 4000 210"), None, "a figure short");
    }
}
