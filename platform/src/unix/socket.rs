//! Where the agent's socket lives and how it is made safe: by default
//! `$XDG_RUNTIME_DIR/agentry/agent.sock`, else a fresh private temp directory like ssh-agent's
//! (`/tmp/agentry-XXXXXX/agent.<pid>`). The directory must be ours and mode 0700, the socket is
//! made 0600, a stale socket (nobody answers) is replaced, and a live one is an error. An
//! [`AgentSocket`] removes its socket, and the directory if it created it, when dropped — but
//! never a file or directory that has since taken their place. [`AgentSocket::watch`] tells when
//! the socket has gone from its path ([`super::socket_watch`]). `agentry bridge` listens the same
//! way, by default at [`default_bridge_socket_path`].

use super::peer::our_uid;
use super::socket_watch::SocketWatch;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Why the agent socket could not be set up. Every message names the path.
#[derive(Debug)]
pub enum SocketError {
    /// Another agent answers on the path.
    AlreadyListening(PathBuf),
    /// The directory is not private to us.
    UnsafeDirectory {
        /// The directory.
        dir: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The path exists and is not a socket.
    NotASocket(PathBuf),
    /// An I/O error while doing `what` on `path`.
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl core::fmt::Display for SocketError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::AlreadyListening(p) => {
                write!(f, "an agent is already listening at {}", p.display())
            }
            Self::UnsafeDirectory { dir, problem } => write!(
                f,
                "refusing to put the agent socket in {}: {problem} (it must be a directory owned by uid {} with mode 0700)",
                dir.display(),
                our_uid()
            ),
            Self::NotASocket(p) => write!(f, "{} exists and is not a socket", p.display()),
            Self::Io { what, path, source } => {
                write!(f, "cannot {what} {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for SocketError {}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SocketError {
    let path = path.to_owned();
    move |source| SocketError::Io { what, path, source }
}

/// `$XDG_RUNTIME_DIR/agentry/agent.sock` when `XDG_RUNTIME_DIR` is set to an absolute path.
pub fn default_socket_path() -> Option<PathBuf> {
    let runtime = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    runtime
        .is_absolute()
        .then(|| runtime.join("agentry").join("agent.sock"))
}

/// Where `agentry bridge` listens unless told: `$XDG_RUNTIME_DIR/agentry/bridge.sock`, else
/// `/tmp/agentry-bridge-UID/bridge.sock`. Always the same place, so a second `agentry bridge`
/// finds the first (the directory is checked as any agent directory: ours, mode 0700).
pub fn default_bridge_socket_path() -> PathBuf {
    match default_socket_path() {
        Some(agent) => agent.with_file_name("bridge.sock"),
        None => std::env::temp_dir()
            .join(format!("agentry-bridge-{}", our_uid()))
            .join("bridge.sock"),
    }
}

/// A bound, listening agent socket that cleans up after itself.
#[derive(Debug)]
pub struct AgentSocket {
    listener: Option<UnixListener>,
    path: PathBuf,
    /// The directory we created for the socket, and its device and inode, removed with it.
    created_dir: Option<(PathBuf, (u64, u64))>,
    /// Device and inode of the socket we bound, so we never remove someone else's.
    identity: Option<(u64, u64)>,
}

impl AgentSocket {
    /// A socket bound by someone else (systemd): served, but never removed by us.
    pub fn adopt(listener: UnixListener) -> Self {
        let path = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_owned))
            .unwrap_or_default();
        Self {
            listener: Some(listener),
            path,
            created_dir: None,
            identity: None,
        }
    }

    /// The socket's path (what `SSH_AUTH_SOCK` must be set to).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A watch that resolves once this socket is no longer at its path; it never resolves for
    /// a socket we did not bind ([`AgentSocket::adopt`]).
    pub fn watch(&self) -> SocketWatch {
        SocketWatch::new(self.path.clone(), self.identity)
    }

    /// Takes the listener as a tokio listener (once; needs a running tokio runtime).
    pub fn tokio_listener(&mut self) -> io::Result<tokio::net::UnixListener> {
        let listener = self
            .listener
            .take()
            .ok_or_else(|| io::Error::other("the listener was already taken"))?;
        listener.set_nonblocking(true)?;
        tokio::net::UnixListener::from_std(listener)
    }
}

impl Drop for AgentSocket {
    fn drop(&mut self) {
        if let Some((dev, ino)) = self.identity {
            let ours = std::fs::symlink_metadata(&self.path)
                .is_ok_and(|m| m.dev() == dev && m.ino() == ino);
            if ours {
                let _ = std::fs::remove_file(&self.path);
            }
        }
        if let Some((dir, identity)) = &self.created_dir {
            if identity_of(dir).is_some_and(|found| found == *identity) {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// Binds the agent socket at `requested`, or at the default place when `None`.
pub fn bind_agent_socket(requested: Option<&Path>) -> Result<AgentSocket, SocketError> {
    let (path, created_dir) = match requested.map(Path::to_owned).or_else(default_socket_path) {
        Some(path) => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
                _ => PathBuf::from("."),
            };
            let created = create_private_dir(&dir)?;
            let created = created
                .then(|| identity_of(&dir).map(|id| (dir, id)))
                .flatten();
            (path, created)
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("agentry-")
                .rand_bytes(6)
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir()
                .map_err(io_error("create a directory in", &std::env::temp_dir()))?
                .keep();
            let created = identity_of(&dir).map(|id| (dir.clone(), id));
            (dir.join(format!("agent.{}", std::process::id())), created)
        }
    };
    let mut socket = AgentSocket {
        listener: None,
        path,
        created_dir,
        identity: None,
    };
    let dir = socket.path.parent().unwrap_or(Path::new(".")).to_owned();
    check_private_dir(&dir)?;
    remove_if_stale(&socket.path)?;
    let listener = UnixListener::bind(&socket.path).map_err(io_error("listen on", &socket.path))?;
    let meta =
        std::fs::symlink_metadata(&socket.path).map_err(io_error("inspect", &socket.path))?;
    socket.identity = Some((meta.dev(), meta.ino()));
    std::fs::set_permissions(&socket.path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_error("set mode 0600 on", &socket.path))?;
    socket.listener = Some(listener);
    Ok(socket)
}

/// The device and inode of `path` itself (not of what a symlink points to).
fn identity_of(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
}

/// Creates `dir` with mode 0700 if it is missing; true when it was created.
fn create_private_dir(dir: &Path) -> Result<bool, SocketError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_error("create", dir)(e)),
    }
}

/// Refuses a directory that is not a real directory owned by us with no group/other access.
fn check_private_dir(dir: &Path) -> Result<(), SocketError> {
    let meta = std::fs::symlink_metadata(dir).map_err(io_error("inspect", dir))?;
    let unsafe_dir = |problem: String| SocketError::UnsafeDirectory {
        dir: dir.to_owned(),
        problem,
    };
    if !meta.file_type().is_dir() {
        return Err(unsafe_dir("it is not a directory".to_owned()));
    }
    if meta.uid() != our_uid() {
        return Err(unsafe_dir(format!("it is owned by uid {}", meta.uid())));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(unsafe_dir(format!("its mode is {mode:04o}")));
    }
    Ok(())
}

/// Removes a socket nobody answers on; a live one is [`SocketError::AlreadyListening`].
fn remove_if_stale(path: &Path) -> Result<(), SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("inspect", path)(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotASocket(path.to_owned()));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(SocketError::AlreadyListening(path.to_owned()));
    }
    tracing::info!(target: "agentry::unix", path = %path.display(), "replacing stale socket");
    std::fs::remove_file(path).map_err(io_error("remove stale socket", path))
}
