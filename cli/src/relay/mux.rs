//! `agentry relay --mux` (Windows): many agent connections from `agentry bridge` over one
//! stdin/stdout, in the mux framing of docs/protocol.md ([`agentry_core::mux`]). Each logical
//! connection gets its own pipe connection and its own thread, which first sends
//! `client-identity@agentry` with the client the bridge reported, then relays one request at a
//! time, so session-bind state and reply order stay per connection. One thread reads stdin and
//! dispatches; each connection's thread writes its own replies to stdout, one whole frame per
//! write under a lock (no hand-off to a writer thread: that cost a thread wake-up per reply).
//! Invariants: a malformed or oversized frame, a second hello, an open on an id in use or a
//! second request before the reply ends the whole mux with one log line (exit 1); a pipe
//! connection that fails closes only its logical connection. Buffers are bounded: one request
//! per connection, one frame per writer waiting on stdout (a connection whose reply cannot be
//! written waits), and at most [`MAX_CONNECTIONS`] connections.

use crate::{Failure, Outcome};
use agentry_core::mux::{MuxFrame, ReportedClient, MUX_VERSION};
use agentry_core::proto::{Extension, Request};
use agentry_platform::frame_io::{read_frame, read_mux_frame, write_frame};
use agentry_platform::windows::client::connect_pipe;
use std::collections::HashMap;
use std::io::Write;
use std::os::windows::io::AsHandle;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// Most logical connections at once; an open beyond is answered with a close.
pub(crate) const MAX_CONNECTIONS: usize = 1024;

/// Standard output, unbuffered (std's stdout is line-buffered, which splits a frame holding a
/// newline byte into two writes), shared by every thread that sends a frame.
type Output = Arc<Mutex<std::fs::File>>;

/// One logical connection, as the stdin reader sees it.
struct Connection {
    /// The request for its thread (capacity 1: one request at a time).
    requests: SyncSender<Zeroizing<Vec<u8>>>,
    /// True from a request until its reply is queued for stdout.
    busy: Arc<AtomicBool>,
}

/// Relays the mux on stdin/stdout to pipe `name` until stdin ends (exit 0) or the bridge breaks
/// the framing (exit 1, with the reason).
pub(super) fn relay_mux(name: &str) -> Outcome {
    let stdout = std::io::stdout()
        .as_handle()
        .try_clone_to_owned()
        .map_err(|e| Failure::new(format!("standard output: {e}")))?;
    let output: Output = Arc::new(Mutex::new(std::fs::File::from(stdout)));
    send(
        &output,
        &MuxFrame::Hello {
            version: MUX_VERSION,
        },
    );
    let mut input = std::io::stdin().lock();
    let mut connections: HashMap<u32, Connection> = HashMap::new();
    let mut said_hello = false;
    loop {
        let frame = match read_mux_frame(&mut input) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(()),
            Err(e) => return Err(ended(&e.to_string())),
        };
        match frame {
            MuxFrame::Hello { version } => {
                if said_hello || version == 0 {
                    return Err(ended(&format!("unexpected hello (version {version})")));
                }
                said_hello = true;
            }
            _ if !said_hello => return Err(ended("a frame before the hello")),
            MuxFrame::Open { id, client } => {
                if connections.contains_key(&id) {
                    return Err(ended(&format!("connection {id} opened twice")));
                }
                if connections.len() >= MAX_CONNECTIONS {
                    eprintln!("agentry relay: {MAX_CONNECTIONS} connections open: refusing connection {id}");
                    send(&output, &MuxFrame::Close { id });
                    continue;
                }
                connections.insert(id, open(name, id, client, &output));
            }
            MuxFrame::Data { id, message } => {
                let Some(connection) = connections.get(&id) else {
                    // Closed here already (its pipe failed): say so again.
                    send(&output, &MuxFrame::Close { id });
                    continue;
                };
                if connection.busy.swap(true, Ordering::AcqRel) {
                    return Err(ended(&format!(
                        "a second request on connection {id} before its reply"
                    )));
                }
                match connection.requests.try_send(message) {
                    Ok(()) => {}
                    Err(TrySendError::Disconnected(_)) => {
                        connections.remove(&id);
                        send(&output, &MuxFrame::Close { id });
                    }
                    Err(TrySendError::Full(_)) => {
                        return Err(ended(&format!("connection {id} overran its buffer")));
                    }
                }
            }
            MuxFrame::Close { id } => {
                // Dropping its sender ends the connection's thread and closes its pipe.
                connections.remove(&id);
            }
        }
    }
}

/// The failure that ends the mux, with the one line that says why.
fn ended(why: &str) -> Failure {
    Failure::new(format!("mux from the bridge: {why}: ending the mux"))
}

/// Writes `frame` to stdout in one piece.
fn send(output: &Output, frame: &MuxFrame) {
    let frame = frame.encode();
    let mut stdout = output
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Fails only once stdout is gone; stdin then ends too.
    let _ = stdout.write_all(&frame);
}

/// Starts connection `id`'s thread.
fn open(name: &str, id: u32, client: ReportedClient, output: &Output) -> Connection {
    let (requests, incoming) = sync_channel(1);
    let busy = Arc::new(AtomicBool::new(false));
    let name = name.to_owned();
    let output = output.clone();
    let thread_busy = busy.clone();
    std::thread::spawn(move || {
        if let Err(why) = serve_connection(&name, client, &incoming, &thread_busy, |reply| {
            send(&output, &MuxFrame::Data { id, message: reply });
        }) {
            eprintln!("agentry relay: connection {id}: {why}: closing it");
        }
        send(&output, &MuxFrame::Close { id });
    });
    Connection { requests, busy }
}

/// Connects to the pipe, reports the client, then relays each request and hands its reply to
/// `reply` until the bridge closes the connection (`Ok`) or the pipe fails.
fn serve_connection(
    name: &str,
    client: ReportedClient,
    incoming: &Receiver<Zeroizing<Vec<u8>>>,
    busy: &AtomicBool,
    reply: impl Fn(Zeroizing<Vec<u8>>),
) -> Result<(), String> {
    let pipe = connect_pipe(name).map_err(|e| format!("cannot connect to {name}: {e}"))?;
    // Buffered reads: a reply's length and body in one ReadFile (one wineserver round trip
    // under Wine instead of two). The agent sends nothing unasked, so nothing is read ahead.
    let mut replies = std::io::BufReader::new(&pipe);
    let mut exchange = |request: &[u8]| -> Result<Zeroizing<Vec<u8>>, String> {
        write_frame(&mut &pipe, request).map_err(|e| format!("{name}: {e}"))?;
        read_frame(&mut replies)
            .map_err(|e| format!("{name}: {e}"))?
            .ok_or_else(|| format!("{name}: the agent closed the connection"))
    };
    // An agent that does not know the extension answers a failure: nothing is lost.
    exchange(&Request::Extension(Extension::ClientIdentity(client)).encode())?;
    while let Ok(request) = incoming.recv() {
        let answer = exchange(&request)?;
        busy.store(false, Ordering::Release);
        reply(answer);
    }
    Ok(())
}
