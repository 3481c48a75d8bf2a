//! Serving the agent (or the bridge) on a Unix socket: the shared connection loop ([`crate::serve`]) with a
//! [`UnixListener`] as its acceptor, and every client checked with the kernel's peer credentials
//! ([`check_peer`]) before its first byte is read. The connection cap stays below the process's
//! open-file limit, so a flood of clients stops the accepting, never the agent.

use super::peer::check_peer;
use super::process::raise_open_file_limit;
use crate::serve::{connection_cap, serve_acceptor, Acceptor, Service, DESCRIPTORS_KEPT_FREE};
use agentry_core::ClientInfo;
use std::future::Future;
use tokio::net::{UnixListener, UnixStream};

pub use crate::serve::{ServeOptions, MAX_CONNECTIONS};

/// A listening Unix socket as an [`Acceptor`].
struct UnixAcceptor(UnixListener);

impl Acceptor for UnixAcceptor {
    type Stream = UnixStream;

    async fn accept(&mut self) -> std::io::Result<UnixStream> {
        self.0.accept().await.map(|(stream, _)| stream)
    }

    fn identify(stream: &UnixStream) -> Result<ClientInfo, String> {
        check_peer(stream).map_err(|refused| refused.to_string())
    }
}

/// Serves `agent` (the agent, or the bridge's relay) on `listener` until `shutdown` resolves,
/// with default [`ServeOptions`] except for the connection cap, which stays below this
/// process's open-file limit (raised first as far as the hard limit allows).
pub async fn serve(listener: UnixListener, agent: impl Service, shutdown: impl Future) {
    let options = ServeOptions {
        max_connections: connection_cap_for_this_process(),
        ..ServeOptions::default()
    };
    serve_with(listener, agent, shutdown, options).await;
}

fn connection_cap_for_this_process() -> usize {
    let wanted = (MAX_CONNECTIONS + DESCRIPTORS_KEPT_FREE) as u64;
    match raise_open_file_limit(wanted) {
        Ok(limit) => {
            let cap = connection_cap(limit);
            if cap < MAX_CONNECTIONS {
                tracing::warn!(target: "agentry::serve", open_file_limit = limit, "serving at most {cap} connections at once");
            }
            cap
        }
        Err(e) => {
            tracing::warn!(target: "agentry::serve", error = %e, "cannot read the open-file limit");
            MAX_CONNECTIONS
        }
    }
}

/// Serves `agent` on `listener` until `shutdown` resolves, then drains in-flight replies.
pub async fn serve_with(
    listener: UnixListener,
    agent: impl Service,
    shutdown: impl Future,
    options: ServeOptions,
) {
    serve_acceptor(UnixAcceptor(listener), agent, shutdown, options).await;
}
