//! `agentry bridge`'s service: each Unix socket connection served by the shared loop
//! ([`crate::serve`]) becomes one logical connection of the mux (docs/protocol.md) to ONE
//! long-lived relay process (`agentry.exe relay --mux`), which gives it its own pipe connection
//! to the Windows agent. The relay runs as long as the serve loop ([`Service::run_alongside`]),
//! and is restarted with backoff whenever it exits or breaks the framing.
//!
//! Invariants: nothing waits forever on a dead relay — when it goes, every request in flight is
//! answered `SSH_AGENT_FAILURE` at once, its connections are closed after that (their
//! session-bind state died with their pipe connections, so they are never silently reopened),
//! and new connections wait at most [`LINK_WAIT`] for the restart. Buffers are bounded: a
//! connection has at most one request in flight (the serve loop reads the next only after the
//! reply), so the queue to the relay holds at most one frame per connection plus its close.

use crate::serve::Service;
use agentry_core::mux::{MuxFrame, ReportedClient, MUX_VERSION};
use agentry_core::proto::Response;
use agentry_core::ClientInfo;
use std::collections::HashMap;
use std::ffi::OsString;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot, watch};
use zeroize::Zeroizing;

/// How long a new connection waits for a relay that is (re)starting before its request fails.
pub const LINK_WAIT: Duration = Duration::from_secs(30);

/// How long a starting relay may take to say hello (Wine's first start is slow).
const HELLO_WAIT: Duration = Duration::from_secs(60);

/// Restart backoff: first delay, longest delay, and how long a relay must have lived for the
/// next restart to start from the first delay again.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);

/// The relay to run and who the bridge says its clients are.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// The relay command and its arguments (`agentry.exe relay --mux`).
    pub command: Vec<OsString>,
    /// `$WSL_DISTRO_NAME`, reported with every connection (empty outside WSL).
    pub distribution: String,
}

/// The bridge: a [`Service`] whose connections are relayed to the Windows agent.
#[derive(Clone)]
pub struct Bridge {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("options", &self.shared.options)
            .field("running", &self.shared.link.borrow().is_some())
            .finish()
    }
}

struct Shared {
    options: BridgeOptions,
    next_id: AtomicU32,
    /// The live link to the relay, `None` while it is (re)starting.
    link: watch::Sender<Option<Arc<Link>>>,
}

/// One running relay: the queue to its stdin and the connections open on it.
struct Link {
    frames: mpsc::UnboundedSender<Zeroizing<Vec<u8>>>,
    /// Open connections, each with the reply it waits for (if any). A connection missing here
    /// was closed by the relay, or the relay is gone.
    open: Mutex<HashMap<u32, Option<Reply>>>,
}

impl Link {
    fn send(&self, frame: &MuxFrame) -> bool {
        self.frames.send(frame.encode()).is_ok()
    }

    fn open_connections(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Option<Reply>>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

type Reply = oneshot::Sender<Zeroizing<Vec<u8>>>;

/// The relay's stdout, buffered.
type RelayOutput = tokio::io::BufReader<ChildStdout>;

/// One client connection of the bridge.
pub struct BridgeConnection {
    client: ClientInfo,
    /// The link and connection id, once the first request opened it.
    opened: Option<(Arc<Link>, u32)>,
}

impl std::fmt::Debug for BridgeConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeConnection")
            .field("client", &self.client)
            .field("id", &self.opened.as_ref().map(|(_, id)| id))
            .finish()
    }
}

impl Drop for BridgeConnection {
    fn drop(&mut self) {
        if let Some((link, id)) = self.opened.take() {
            link.open_connections().remove(&id);
            link.send(&MuxFrame::Close { id });
        }
    }
}

impl Bridge {
    /// A bridge that will run `options.command` once served.
    pub fn new(options: BridgeOptions) -> Self {
        Self {
            shared: Arc::new(Shared {
                options,
                next_id: AtomicU32::new(1),
                link: watch::Sender::new(None),
            }),
        }
    }

    /// Waits up to [`LINK_WAIT`] for a running relay.
    async fn live_link(&self) -> Option<Arc<Link>> {
        let mut link = self.shared.link.subscribe();
        let waited = tokio::time::timeout(LINK_WAIT, link.wait_for(Option::is_some)).await;
        let live = waited.ok()?.ok()?.clone();
        #[allow(clippy::let_and_return)] // the borrow of `link` must end before `link` does
        live
    }

    fn next_id(&self) -> u32 {
        // Never 0, never reused within one relay's life (ids wrap after 4 billion connections).
        loop {
            let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }
}

fn failure() -> Option<Zeroizing<Vec<u8>>> {
    Some(Zeroizing::new(Response::Failure.encode().to_vec()))
}

impl Service for Bridge {
    type Connection = BridgeConnection;

    fn open(&self, client: ClientInfo) -> BridgeConnection {
        BridgeConnection {
            client,
            opened: None,
        }
    }

    fn client(connection: &BridgeConnection) -> &ClientInfo {
        &connection.client
    }

    async fn handle(
        &self,
        connection: &mut BridgeConnection,
        body: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        if connection.opened.is_none() {
            let Some(link) = self.live_link().await else {
                tracing::warn!(target: "agentry::bridge", "no relay running: answering failure");
                return failure();
            };
            let id = self.next_id();
            link.open_connections().insert(id, None);
            let client = reported(&connection.client, &self.shared.options.distribution);
            if !link.send(&MuxFrame::Open { id, client }) {
                // The relay went just now: this connection is not open anywhere yet.
                link.open_connections().remove(&id);
                return failure();
            }
            connection.opened = Some((link, id));
        }
        let (link, id) = connection.opened.as_ref()?;
        let (reply, answer) = oneshot::channel();
        match link.open_connections().get_mut(id) {
            Some(waiting) => *waiting = Some(reply),
            // Closed by the relay, or the relay is gone: this connection's state is lost.
            None => return None,
        }
        let message = Zeroizing::new(body.to_vec());
        if !link.send(&MuxFrame::Data { id: *id, message }) {
            link.open_connections().remove(id);
            return failure();
        }
        match answer.await {
            Ok(reply) => Some(reply),
            // The relay closed the connection or died: failure now, closed on the next request.
            Err(_) => failure(),
        }
    }

    fn run_alongside(&self) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        async move { keep_relay_running(&shared).await }
    }
}

/// What the bridge reports for `client`: its pid, its program's name, the distribution.
fn reported(client: &ClientInfo, distribution: &str) -> ReportedClient {
    let pid = client.pid.unwrap_or(0);
    let program = client
        .exe
        .as_deref()
        .and_then(|exe| Path::new(exe).file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .or_else(|| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            Some(comm.trim_end().to_owned())
        })
        .unwrap_or_default();
    ReportedClient {
        pid,
        program,
        distribution: distribution.to_owned(),
    }
}

/// Runs the relay, restarting it with backoff, forever (aborted with the serve loop; the relay
/// is killed when its [`Child`] is dropped).
async fn keep_relay_running(shared: &Shared) {
    let mut delay = BACKOFF_FIRST;
    loop {
        let started = Instant::now();
        let why = run_relay_once(shared).await;
        shared.link.send_replace(None);
        if started.elapsed() >= BACKOFF_RESET_AFTER {
            delay = BACKOFF_FIRST;
        }
        tracing::warn!(target: "agentry::bridge", "relay: {why}; restarting in {} ms", delay.as_millis());
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(BACKOFF_MAX);
    }
}

/// Starts the relay, greets it, and relays until it ends; returns why it ended. Every request
/// in flight is failed when the link is dropped here (its reply senders go with it).
async fn run_relay_once(shared: &Shared) -> String {
    let command = &shared.options.command;
    let Some((program, args)) = command.split_first() else {
        return "no relay command".to_owned();
    };
    let spawned = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return format!("cannot run {}: {e}", program.to_string_lossy()),
    };
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return "no pipes to the relay".to_owned();
    };
    // Buffered: a frame's header and body (and often the next frames) in one read.
    let mut stdout = tokio::io::BufReader::with_capacity(64 * 1024, stdout);
    if let Err(why) = greet(&mut stdin, &mut stdout).await {
        stop(&mut child).await;
        return why;
    }
    let (frames, queued) = mpsc::unbounded_channel();
    let link = Arc::new(Link {
        frames,
        open: Mutex::new(HashMap::new()),
    });
    shared.link.send_replace(Some(link.clone()));
    tracing::info!(target: "agentry::bridge", pid = child.id(), "relay running");
    let why = tokio::select! {
        why = write_frames(stdin, queued) => why,
        why = dispatch_replies(&mut stdout, &link) => why,
        status = child.wait() => match status {
            Ok(status) => format!("the relay exited ({status})"),
            Err(e) => format!("cannot wait for the relay: {e}"),
        },
    };
    shared.link.send_replace(None);
    // Replies nobody will send: every waiting request is answered failure now.
    link.open_connections().clear();
    stop(&mut child).await;
    why
}

async fn stop(child: &mut Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// Sends our hello and waits for the relay's.
async fn greet(stdin: &mut ChildStdin, stdout: &mut RelayOutput) -> Result<(), String> {
    let hello = MuxFrame::Hello {
        version: MUX_VERSION,
    };
    stdin
        .write_all(&hello.encode())
        .await
        .map_err(|e| format!("cannot write to the relay: {e}"))?;
    let first = tokio::time::timeout(
        HELLO_WAIT,
        crate::frame_io::read_mux_frame_async(&mut *stdout),
    )
    .await;
    match first {
        Err(_) => Err("the relay did not say hello in time".to_owned()),
        Ok(Ok(Some(MuxFrame::Hello { version }))) if version >= 1 => Ok(()),
        Ok(Ok(Some(other))) => Err(format!("the relay began with {other:?}, not a hello")),
        Ok(Ok(None)) => Err("the relay exited before its hello".to_owned()),
        Ok(Err(e)) => Err(format!("mux from the relay: {e}: ending the mux")),
    }
}

/// Writes queued frames to the relay; returns why it stopped.
async fn write_frames(
    mut stdin: ChildStdin,
    mut queued: mpsc::UnboundedReceiver<Zeroizing<Vec<u8>>>,
) -> String {
    while let Some(frame) = queued.recv().await {
        if let Err(e) = stdin.write_all(&frame).await {
            return format!("cannot write to the relay: {e}");
        }
    }
    "the bridge stopped".to_owned()
}

/// Reads the relay's frames and hands each reply to the request waiting for it; returns why it
/// stopped (the relay's output ended, or broke the framing).
async fn dispatch_replies(stdout: &mut RelayOutput, link: &Link) -> String {
    loop {
        let frame = match crate::frame_io::read_mux_frame_async(stdout).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return "the relay closed its output".to_owned(),
            Err(e) => return format!("mux from the relay: {e}: ending the mux"),
        };
        match frame {
            MuxFrame::Data { id, message } => {
                let waiting = link.open_connections().get_mut(&id).and_then(Option::take);
                match waiting {
                    Some(reply) => {
                        let _ = reply.send(message);
                    }
                    None => {
                        tracing::debug!(target: "agentry::bridge", id, "reply nobody waits for")
                    }
                }
            }
            MuxFrame::Close { id } => {
                // The waiting request (if any) is answered failure when its sender drops.
                link.open_connections().remove(&id);
            }
            other => return format!("mux from the relay: unexpected {other:?}: ending the mux"),
        }
    }
}
