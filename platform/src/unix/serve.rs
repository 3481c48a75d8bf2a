//! The Unix socket connection loop, in the mini-redis style: an accept loop bounded by a
//! connection semaphore, one task per connection, and a graceful shutdown that stops accepting,
//! lets every connection finish the reply it is working on, then returns. Each connection is a
//! pure loop `read frame → Agent::handle_message → write frame`, so replies leave in request
//! order. Frames are validated with the core's framing rules before any body byte is read, and
//! bodies (which can hold private keys) live in zeroized buffers.

use super::peer::check_peer;
use agentry_core::frame::{body_len_from_header, encode_frame, HEADER_LEN};
use agentry_core::{Agent, Session};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use zeroize::Zeroizing;

/// Default cap on concurrent connections; beyond it the loop stops accepting until one closes.
pub const MAX_CONNECTIONS: usize = 1024;

/// Tuning for [`serve`].
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Most connections served at once.
    pub max_connections: usize,
    /// How long a client may take to send the body of a frame whose header arrived.
    pub body_timeout: Duration,
    /// How long shutdown waits for in-flight replies before dropping their connections.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_connections: MAX_CONNECTIONS,
            body_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `agent` on `listener` until `shutdown` resolves, with default [`ServeOptions`].
pub async fn serve(listener: UnixListener, agent: Agent, shutdown: impl Future) {
    serve_with(listener, agent, shutdown, ServeOptions::default()).await;
}

/// Serves `agent` on `listener` until `shutdown` resolves, then drains in-flight replies.
pub async fn serve_with(
    listener: UnixListener,
    agent: Agent,
    shutdown: impl Future,
    options: ServeOptions,
) {
    let limit = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = Arc::clone(&limit).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(target: "agentry::unix", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let agent = agent.clone();
        let stop = stop_rx.clone();
        let body_timeout = options.body_timeout;
        connections.spawn(async move {
            let _permit = permit;
            serve_connection(stream, agent, stop, body_timeout).await;
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(options.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(target: "agentry::unix", "shutdown: dropping connections still busy");
        connections.shutdown().await;
    }
}

/// Serves one connection until the client closes it, sends an unacceptable frame, or shutdown.
async fn serve_connection(
    mut stream: UnixStream,
    agent: Agent,
    mut stop: watch::Receiver<bool>,
    body_timeout: Duration,
) {
    let client = match check_peer(&stream) {
        Ok(client) => client,
        Err(refused) => {
            tracing::warn!(target: "agentry::unix", "{refused}");
            return;
        }
    };
    tracing::debug!(target: "agentry::unix", %client, "connection opened");
    let mut session = Session::new(client);
    loop {
        let mut header = [0u8; HEADER_LEN];
        let read = tokio::select! {
            biased;
            _ = stop.wait_for(|stopping| *stopping) => break,
            read = stream.read_exact(&mut header) => read,
        };
        if read.is_err() {
            break; // closed by the client
        }
        let body_len = match body_len_from_header(u32::from_be_bytes(header)) {
            Ok(n) => n,
            Err(e) => {
                tracing::info!(target: "agentry::unix", client = %session.client(), "{e}: closing this connection");
                break;
            }
        };
        let mut body = Zeroizing::new(vec![0u8; body_len]);
        match tokio::time::timeout(body_timeout, stream.read_exact(&mut body)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                tracing::info!(target: "agentry::unix", client = %session.client(), "message body not received in time: closing this connection");
                break;
            }
        }
        let reply = agent.handle_message(&mut session, &body).await;
        drop(body);
        if stream.write_all(&encode_frame(&reply)).await.is_err() {
            break;
        }
    }
    tracing::debug!(target: "agentry::unix", client = %session.client(), "connection closed");
}
