//! Per-connection state: who is connected and which SSH sessions the connection was bound to
//! with `session-bind@openssh.com`. A transport creates one [`Session`] per connection and hands
//! it to every request of that connection.

use crate::proto::SessionBind;
pub use crate::reported::ReportedClient;

/// Most `session-bind@openssh.com` records per connection (OpenSSH's `AGENT_MAX_SESSION_IDS`).
pub const MAX_SESSION_BINDS: usize = 16;

/// What the transport knows of the peer process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Process id, when the OS tells it.
    pub pid: Option<u32>,
    /// Executable path, when it can be read.
    pub exe: Option<String>,
    /// User id (Unix) of the peer.
    pub uid: Option<u32>,
    /// How the client connected (`unix socket`, `named pipe`, `WM_COPYDATA`, `test`).
    pub transport: String,
    /// What unverified sources say about the client, one line each (the `WM_COPYDATA` sender
    /// named by its mapping's thread id, …): shown in prompts, escaped, and never used for any
    /// decision (a client can claim anything there).
    pub hints: Vec<String>,
    /// The client a bridge reported it relays for (`client-identity@agentry`): shown in prompts
    /// as reported, never checked and never used to decide anything.
    pub reported: Option<ReportedClient>,
}

impl core::fmt::Display for ClientInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The path is the client's choice (a file name may hold a newline): shown escaped.
        let exe = self.exe.as_deref().map(crate::text::untrusted);
        match (exe, self.pid) {
            (Some(exe), Some(pid)) => write!(f, "{exe} (pid {pid})")?,
            (None, Some(pid)) => write!(f, "pid {pid}")?,
            (Some(exe), None) => f.write_str(&exe)?,
            (None, None) => f.write_str("unknown process")?,
        }
        if !self.transport.is_empty() {
            write!(f, " via {}", self.transport)?;
        }
        Ok(())
    }
}

/// One verified `session-bind@openssh.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundSession {
    /// The host key blob of the server the session was made to.
    pub host_key: Vec<u8>,
    /// The session identifier (exchange hash).
    pub session_id: Vec<u8>,
    /// True when bound for forwarding rather than authentication.
    pub is_forwarding: bool,
}

impl From<&SessionBind> for BoundSession {
    fn from(b: &SessionBind) -> Self {
        Self {
            host_key: b.host_key.clone(),
            session_id: b.session_id.clone(),
            is_forwarding: b.is_forwarding,
        }
    }
}

/// State of one client connection.
#[derive(Debug, Clone, Default)]
pub struct Session {
    client: ClientInfo,
    binds: Vec<BoundSession>,
    bind_failed: bool,
    requests_seen: bool,
}

impl Session {
    /// A new connection from `client`.
    pub fn new(client: ClientInfo) -> Self {
        Self {
            client,
            binds: Vec::new(),
            bind_failed: false,
            requests_seen: false,
        }
    }

    /// The peer.
    pub fn client(&self) -> &ClientInfo {
        &self.client
    }

    /// Verified binds, in the order they were made (nearest hop first).
    pub fn binds(&self) -> &[BoundSession] {
        &self.binds
    }

    /// True once any bind on this connection failed verification.
    pub fn bind_failed(&self) -> bool {
        self.bind_failed
    }

    pub(crate) fn mark_bind_failed(&mut self) {
        self.bind_failed = true;
    }

    /// True until the first request of the connection has been answered.
    pub(crate) fn is_first_request(&self) -> bool {
        !self.requests_seen
    }

    pub(crate) fn note_request(&mut self) {
        self.requests_seen = true;
    }

    /// Records the client a bridge reported: only as the connection's first request, once.
    pub(crate) fn report_client(&mut self, reported: ReportedClient) -> bool {
        if !self.is_first_request() || self.client.reported.is_some() {
            return false;
        }
        self.client.reported = Some(reported);
        true
    }

    pub(crate) fn push_bind(&mut self, bind: BoundSession) {
        self.binds.push(bind);
    }

    /// True when any bind was for forwarding: the request crossed at least one host (the last
    /// bind may be the authentication to the next host).
    pub fn is_forwarded(&self) -> bool {
        self.binds.iter().any(|b| b.is_forwarding)
    }
}
