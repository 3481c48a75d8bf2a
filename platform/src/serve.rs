//! The connection loop every stream transport shares (Unix socket, Windows named pipe), in the
//! mini-redis style: an accept loop, one task per connection, and a graceful shutdown that stops
//! accepting, lets every connection finish the reply it is working on, then returns. Each
//! connection is a pure loop `read frame → Agent::handle_message → write frame`, so replies leave
//! in request order. Frames are validated with the core's framing rules before any body byte is
//! read, and bodies (which can hold private keys) live in zeroized buffers. A transport only
//! supplies an [`Acceptor`]: how to take the next client and who it is. What answers the frames
//! is a [`Service`]: the agent itself, or (`agentry bridge`) a relay to the Windows agent. While
//! it serves, the loop also runs the service's background work ([`Service::run_alongside`]: the
//! agent's key-expiry timer, so lifetimes end on time on every transport; the bridge's relay).
//!
//! Connections are capped ([`ServeOptions::max_connections`]) but idle ones never lock others
//! out: at the cap, the longest-idle connection is closed to make room for a new client
//! ([`slots`]). A connection in the middle of a request is never closed for room, and a request
//! cannot stay in the middle forever: once its first byte arrives, the rest of the frame must
//! come, and the reply be taken, within [`ServeOptions::frame_timeout`].

mod slots;

use crate::frame_io::{read_rest_of_frame, write_frame_async};
use agentry_core::frame::HEADER_LEN;
use agentry_core::{Agent, ClientInfo, Session};
use slots::{SlotGuard, Slots};
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinSet;
use zeroize::Zeroizing;

/// Default cap on concurrent connections; beyond it the longest-idle connection is closed for
/// each new client.
pub const MAX_CONNECTIONS: usize = 1024;

/// Descriptors kept free below the open-file limit when connections are capped: the listener,
/// the runtime, standard streams, the one client accepted while room is made for it, and what
/// a request may open (known_hosts files, an askpass child's pipes, the keyring's D-Bus
/// connection).
pub const DESCRIPTORS_KEPT_FREE: usize = 64;

/// The connection cap for a process allowed `open_file_limit` descriptors: [`MAX_CONNECTIONS`],
/// or fewer so that [`DESCRIPTORS_KEPT_FREE`] stay free; at least 1.
pub fn connection_cap(open_file_limit: u64) -> usize {
    let limit = usize::try_from(open_file_limit).unwrap_or(usize::MAX);
    limit
        .saturating_sub(DESCRIPTORS_KEPT_FREE)
        .clamp(1, MAX_CONNECTIONS)
}

/// Tuning for [`serve_acceptor`].
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Most connections served at once. At the cap, a new client closes the longest-idle
    /// connection; when every connection is busy, it waits (and accepting stops) until one is
    /// idle.
    pub max_connections: usize,
    /// How long a client may take to send the rest of a frame once its first byte arrived, and
    /// to take the reply.
    pub frame_timeout: Duration,
    /// How long shutdown waits for in-flight replies before dropping their connections.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_connections: MAX_CONNECTIONS,
            frame_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// A source of client connections: a listening socket, a named pipe server.
pub trait Acceptor: Send {
    /// One connected client.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Waits for the next client.
    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// Who the client is, or why it is refused (logged, and the connection dropped).
    fn identify(stream: &Self::Stream) -> Result<ClientInfo, String>;
}

/// What answers a served connection's frames.
pub trait Service: Clone + Send + Sync + 'static {
    /// What the service keeps per connection.
    type Connection: Send + 'static;
    /// A new connection from `client`.
    fn open(&self, client: ClientInfo) -> Self::Connection;
    /// Who is connected (for log lines).
    fn client(connection: &Self::Connection) -> &ClientInfo;
    /// The reply to one message body, or `None` to close the connection.
    fn handle<'a>(
        &'a self,
        connection: &'a mut Self::Connection,
        body: &'a [u8],
    ) -> impl Future<Output = Option<Zeroizing<Vec<u8>>>> + Send + 'a;
    /// Work that runs as long as the serve loop does.
    fn run_alongside(&self) -> impl Future<Output = ()> + Send + 'static;
}

/// The agent answers in process: one [`Session`] per connection; its key-expiry timer runs
/// alongside.
impl Service for Agent {
    type Connection = Session;

    fn open(&self, client: ClientInfo) -> Session {
        Session::new(client)
    }

    fn client(session: &Session) -> &ClientInfo {
        session.client()
    }

    async fn handle(&self, session: &mut Session, body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        Some(Zeroizing::new(self.handle_message(session, body).await))
    }

    fn run_alongside(&self) -> impl Future<Output = ()> + Send + 'static {
        let agent = self.clone();
        async move { agent.expire_keys_forever().await }
    }
}

/// Serves `service` to clients from `acceptor` until `shutdown` resolves, then drains. The
/// service's background work ([`Service::run_alongside`]; the agent's key-expiry timer) runs as
/// long as this does.
pub async fn serve_acceptor<A: Acceptor, S: Service>(
    mut acceptor: A,
    service: S,
    shutdown: impl Future,
    options: ServeOptions,
) {
    let _alongside = AbortOnDrop(tokio::spawn(service.run_alongside()));
    let slots = Slots::new(options.max_connections);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = acceptor.accept() => match accepted {
                Ok(stream) => stream,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(target: "agentry::serve", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        // Checked before room is made: a refused client never closes anyone's connection.
        let client = match A::identify(&stream) {
            Ok(client) => client,
            Err(refused) => {
                tracing::warn!(target: "agentry::serve", "{refused}");
                continue;
            }
        };
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.take() => slot,
        };
        let service = service.clone();
        let stop = stop_rx.clone();
        let frame_timeout = options.frame_timeout;
        connections.spawn(async move {
            serve_connection(stream, client, service, stop, frame_timeout, slot).await;
        });
    }
    drop(acceptor);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(options.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(target: "agentry::serve", "shutdown: dropping connections still busy");
        connections.shutdown().await;
    }
}

/// Aborts a spawned task when dropped: the task ends with the loop that started it, however
/// that loop ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves one connection until the client closes it, sends an unacceptable frame or is too
/// slow, it is closed to make room, or shutdown.
async fn serve_connection<T: AsyncRead + AsyncWrite + Unpin, S: Service>(
    mut stream: T,
    client: ClientInfo,
    service: S,
    mut stop: watch::Receiver<bool>,
    frame_timeout: Duration,
    slot: SlotGuard,
) {
    tracing::debug!(target: "agentry::serve", %client, "connection opened");
    let mut session = service.open(client);
    loop {
        // Idle: wait for the first byte of the next frame.
        let mut header = [0u8; HEADER_LEN];
        let first = tokio::select! {
            biased;
            _ = stop.wait_for(|stopping| *stopping) => break,
            _ = slot.asked_to_close() => {
                tracing::debug!(target: "agentry::serve", client = %S::client(&session), "closing this idle connection to make room");
                break;
            }
            read = stream.read(&mut header) => match read {
                Ok(0) | Err(_) => break, // closed by the client
                Ok(n) => n,
            },
        };
        if !slot.begin_request() {
            break; // asked to close just before the frame began
        }
        let body = match tokio::time::timeout(
            frame_timeout,
            read_rest_of_frame(&mut stream, &mut header, first),
        )
        .await
        {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => {
                if e.kind() == io::ErrorKind::InvalidData {
                    tracing::info!(target: "agentry::serve", client = %S::client(&session), "{e}: closing this connection");
                }
                break;
            }
            Err(_) => {
                tracing::info!(target: "agentry::serve", client = %S::client(&session), "message not received in time: closing this connection");
                break;
            }
        };
        let Some(reply) = service.handle(&mut session, &body).await else {
            break;
        };
        drop(body);
        let sent =
            tokio::time::timeout(frame_timeout, write_frame_async(&mut stream, &reply)).await;
        match sent {
            Ok(Ok(())) => slot.end_request(),
            Ok(Err(_)) => break,
            Err(_) => {
                tracing::info!(target: "agentry::serve", client = %S::client(&session), "reply not taken in time: closing this connection");
                break;
            }
        }
    }
    tracing::debug!(target: "agentry::serve", client = %S::client(&session), "connection closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_cap_leaves_descriptors_free_below_the_open_file_limit() {
        assert_eq!(connection_cap(100), 100 - DESCRIPTORS_KEPT_FREE);
        assert_eq!(connection_cap(1024), 1024 - DESCRIPTORS_KEPT_FREE);
        assert_eq!(connection_cap(1_048_576), MAX_CONNECTIONS);
        assert_eq!(connection_cap(u64::MAX), MAX_CONNECTIONS);
        assert_eq!(connection_cap(10), 1);
        assert_eq!(connection_cap(0), 1);
    }
}
