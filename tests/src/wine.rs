//! The Windows `agentry.exe` under Wine, driven from Linux-side tests (the WSL bridge: Linux
//! OpenSSH tools on one side, the Windows agent and relay on the other). Finds the Windows build
//! (`$AGENTRY_TEST_WINDOWS_EXE`, else `target/x86_64-pc-windows-gnu/debug/agentry.exe`) and Wine
//! with the prefix scripts/wine-env makes (`$WINEPREFIX`, else `target/wine-prefix`); when either
//! is missing a test skips with a message, and in CI fails. [`WindowsAgent`] runs `agentry.exe
//! start -D` on a pipe of its own, killed on drop.

use crate::tools::in_ci;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Wine and the Windows agentry.exe.
#[derive(Debug, Clone)]
pub struct Wine {
    wine: PathBuf,
    exe: PathBuf,
    prefix: PathBuf,
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

impl Wine {
    /// Wine and agentry.exe, or `None` (after saying why) when this machine has not built them;
    /// in CI a panic instead.
    pub fn find() -> Option<Self> {
        let exe = std::env::var_os("AGENTRY_TEST_WINDOWS_EXE")
            .map(PathBuf::from)
            .unwrap_or_else(|| target_dir().join("x86_64-pc-windows-gnu/debug/agentry.exe"));
        let prefix = std::env::var_os("WINEPREFIX")
            .map(PathBuf::from)
            .unwrap_or_else(|| target_dir().join("wine-prefix"));
        let wine = ["/usr/lib/wine/wine64", "/usr/bin/wine64", "/usr/bin/wine"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file());
        let missing = match &wine {
            None => Some("wine64 (scripts/wine-env installs it)".to_owned()),
            Some(_) if !exe.is_file() => Some(format!(
                "{} (cargo build --target x86_64-pc-windows-gnu -p agentry)",
                exe.display()
            )),
            Some(_) if !prefix.join(".agentry-ready").is_file() => Some(format!(
                "the Wine prefix {} (scripts/wine-env makes it)",
                prefix.display()
            )),
            Some(_) => None,
        };
        if let Some(missing) = missing {
            assert!(!in_ci(), "this test needs {missing}");
            eprintln!("skipped: this test needs {missing}");
            return None;
        }
        Some(Self {
            wine: wine?,
            exe,
            prefix,
        })
    }

    /// The Wine loader.
    pub fn wine(&self) -> &Path {
        &self.wine
    }

    /// The Windows agentry.exe.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// The environment Wine needs (scripts/wine-env's), for `Command::envs`. `TMPDIR` goes with
    /// it when set: the wineserver's socket lives there, and a Wine started without it would
    /// start a second server on the same prefix, where the agent's pipes do not exist.
    pub fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        let tmpdir = std::env::var_os("TMPDIR").map(|dir| ("TMPDIR", dir));
        let mut env = vec![
            ("WINEPREFIX", self.prefix.clone().into_os_string()),
            ("WINEDEBUG", "-all".into()),
            (
                "WINEDLLOVERRIDES",
                "mscoree,mshtml,winemenubuilder.exe=;bcryptprimitives=n,b".into(),
            ),
        ];
        env.extend(tmpdir);
        env
    }

    /// `wine agentry.exe ARGS…` with Wine's environment, no configuration file and no display.
    /// The Windows agentry finds its directories in the Wine prefix, so `HOME` and the XDG
    /// variables stay as they are: pointed elsewhere, Wine writes its menu entries there.
    pub fn agentry(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.wine);
        command
            .arg(&self.exe)
            .args(args)
            .envs(self.env())
            .env("AGENTRY_CONFIG", "")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        command
    }

    /// The argv of `wine agentry.exe relay ARGS…` (for the bridge's `-- COMMAND` or a script).
    pub fn relay_argv(&self, args: &[&str]) -> Vec<std::ffi::OsString> {
        let mut argv = vec![
            self.wine.clone().into_os_string(),
            self.exe.clone().into_os_string(),
            "relay".into(),
        ];
        argv.extend(args.iter().map(Into::into));
        argv
    }
}

/// A pipe name no other test uses.
pub fn unique_pipe() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        r"\\.\pipe\agentry-wsl-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `agentry.exe start -D -a PIPE --no-window` under Wine, its log in a file; killed on drop.
#[derive(Debug)]
pub struct WindowsAgent {
    child: Child,
    pipe: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl WindowsAgent {
    /// Starts the agent with `extra` arguments and `AGENTRY_LOG=log_filter` (empty: the
    /// default), and waits until it serves its pipe.
    pub fn start(wine: &Wine, extra: &[&str], log_filter: &str) -> Self {
        Self::start_on(wine, &unique_pipe(), extra, log_filter)
    }

    /// [`WindowsAgent::start`] on pipe `pipe`.
    pub fn start_on(wine: &Wine, pipe: &str, extra: &[&str], log_filter: &str) -> Self {
        let pipe = pipe.to_owned();
        let dir = crate::server::private_tempdir();
        let log = dir.path().join("agent.log");
        let mut command = wine.agentry(&["start", "-D", "-a", &pipe, "--no-window"]);
        command
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        if !log_filter.is_empty() {
            command.env("AGENTRY_LOG", log_filter);
        }
        let mut child = command.spawn().expect("start agentry.exe under Wine");
        // It prints its shell lines once the pipe is served.
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("SSH_AUTH_SOCK=") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let agent = Self {
            child,
            pipe,
            log,
            _dir: dir,
        };
        let ready = ready_rx.recv_timeout(Duration::from_secs(120));
        assert!(ready.is_ok(), "agentry.exe did not start: {}", agent.log());
        agent
    }

    /// The agent's pipe name.
    pub fn pipe(&self) -> &str {
        &self.pipe
    }

    /// What the agent logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (60 s at most) until the agent's log contains `needle`.
    pub fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the agent never logged {needle:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for WindowsAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
