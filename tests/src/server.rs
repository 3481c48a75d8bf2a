//! An agent served in-process on a temporary Unix socket, for tests that drive it with real
//! tools. The server runs on its own thread and runtime, so tests stay plain blocking code; it
//! shuts down (and its socket directory is removed) when the [`TestAgent`] is dropped.

use crate::server_thread::ServerThread;
use agentry_core::prompt::{ConfirmRequest, PromptFuture, Prompter};
use agentry_core::{Agent, AgentOptions};
use agentry_platform::unix::{bind_agent_socket, serve};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A running in-process agent.
#[derive(Debug)]
pub struct TestAgent {
    /// First, so the server stops before the rest is dropped.
    _server: ServerThread,
    agent: Agent,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

/// A private (0700) temporary directory.
pub fn private_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix("agentry-test-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .expect("create temp dir")
}

impl TestAgent {
    /// Serves a default agent.
    pub fn start() -> Self {
        Self::serve(Agent::new(
            AgentOptions::new().signing_threads(agentry_platform::threads::os_threads()),
        ))
    }

    /// Serves `agent` on a fresh socket.
    pub fn serve(agent: Agent) -> Self {
        let dir = private_tempdir();
        let path = dir.path().join("agent.sock");
        let mut socket = bind_agent_socket(Some(&path)).expect("bind test socket");
        let served = agent.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let server = ServerThread::spawn(move |stopped| async move {
            let listener = socket.tokio_listener().expect("tokio listener");
            ready_tx.send(()).expect("signal ready");
            serve(listener, served, stopped).await;
            drop(socket);
        });
        ready_rx.recv().expect("server thread started");
        Self {
            _server: server,
            agent,
            path,
            _dir: dir,
        }
    }

    /// The socket path (for `SSH_AUTH_SOCK`).
    pub fn socket(&self) -> &Path {
        &self.path
    }

    /// The agent being served, for looking inside.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }
}

/// A [`Prompter`] whose answer the test sets, and which records every question.
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    allow: AtomicBool,
    asked: Mutex<Vec<ConfirmRequest>>,
}

impl ScriptedPrompter {
    /// A prompter answering `allow` until told otherwise.
    pub fn answering(allow: bool) -> Arc<Self> {
        let prompter = Arc::new(Self::default());
        prompter.set_answer(allow);
        prompter
    }

    /// Changes the answer.
    pub fn set_answer(&self, allow: bool) {
        self.allow.store(allow, Ordering::SeqCst);
    }

    /// Questions asked so far.
    pub fn asked(&self) -> Vec<ConfirmRequest> {
        self.asked.lock().expect("prompter log").clone()
    }
}

impl Prompter for ScriptedPrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        self.asked.lock().expect("prompter log").push(request);
        let allow = self.allow.load(Ordering::SeqCst);
        Box::pin(async move { allow })
    }
}
