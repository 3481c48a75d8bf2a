//! The two agents under test as child processes: agentry (the release binary next to this one,
//! built on demand through cargo) and OpenSSH's `ssh-agent`, both in the foreground (`-D`) on
//! sockets in a private temporary directory, with the fixture keys added by `ssh-add`. Also
//! reads a process's resident set size from `/proc/PID/status`.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running agent, killed when dropped.
#[derive(Debug)]
pub(crate) struct AgentProcess {
    pub(crate) name: &'static str,
    pub(crate) socket: PathBuf,
    child: Child,
}

impl AgentProcess {
    /// Starts `program ARGS... SOCKET` and waits until the socket answers.
    pub(crate) fn start(
        name: &'static str,
        program: &Path,
        args: &[&str],
        socket: PathBuf,
    ) -> Self {
        let child = Command::new(program)
            .args(args)
            .arg(&socket)
            .env("AGENTRY_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "{name} did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            name,
            socket,
            child,
        }
    }

    /// Adds private key files with `ssh-add`.
    pub(crate) fn ssh_add(&self, keys: &[PathBuf]) {
        ssh_add(&self.socket, keys, self.name);
    }

    /// Resident set size in KiB (`VmRSS`).
    pub(crate) fn rss_kib(&self) -> u64 {
        rss_kib_of(self.child.id())
    }
}

/// `ssh-add KEYS` to the agent at `socket` (named `name` in a failure).
pub(crate) fn ssh_add(socket: &Path, keys: &[PathBuf], name: &str) {
    let out = Command::new("ssh-add")
        .args(keys)
        .env("SSH_AUTH_SOCK", socket)
        .env_remove("DISPLAY")
        .env_remove("SSH_ASKPASS")
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-add (openssh-client)");
    assert!(
        out.status.success(),
        "ssh-add to {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Process `pid`'s resident set size in KiB (`VmRSS`).
pub(crate) fn rss_kib_of(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `agentry` binary next to this executable (`AGENTRY_BIN` overrides). Under `cargo run`
/// it is (re)built first with this executable's profile, so it is never stale.
pub(crate) fn agentry_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("AGENTRY_BIN") {
        return path.into();
    }
    let binary = std::env::current_exe()
        .expect("current exe")
        .with_file_name("agentry");
    if let Some(cargo) = std::env::var_os("CARGO") {
        let release = binary.parent().is_some_and(|dir| dir.ends_with("release"));
        let mut build = Command::new(cargo);
        build.args(["build", "--locked", "-p", "agentry"]);
        if release {
            build.arg("--release");
        }
        assert!(
            build.status().expect("run cargo").success(),
            "building agentry failed"
        );
    }
    assert!(
        binary.exists(),
        "no agentry binary at {} (build it, or set AGENTRY_BIN)",
        binary.display()
    );
    binary
}

/// The first line of `ssh -V` (OpenSSH's version, which ssh-agent shares).
pub(crate) fn openssh_version() -> String {
    let out = Command::new("ssh").arg("-V").output().expect("run ssh -V");
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

/// Copies fixture key `name` (and `.pub`) into `dir` with mode 0600; returns the private path.
pub(crate) fn fixture_key(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/keys");
    for suffix in ["", ".pub"] {
        let to = dir.join(format!("{name}{suffix}"));
        std::fs::copy(keys.join(format!("{name}{suffix}")), &to).expect("copy fixture key");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir.join(name)
}
