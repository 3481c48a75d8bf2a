//! The client side of the agent protocol, for agentry's own commands and tests: connect to the
//! agent `SSH_AUTH_SOCK` names, send one [`Request`], read one [`Response`]. Synchronous and
//! small on purpose; it frames with the core's rules, so it refuses replies the agent itself
//! would never send.

use agentry_core::proto::{Request, Response};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Why talking to the agent failed.
#[derive(Debug)]
pub enum ClientError {
    /// `SSH_AUTH_SOCK` is not set.
    NoSocket,
    /// The agent could not be reached.
    Connect(PathBuf, io::Error),
    /// The connection broke or the reply was malformed.
    Protocol(PathBuf, String),
}

impl ClientError {
    /// True when no agent could be reached (ssh-add's exit status 2).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::NoSocket | Self::Connect(..))
    }
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoSocket => f.write_str("cannot reach the agent: SSH_AUTH_SOCK is not set"),
            Self::Connect(p, e) => write!(
                f,
                "cannot reach the agent at {}: {}",
                p.display(),
                crate::small_file::plain_io_error(e)
            ),
            Self::Protocol(p, why) => {
                write!(
                    f,
                    "communication with the agent at {} failed: {why}",
                    p.display()
                )
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// A connection to an agent.
#[derive(Debug)]
pub struct AgentClient<S> {
    stream: S,
    name: PathBuf,
}

#[cfg(unix)]
impl AgentClient<std::os::unix::net::UnixStream> {
    /// Connects to the agent `SSH_AUTH_SOCK` names.
    pub fn from_env() -> Result<Self, ClientError> {
        let path = std::env::var_os("SSH_AUTH_SOCK")
            .filter(|p| !p.is_empty())
            .ok_or(ClientError::NoSocket)?;
        Self::connect(Path::new(&path))
    }

    /// Connects to the agent socket at `path`.
    pub fn connect(path: &Path) -> Result<Self, ClientError> {
        let stream = std::os::unix::net::UnixStream::connect(path)
            .map_err(|e| ClientError::Connect(path.to_owned(), e))?;
        let timeout = Some(std::time::Duration::from_secs(120));
        let _ = stream.set_read_timeout(timeout);
        let _ = stream.set_write_timeout(timeout);
        Ok(Self::new(stream, path.to_owned()))
    }
}

/// Any byte stream to an agent (a pipe, or `WM_COPYDATA` made to look like one).
pub trait Stream: Read + Write + Send {}

impl<T: Read + Write + Send> Stream for T {}

#[cfg(windows)]
impl AgentClient<Box<dyn Stream>> {
    /// Connects like PuTTY's clients: to the pipe `SSH_AUTH_SOCK` names when it is set, else to
    /// Pageant's named pipe, else to Pageant's `WM_COPYDATA` window.
    pub fn from_env() -> Result<Self, ClientError> {
        Self::from_auth_sock(std::env::var_os("SSH_AUTH_SOCK").as_deref())
    }

    /// [`Self::from_env`] with `auth_sock` for the value of `SSH_AUTH_SOCK` (tests change no
    /// process-wide variable to try the lookup without it).
    pub fn from_auth_sock(auth_sock: Option<&std::ffi::OsStr>) -> Result<Self, ClientError> {
        use crate::windows::{client, name};
        if let Some(path) = auth_sock.filter(|p| !p.is_empty()) {
            return Self::connect(Path::new(path));
        }
        let pipe = name::pageant_pipe_name()
            .map_err(|e| ClientError::Connect(PathBuf::from("Pageant's pipe"), e))?;
        if let Ok(client) = Self::connect(Path::new(&pipe)) {
            return Ok(client);
        }
        client::CopyDataStream::connect(name::PAGEANT_WINDOW)
            .map(|s| Self::new(Box::new(s), PathBuf::from("the Pageant window")))
            .map_err(|e| ClientError::Connect(PathBuf::from(pipe), e))
    }

    /// Connects to the named pipe at `path`.
    pub fn connect(path: &Path) -> Result<Self, ClientError> {
        let name = path.to_string_lossy();
        crate::windows::client::connect_pipe(&name)
            .map(|f| Self::new(Box::new(f) as Box<dyn Stream>, path.to_owned()))
            .map_err(|e| ClientError::Connect(path.to_owned(), e))
    }

    /// Talks `WM_COPYDATA` to the window `window` (class and title).
    pub fn copydata(window: &str) -> Result<Self, ClientError> {
        crate::windows::client::CopyDataStream::connect(window)
            .map(|s| Self::new(Box::new(s) as Box<dyn Stream>, PathBuf::from(window)))
            .map_err(|e| ClientError::Connect(PathBuf::from(window), e))
    }
}

impl<S: Read + Write> AgentClient<S> {
    /// Wraps an already connected stream; `name` is used in error messages.
    pub fn new(stream: S, name: PathBuf) -> Self {
        Self { stream, name }
    }

    /// The socket (or pipe) this client talks to.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// Sends `request` and decodes the reply.
    pub fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        let body = self.call(&request.encode())?;
        Response::decode(&body).map_err(|e| self.protocol(format!("malformed reply: {e}")))
    }

    /// Sends one raw message body and returns the raw reply body.
    pub fn call(&mut self, body: &[u8]) -> Result<Vec<u8>, ClientError> {
        crate::frame_io::write_frame(&mut self.stream, body)
            .map_err(|e| self.protocol(e.to_string()))?;
        match crate::frame_io::read_frame(&mut self.stream) {
            Ok(Some(reply)) => Ok(reply.to_vec()),
            Ok(None) => Err(self.protocol("the agent closed the connection".to_owned())),
            Err(e) => Err(self.protocol(e.to_string())),
        }
    }

    fn protocol(&self, why: String) -> ClientError {
        ClientError::Protocol(self.name.clone(), why)
    }
}
