//! The Unix connection loop under pressure: the connection cap holds further clients until a
//! slot frees, and shutdown stops accepting but still delivers a reply already in progress.
//! Nothing here waits on the wall clock: the cap test runs on tokio's paused clock (a held
//! client would be served while the runtime idles before the clock moves), the shutdown test
//! holds its request at a prompt it opens itself.
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

#[tokio::test(start_paused = true)]
async fn connection_cap_holds_extra_clients_until_a_slot_frees() {
    let (_dir, path, listener) = listener();
    let options = ServeOptions {
        max_connections: 1,
        ..ServeOptions::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(
        listener,
        Agent::new(AgentOptions::new()),
        stopped,
        options,
    ));
    let mut first = UnixStream::connect(&path).await.unwrap();
    assert_eq!(call(&mut first, &[11]).await, [12, 0, 0, 0, 0]);
    let mut second = UnixStream::connect(&path).await.unwrap();
    second.write_all(&encode_frame(&[11])).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), read_reply(&mut second)).await;
    assert!(early.is_err(), "second client served beyond the cap");
    drop(first);
    let reply = tokio::time::timeout(Duration::from_secs(5), read_reply(&mut second))
        .await
        .expect("second client served once the first left");
    assert_eq!(reply, [12, 0, 0, 0, 0]);
    stop.send(()).unwrap();
    server.await.unwrap();
}

/// Allows every use once the test opens the gate, saying first that it was asked.
struct GatedYes {
    asked: tokio::sync::mpsc::UnboundedSender<()>,
    gate: Arc<tokio::sync::Notify>,
}

impl Prompter for GatedYes {
    fn confirm(&self, _: ConfirmRequest) -> PromptFuture<bool> {
        let _ = self.asked.send(());
        let gate = self.gate.clone();
        Box::pin(async move {
            gate.notified().await;
            true
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_reply_in_progress_and_stops_accepting() {
    let (_dir, path, listener) = listener();
    let (asked, mut was_asked) = tokio::sync::mpsc::unbounded_channel();
    let gate = Arc::new(tokio::sync::Notify::new());
    let prompter = GatedYes {
        asked,
        gate: gate.clone(),
    };
    let agent = Agent::with_parts(
        AgentOptions::new(),
        Some(Arc::new(prompter)),
        Arc::new(agentry_core::clock::TokioClock),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(
        listener,
        agent,
        stopped,
        ServeOptions::default(),
    ));
    let mut client = UnixStream::connect(&path).await.unwrap();
    assert_eq!(call(&mut client, &request("ssh-add-c-ed25519")).await, [6]);
    // The sign request waits at its confirmation; shut down meanwhile, and let it through once
    // the agent no longer accepts connections.
    client
        .write_all(&encode_frame(&request("ssh-add-T-ed25519")))
        .await
        .unwrap();
    was_asked.recv().await.expect("the sign request asks");
    stop.send(()).unwrap();
    while UnixStream::connect(&path).await.is_ok() {
        tokio::task::yield_now().await;
    }
    gate.notify_one();
    let reply = read_reply(&mut client).await;
    assert_eq!(reply[0], 14, "in-flight sign request not answered");
    let mut rest = Vec::new();
    assert_eq!(
        client.read_to_end(&mut rest).await.unwrap(),
        0,
        "connection kept open"
    );
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returned")
        .unwrap();
    assert!(
        UnixStream::connect(&path).await.is_err(),
        "still accepting after shutdown"
    );
}
