//! Noticing that the agent's socket is gone, as gpg-agent does: every
//! [`SOCKET_CHECK_INTERVAL`] the socket's path is looked up again, and once it no longer leads to
//! the socket this agent bound (removed, its directory removed, or replaced by another file), the
//! watch resolves with the reason, so the agent can stop instead of running on unreachable.
//!
//! Invariant: only a socket the agent bound itself is watched. A socket passed in by systemd is
//! systemd's: its path may be removed and re-created by systemd, and the agent runs as long as
//! systemd keeps it, so that watch never resolves.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

/// How often the socket's path is checked. An agent whose socket went away stops within two
/// intervals.
pub const SOCKET_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// A watch on the socket at `path` with device and inode `identity` (`None`: not ours to watch).
#[derive(Debug, Clone)]
pub struct SocketWatch {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl SocketWatch {
    pub(super) fn new(path: PathBuf, identity: Option<(u64, u64)>) -> Self {
        Self { path, identity }
    }

    /// Resolves, with the reason, once the path no longer leads to the socket this agent bound;
    /// never for a socket the agent did not bind.
    pub async fn gone(self) -> String {
        let Some(identity) = self.identity else {
            return std::future::pending().await;
        };
        let mut ticks = tokio::time::interval(SOCKET_CHECK_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Some(why) = self.why_gone(identity) {
                return why;
            }
        }
    }

    fn why_gone(&self, (dev, ino): (u64, u64)) -> Option<String> {
        let path = self.path.display();
        match std::fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.dev() == dev && meta.ino() == ino => None,
            Ok(_) => Some(format!("{path} was replaced by another file")),
            Err(e) => Some(format!("{path} is gone ({e})")),
        }
    }
}
