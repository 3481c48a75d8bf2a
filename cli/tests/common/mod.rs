//! Shared helpers for the `agentry` binary's tests: running it with a clean environment,
//! private temp directories, fixture keys, and a foreground agent stopped on drop.

#![allow(dead_code, unreachable_pub)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test, without the caller's agent variables, configuration or home directory.
pub fn agentry() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentry"));
    agentry_tests::tools::without_user_config(&mut command)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SSH_AGENT_PID")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("SSH_ASKPASS")
        .env_remove("SSH_ASKPASS_REQUIRE")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null());
    command
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("run command")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit status, stdout and stderr of `out`, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

pub fn private_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/keys")
}

/// Copies fixture key `name` (and whichever of `.pub`/`-cert.pub` exist) into `dir`, mode
/// 0600 as ssh-add wants private keys.
pub fn fixture_key(dir: &Path, name: &str) -> PathBuf {
    let base = Path::new(name)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for suffix in ["", ".pub", "-cert.pub"] {
        let from = fixtures().join(format!("{name}{suffix}"));
        if !from.exists() && !suffix.is_empty() {
            continue;
        }
        let to = dir.join(format!("{base}{suffix}"));
        std::fs::copy(&from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir.join(base)
}

/// An executable shell script at `path`.
pub fn script(path: &Path, body: &str) -> PathBuf {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path.to_owned()
}

/// Waits until an agent accepts connections at `socket` (the file appears at `bind`, a moment
/// before the agent listens).
pub fn wait_for_agent(socket: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        assert!(
            Instant::now() < deadline,
            "no agent listening at {}",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `agentry start -D -a SOCKET`, with extra environment, killed on drop.
pub struct ForegroundAgent {
    pub socket: PathBuf,
    child: Option<Child>,
}

impl ForegroundAgent {
    pub fn start(socket: &Path, configure: impl FnOnce(&mut Command)) -> Self {
        let mut command = agentry();
        command
            .args(["start", "-D", "-a"])
            .arg(socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        configure(&mut command);
        let child = command.spawn().expect("start agentry");
        // Guarded before waiting: an agent that never listens is still stopped.
        let agent = Self {
            socket: socket.to_owned(),
            child: Some(child),
        };
        wait_for_agent(socket);
        agent
    }

    /// Clients for an agent started some other way (not stopped on drop).
    pub fn attach(socket: &Path) -> Self {
        Self {
            socket: socket.to_owned(),
            child: None,
        }
    }

    /// The agent's process id, if this helper started it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `program` with `SSH_AUTH_SOCK` pointing at this agent.
    pub fn client(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env("SSH_AUTH_SOCK", &self.socket)
            .env_remove("SSH_ASKPASS")
            .env_remove("DISPLAY")
            .stdin(Stdio::null());
        command
    }

    /// The `agentry` binary as a client of this agent.
    pub fn agentry(&self) -> Command {
        let mut command = agentry();
        command.env("SSH_AUTH_SOCK", &self.socket);
        command
    }
}

impl Drop for ForegroundAgent {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A child process killed and reaped on drop, however the test ends.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
