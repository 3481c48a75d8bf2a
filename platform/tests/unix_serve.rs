//! The Unix connection loop under pressure: at the connection cap the longest-idle connection is
//! closed for a new client, a connection in the middle of a request never is (the new client
//! waits for one to be idle), a partial frame holds its place only until the frame timeout, and
//! shutdown stops accepting but still delivers a reply already in progress. No sleep stands in
//! for synchronisation: requests are held at a confirmation prompt the test opens itself.
#![cfg(unix)]

use agentry_core::frame::encode_frame;
use agentry_core::prompt::{ConfirmRequest, PromptFuture, Prompter};
use agentry_core::{Agent, AgentOptions};
use agentry_platform::unix::serve::{serve_with, ServeOptions};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

fn request(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/requests/{name}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn call(stream: &mut UnixStream, body: &[u8]) -> Vec<u8> {
    stream.write_all(&encode_frame(body)).await.unwrap();
    read_reply(stream).await
}

async fn read_reply(stream: &mut UnixStream) -> Vec<u8> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
    stream.read_exact(&mut body).await.unwrap();
    body
}

fn listener() -> (tempfile::TempDir, std::path::PathBuf, UnixListener) {
    let dir = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap();
    let path = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&path).unwrap();
    (dir, path, listener)
}

/// Allows every use once the test opens the gate; tells the test each time it is asked.
struct Gate {
    asked: tokio::sync::mpsc::UnboundedSender<()>,
    open: Arc<tokio::sync::Semaphore>,
}

impl Prompter for Gate {
    fn confirm(&self, _: ConfirmRequest) -> PromptFuture<bool> {
        let _ = self.asked.send(());
        let open = Arc::clone(&self.open);
        Box::pin(async move { open.acquire().await.is_ok() })
    }
}

/// An agent whose confirmations wait for the test, served with at most `cap` connections.
struct Gated {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    asked: tokio::sync::mpsc::UnboundedReceiver<()>,
    open: Arc<tokio::sync::Semaphore>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Gated {
    fn serve(options: ServeOptions) -> Self {
        let (dir, path, listener) = listener();
        let (asked_tx, asked) = tokio::sync::mpsc::unbounded_channel();
        let open = Arc::new(tokio::sync::Semaphore::new(0));
        let gate = Gate {
            asked: asked_tx,
            open: Arc::clone(&open),
        };
        let agent = Agent::with_parts(
            AgentOptions::new(),
            Some(Arc::new(gate)),
            Arc::new(agentry_core::clock::TokioClock),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_with(listener, agent, stopped, options));
        Self {
            _dir: dir,
            path,
            asked,
            open,
            stop,
            server,
        }
    }

    async fn connect(&self) -> UnixStream {
        UnixStream::connect(&self.path).await.unwrap()
    }

    /// A connection with a sign request waiting on its confirmation prompt.
    async fn busy_connection(&mut self) -> UnixStream {
        let mut busy = self.connect().await;
        assert_eq!(call(&mut busy, &request("ssh-add-c-ed25519")).await, [6]);
        busy.write_all(&encode_frame(&request("ssh-add-T-ed25519")))
            .await
            .unwrap();
        self.asked.recv().await.expect("the prompt is asked");
        busy
    }

    async fn stop(self) {
        self.open.add_permits(100);
        self.stop.send(()).unwrap();
        self.server.await.unwrap();
    }
}

fn capped(max_connections: usize) -> ServeOptions {
    ServeOptions {
        max_connections,
        ..ServeOptions::default()
    }
}

/// A liveness bound (a hung server fails instead of hanging the test), not a timing assertion.
async fn within_20s<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing after 20 s"))
}

/// Reads what is left: `None` at end of file, else the reply that came.
async fn eof_or_reply(stream: &mut UnixStream) -> Option<Vec<u8>> {
    let mut header = [0u8; 4];
    match stream.read(&mut header[..1]).await {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            stream.read_exact(&mut header[1..]).await.unwrap();
            let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
            stream.read_exact(&mut body).await.unwrap();
            Some(body)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_longest_idle_connection_makes_room_and_a_busy_one_stays() {
    let mut agent = Gated::serve(capped(3));
    let mut busy = agent.busy_connection().await;
    let mut used_later = agent.connect().await;
    assert_eq!(call(&mut used_later, &[11]).await[0], 12);
    let mut idle_longest = agent.connect().await;
    assert_eq!(call(&mut idle_longest, &[11]).await[0], 12);
    // Opened first of the two, but used last: the other has been idle longer.
    assert_eq!(call(&mut used_later, &[11]).await[0], 12);

    let mut newcomer = agent.connect().await;
    let listed = within_20s("the client beyond the cap", call(&mut newcomer, &[11])).await;
    assert_eq!(listed[0], 12, "the client beyond the cap is served");
    assert_eq!(
        within_20s(
            "the longest-idle connection",
            eof_or_reply(&mut idle_longest)
        )
        .await,
        None,
        "the longest-idle connection is closed"
    );
    assert_eq!(call(&mut used_later, &[11]).await[0], 12, "only one closed");
    agent.open.add_permits(1);
    let signed = within_20s("the busy connection", read_reply(&mut busy)).await;
    assert_eq!(
        signed[0], 14,
        "the request waiting on its prompt was answered"
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_busy_a_new_client_waits_until_one_is_idle() {
    let mut agent = Gated::serve(capped(1));
    let mut busy = agent.busy_connection().await;
    let mut newcomer = agent.connect().await;
    newcomer.write_all(&encode_frame(&[11])).await.unwrap();
    // Not a timing assertion: a wrongly served client is caught whenever it shows, never missed
    // because the agent was slow.
    let early = tokio::time::timeout(Duration::from_millis(300), read_reply(&mut newcomer)).await;
    assert!(early.is_err(), "a client served beyond the cap");
    agent.open.add_permits(1);
    let signed = within_20s("the busy connection", read_reply(&mut busy)).await;
    assert_eq!(
        signed[0], 14,
        "the request waiting on its prompt was answered"
    );
    // Idle once answered, it is closed for the waiting client, which is then served.
    assert_eq!(within_20s("closing", eof_or_reply(&mut busy)).await, None);
    let listed = within_20s("the waiting client", read_reply(&mut newcomer)).await;
    assert_eq!(listed[0], 12);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_frame_holds_its_slot_only_until_the_frame_timeout() {
    let agent = Gated::serve(ServeOptions {
        frame_timeout: Duration::from_secs(1),
        ..capped(1)
    });
    // Two bytes of a header, then nothing: busy (never closed for room), but not for ever.
    let mut partial = agent.connect().await;
    partial.write_all(&[0, 0]).await.unwrap();
    let mut newcomer = agent.connect().await;
    newcomer.write_all(&encode_frame(&[11])).await.unwrap();
    let listed = within_20s("the waiting client", read_reply(&mut newcomer)).await;
    assert_eq!(listed, [12, 0, 0, 0, 0]);
    assert_eq!(
        within_20s("closing", eof_or_reply(&mut partial)).await,
        None
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_reply_in_progress_and_stops_accepting() {
    let mut agent = Gated::serve(ServeOptions::default());
    // A sign request waits at its confirmation prompt; shut down meanwhile, then answer it.
    let mut client = agent.busy_connection().await;
    let Gated {
        _dir,
        path,
        open,
        stop,
        server,
        ..
    } = agent;
    stop.send(()).unwrap();
    open.add_permits(1);
    let reply = within_20s("the reply in progress", read_reply(&mut client)).await;
    assert_eq!(reply[0], 14, "in-flight sign request not answered");
    let mut rest = Vec::new();
    assert_eq!(
        client.read_to_end(&mut rest).await.unwrap(),
        0,
        "connection kept open"
    );
    within_20s("serve to return", server).await.unwrap();
    assert!(
        UnixStream::connect(&path).await.is_err(),
        "still accepting after shutdown"
    );
}
