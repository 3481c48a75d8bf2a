//! An agent served in-process on Windows for tests: a named pipe with a unique name and,
//! optionally, a `WM_COPYDATA` window with a unique class and title (so tests can run in
//! parallel; one test uses Pageant's real names). The server runs on its own thread and runtime
//! and stops when the [`WinTestAgent`] is dropped. [`PipeTransport`] and [`CopyDataTransport`]
//! are the conformance suite's ways in.

use crate::server_thread::ServerThread;
use crate::transport::{Connection, StreamConnection, Transport};
use agentry_core::{Agent, AgentOptions};
use agentry_platform::serve::ServeOptions;
use agentry_platform::windows::client::{connect_pipe, CopyDataStream};
use agentry_platform::windows::copydata::CopyDataWindow;
use agentry_platform::windows::{serve_pipe, PipeListener};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running in-process agent on a pipe (and maybe a window).
#[derive(Debug)]
pub struct WinTestAgent {
    /// First, so the server stops before the rest is dropped.
    _server: ServerThread,
    agent: Agent,
    pipe: String,
    window: Option<String>,
}

/// A name no other test in this run uses: `agentry-test-PID-N`.
pub fn unique_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "agentry-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl WinTestAgent {
    /// A default agent on a fresh pipe and a fresh window.
    pub fn start() -> Self {
        let name = unique_name();
        Self::serve(
            Agent::new(
                AgentOptions::new().signing_threads(agentry_platform::threads::os_threads()),
            ),
            &format!(r"\\.\pipe\{name}"),
            Some(&name),
        )
    }

    /// Serves `agent` on pipe `pipe` and, when given, the window `window`; panics on failure.
    pub fn serve(agent: Agent, pipe: &str, window: Option<&str>) -> Self {
        Self::try_serve(agent, pipe, window).unwrap_or_else(|e| panic!("serve {pipe}: {e}"))
    }

    /// Serves `agent` like [`WinTestAgent::serve`], returning why it could not start.
    pub fn try_serve(agent: Agent, pipe: &str, window: Option<&str>) -> Result<Self, String> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let served = agent.clone();
        let (pipe_name, window_name) = (pipe.to_owned(), window.map(str::to_owned));
        let server = ServerThread::spawn(move |stopped| async move {
            let listener = match PipeListener::bind(&pipe_name) {
                Ok(l) => l,
                Err(e) => return ready_tx.send(Err(e.to_string())).expect("report"),
            };
            let window = match window_name.map(|w| CopyDataWindow::start(&w, served.clone())) {
                Some(Err(e)) => return ready_tx.send(Err(e.to_string())).expect("report"),
                other => other.map(Result::unwrap),
            };
            ready_tx.send(Ok(())).expect("signal ready");
            serve_pipe(listener, served, stopped, ServeOptions::default()).await;
            drop(window);
        });
        // On failure the thread has ended: dropping `server` joins it.
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                _server: server,
                agent,
                pipe: pipe.to_owned(),
                window: window.map(str::to_owned),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("server thread died".to_owned()),
        }
    }

    /// The pipe's name.
    pub fn pipe(&self) -> &str {
        &self.pipe
    }

    /// The window's class and title, if it has one.
    pub fn window(&self) -> Option<&str> {
        self.window.as_deref()
    }

    /// The agent being served.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }
}

/// The named pipe transport.
#[derive(Debug)]
pub struct PipeTransport(pub String);

impl Transport for PipeTransport {
    fn name(&self) -> &str {
        "named pipe"
    }

    fn connect(&self) -> io::Result<Box<dyn Connection>> {
        Ok(Box::new(StreamConnection(connect_pipe(&self.0)?)))
    }
}

/// The `WM_COPYDATA` transport, to the window of this class and title.
#[derive(Debug)]
pub struct CopyDataTransport(pub String);

impl Transport for CopyDataTransport {
    fn name(&self) -> &str {
        "WM_COPYDATA"
    }

    fn capabilities(&self) -> crate::transport::Capabilities {
        crate::transport::Capabilities { stream: false }
    }

    fn connect(&self) -> io::Result<Box<dyn Connection>> {
        Ok(Box::new(StreamConnection(CopyDataStream::connect(
            &self.0,
        )?)))
    }
}
