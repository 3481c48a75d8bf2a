//! The signals that stop a running agent: SIGTERM (`agentry stop`, systemd), SIGINT (Ctrl-C in
//! the foreground) and SIGHUP (the terminal went away). They are registered up front, so a
//! signal that arrives before anyone awaits the future is not lost.

use std::future::Future;
use tokio::signal::unix::{signal, SignalKind};

/// Registers the shutdown signals; the returned future resolves with the name of the first one
/// received. Must be called inside a tokio runtime.
pub fn shutdown_signals() -> std::io::Result<impl Future<Output = &'static str>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = hup.recv() => "SIGHUP",
        }
    })
}
