//! The benchmark client: blocking request/reply over a Unix socket, timed loops of one request
//! on N concurrent connections (each on its own thread), and the statistics printed (ops/s over
//! the whole run, p50 and p99 of per-request latency).

use agentry_core::frame::{body_len_from_header, encode_frame, HEADER_LEN};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Sends one message body and returns the reply body.
pub(crate) fn call(stream: &mut UnixStream, frame: &[u8]) -> Vec<u8> {
    stream.write_all(frame).expect("send request");
    let mut header = [0u8; HEADER_LEN];
    stream.read_exact(&mut header).expect("read reply header");
    let len = body_len_from_header(u32::from_be_bytes(header)).expect("reply length");
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).expect("read reply body");
    body
}

/// Results of one timed run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) ops_per_sec: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
}

/// Sends `body` over `connections` connections for `duration` (after a short warm-up), checking
/// each reply's first byte is `expect`.
pub(crate) fn run(
    socket: &Path,
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
                let frame = &frame;
                scope.spawn(move || {
                    let mut stream = UnixStream::connect(socket).expect("connect");
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
    Stats {
        ops_per_sec: all.len() as f64 / duration.as_secs_f64(),
        p50_us: at(0.50),
        p99_us: at(0.99),
    }
}
