//! Who is on the other end of a connection. Every accepted connection is checked with the
//! kernel's peer credentials: only our own user and root may use the agent. The same
//! credentials, plus the executable read from `/proc`, describe the client to the core (for
//! confirmation prompts and logs).

use agentry_core::ClientInfo;
use tokio::net::UnixStream;

/// The transport name reported in [`ClientInfo::transport`].
pub const TRANSPORT_NAME: &str = "unix socket";

/// Why a connection was refused.
#[derive(Debug)]
pub enum PeerRefused {
    /// The kernel would not say who the peer is.
    Unknown(std::io::Error),
    /// The peer runs as another user.
    OtherUser(Box<ClientInfo>),
}

impl core::fmt::Display for PeerRefused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unknown(e) => write!(f, "cannot read peer credentials: {e}"),
            Self::OtherUser(client) => write!(
                f,
                "connection from uid {} ({client}) refused: only uid {} and root may use this agent",
                client.uid.unwrap_or(u32::MAX),
                our_uid()
            ),
        }
    }
}

/// The effective uid of this process.
pub fn our_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Describes the peer of `stream` and checks it may use the agent.
pub fn check_peer(stream: &UnixStream) -> Result<ClientInfo, PeerRefused> {
    let cred = stream.peer_cred().map_err(PeerRefused::Unknown)?;
    let pid = cred.pid().and_then(|p| u32::try_from(p).ok());
    let client = ClientInfo {
        pid,
        uid: Some(cred.uid()),
        exe: pid.and_then(executable_of),
        transport: TRANSPORT_NAME.to_owned(),
        hints: Vec::new(),
        reported: None,
    };
    if cred.uid() == our_uid() || cred.uid() == 0 {
        Ok(client)
    } else {
        Err(PeerRefused::OtherUser(Box::new(client)))
    }
}

/// The executable of process `pid`, where the OS exposes it.
fn executable_of(pid: u32) -> Option<String> {
    cfg_if::cfg_if! {
        if #[cfg(any(target_os = "linux", target_os = "android"))] {
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        } else {
            let _ = pid;
            None
        }
    }
}
