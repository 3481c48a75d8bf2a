//! Serving the agent on a Unix socket: the shared connection loop ([`crate::serve`]) with a
//! [`UnixListener`] as its acceptor, and every client checked with the kernel's peer credentials
//! ([`check_peer`]) before its first byte is read.

use super::peer::check_peer;
use crate::serve::{serve_acceptor, Acceptor};
use agentry_core::{Agent, ClientInfo};
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
    serve_acceptor(UnixAcceptor(listener), agent, shutdown, options).await;
}
