//! The agent's end of a helper process: started as `agentry helper KIND` with piped standard
//! input and output (standard error is the agent's, for the helper's own log lines), it answers
//! one framed request at a time. Invariants: at most one request is on a helper's pipes at a
//! time (a per-helper async lock, never an agent-wide one); every round trip, including the wait
//! for that lock, is bounded by its timeout; a helper that timed out, sent something
//! undecodable, or closed its pipes is killed and marked dead, and every later request to it
//! fails at once. The child is killed when the last handle to it goes.

use crate::frame_io::{read_rest_of_frame, write_frame_async};
use agentry_core::frame::HEADER_LEN;
use agentry_core::proto::{HelperReply, HelperRequest};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStdin, ChildStdout};

/// Which helper to start: the argument after `agentry helper`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HelperKind {
    /// Loads PKCS#11 providers (`agentry helper pkcs11`).
    Pkcs11,
    /// Loads a security-key middleware library (`agentry helper sk`).
    Sk,
}

impl HelperKind {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pkcs11 => "pkcs11",
            Self::Sk => "sk",
        }
    }
}

/// How helpers are started: a program and the arguments before the kind. By default the
/// running executable with `helper` (the agent is `agentry`); tests that run an agent inside
/// another binary point it at the real `agentry`.
#[derive(Debug, Clone)]
pub struct HelperCommand {
    program: PathBuf,
    args: Vec<OsString>,
}

impl HelperCommand {
    /// `program ARGS… KIND`.
    pub fn new(program: impl Into<PathBuf>, args: Vec<OsString>) -> Self {
        Self {
            program: program.into(),
            args,
        }
    }

    /// This executable, `helper KIND`; `None` if the executable's path is unknown.
    pub fn this_executable() -> Option<Self> {
        let program = std::env::current_exe().ok()?;
        Some(Self::new(program, vec!["helper".into()]))
    }

    fn spawn(&self, kind: HelperKind) -> std::io::Result<Child> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .arg(kind.name())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        #[cfg(windows)]
        {
            /// `CREATE_NO_WINDOW`: the helper is a console program the user never sees.
            const CREATE_NO_WINDOW: u32 = 0x0800_0000;
            command.creation_flags(CREATE_NO_WINDOW);
        }
        command.spawn()
    }
}

/// Why a round trip with a helper failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperError {
    /// The helper could not be started.
    Start(String),
    /// The helper is dead (exited, killed, or its pipes broke).
    Dead,
    /// No reply within the timeout: the helper was killed.
    TimedOut,
    /// The reply did not decode: the helper was killed.
    BadReply(String),
}

impl core::fmt::Display for HelperError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Start(why) => write!(f, "cannot start the helper process: {why}"),
            Self::Dead => f.write_str("the helper process is gone"),
            Self::TimedOut => f.write_str("the helper process did not answer in time"),
            Self::BadReply(why) => write!(f, "the helper process sent a bad reply: {why}"),
        }
    }
}

struct Pipes {
    stdin: ChildStdin,
    stdout: ChildStdout,
}

/// A running helper process.
pub struct HelperProcess {
    kind: HelperKind,
    pipes: tokio::sync::Mutex<Option<Pipes>>,
    child: Mutex<Child>,
    dead: AtomicBool,
}

impl core::fmt::Debug for HelperProcess {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HelperProcess")
            .field("kind", &self.kind)
            .field("pid", &self.child().id())
            .field("dead", &self.dead.load(Ordering::Acquire))
            .finish()
    }
}

impl HelperProcess {
    /// Starts a helper of `kind` with `command`.
    pub fn start(command: &HelperCommand, kind: HelperKind) -> Result<Self, HelperError> {
        let mut child = command
            .spawn(kind)
            .map_err(|e| HelperError::Start(e.to_string()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(HelperError::Start("no pipes to the helper".into()));
        };
        tracing::debug!(target: "agentry::helper", kind = kind.name(), pid = child.id(), "helper process started");
        Ok(Self {
            kind,
            pipes: tokio::sync::Mutex::new(Some(Pipes { stdin, stdout })),
            child: Mutex::new(child),
            dead: AtomicBool::new(false),
        })
    }

    /// True while the helper runs and has not failed a round trip.
    pub fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::Acquire) && matches!(self.child().try_wait(), Ok(None))
    }

    /// Sends `request` and waits for its reply, at most `timeout` (the wait for an earlier
    /// request to this helper included).
    pub async fn call(
        &self,
        request: &HelperRequest,
        timeout: Duration,
    ) -> Result<HelperReply, HelperError> {
        if self.dead.load(Ordering::Acquire) {
            return Err(HelperError::Dead);
        }
        let outcome = tokio::time::timeout(timeout, async {
            let mut pipes = self.pipes.lock().await;
            let Some(p) = pipes.as_mut() else {
                return Err(HelperError::Dead);
            };
            let result = round_trip(p, request).await;
            if result.is_err() {
                *pipes = None;
            }
            result
        })
        .await
        .unwrap_or(Err(HelperError::TimedOut));
        if let Err(e) = &outcome {
            self.kill(e);
        }
        outcome
    }

    /// Kills the helper (it is then dead for every request).
    pub fn stop(&self) {
        self.dead.store(true, Ordering::Release);
        let _ = self.child().start_kill();
    }

    fn kill(&self, why: &HelperError) {
        if !self.dead.swap(true, Ordering::AcqRel) {
            let status = self.child().try_wait();
            tracing::warn!(target: "agentry::helper", kind = self.kind.name(), error = %why, exit = ?status.ok().flatten(), "helper process failed; its keys fail until it is added again");
        }
        let _ = self.child().start_kill();
    }

    fn child(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn round_trip(p: &mut Pipes, request: &HelperRequest) -> Result<HelperReply, HelperError> {
    write_frame_async(&mut p.stdin, &request.encode())
        .await
        .map_err(|_| HelperError::Dead)?;
    let mut header = [0u8; HEADER_LEN];
    let got = p
        .stdout
        .read(&mut header)
        .await
        .map_err(|_| HelperError::Dead)?;
    if got == 0 {
        return Err(HelperError::Dead);
    }
    let body = read_rest_of_frame(&mut p.stdout, &mut header, got)
        .await
        .map_err(|e| HelperError::BadReply(e.to_string()))?;
    HelperReply::decode(&body).map_err(|e| HelperError::BadReply(e.to_string()))
}
