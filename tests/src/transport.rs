//! What the conformance suite needs from a transport: open a connection, send bytes, receive one
//! reply body. Every transport (the Unix socket, and under Wine the named pipe and WM_COPYDATA)
//! implements [`Transport`], and the suite in `tests/conformance.rs` runs unchanged over each.

use agentry_core::frame::encode_frame;
use std::io::{self, Read, Write};

/// One client connection to the agent.
pub trait Connection {
    /// Sends raw bytes (a whole frame, or deliberately broken ones).
    fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Receives one reply body; `None` when the agent closed the connection.
    fn recv(&mut self) -> io::Result<Option<Vec<u8>>>;

    /// Sends one message body and returns the reply body; panics if the agent hangs up.
    fn call(&mut self, body: &[u8]) -> Vec<u8> {
        self.send_raw(&encode_frame(body)).expect("send request");
        self.recv()
            .expect("receive reply")
            .expect("agent closed the connection instead of replying")
    }
}

/// What a transport carries, so the suite runs each case only where it reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A byte stream the agent frames itself: several frames may be sent at once, and a bad
    /// length reaches the agent (which closes the connection). `WM_COPYDATA` carries one whole
    /// message per call, so there the client would refuse a bad length before the agent sees it.
    pub stream: bool,
}

/// A way to reach the agent under test.
pub trait Transport {
    /// Short name for messages (`unix socket`).
    fn name(&self) -> &str;
    /// Opens a new connection.
    fn connect(&self) -> io::Result<Box<dyn Connection>>;
    /// What this transport carries (a byte stream, unless it says otherwise).
    fn capabilities(&self) -> Capabilities {
        Capabilities { stream: true }
    }
}

/// A [`Connection`] over any byte stream carrying `uint32 length || body` frames.
#[derive(Debug)]
pub struct StreamConnection<S>(pub S);

impl<S: Read + Write> Connection for StreamConnection<S> {
    fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)?;
        self.0.flush()
    }

    /// The agent's frame reader; a connection the agent reset counts as closed.
    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        match agentry_platform::frame_io::read_frame(&mut self.0) {
            Ok(body) => Ok(body.map(|b| b.to_vec())),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The Unix socket transport.
#[cfg(unix)]
#[derive(Debug)]
pub struct UnixSocketTransport(pub std::path::PathBuf);

#[cfg(unix)]
impl Transport for UnixSocketTransport {
    fn name(&self) -> &str {
        "unix socket"
    }

    fn connect(&self) -> io::Result<Box<dyn Connection>> {
        let stream = std::os::unix::net::UnixStream::connect(&self.0)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        Ok(Box::new(StreamConnection(stream)))
    }
}
