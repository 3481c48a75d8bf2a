//! A private, real Secret Service for keyring tests: each test re-runs itself (its own test
//! binary, filtered to that one test) under `dbus-run-session`, in a fresh `HOME` and XDG
//! directories, where it starts `gnome-keyring-daemon` and unlocks a new login keyring with a
//! password given on standard input. The user's own session bus and keyring are never touched,
//! tests run in parallel each with their own bus, and everything ends with the session.
//!
//! Packages: `dbus-daemon` (dbus-run-session, dbus-send), `gnome-keyring`, `libsecret-tools`
//! (secret-tool, to look at entries from outside agentry).

use crate::tools::{describe, require_tool, run};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Set (to the session's home directory) in the re-executed test.
const INSIDE: &str = "AGENTRY_TEST_SECRET_SERVICE_HOME";
/// The login keyring's password.
const PASSWORD: &str = "agentry-test-keyring";
/// How long one test may take in its session.
const LIMIT: Duration = Duration::from_secs(300);

/// The private session a test body runs in.
#[derive(Debug)]
pub struct SecretService {
    home: PathBuf,
}

/// Runs `body` in a private D-Bus session with a fresh, unlocked gnome-keyring. `test_name` is
/// the calling test's name (its function name in an integration test): outside the session,
/// this re-runs exactly that test under `dbus-run-session` and fails if it did not pass.
pub fn in_private_secret_service(test_name: &str, body: impl FnOnce(&SecretService)) {
    match std::env::var_os(INSIDE) {
        Some(home) => {
            let service = SecretService { home: home.into() };
            service.start_daemon(false);
            body(&service);
        }
        None => run_in_session(test_name),
    }
}

fn run_in_session(test_name: &str) {
    let dbus_run_session = require_tool("dbus-run-session", "dbus-daemon");
    require_tool("gnome-keyring-daemon", "gnome-keyring");
    let dir = crate::server::private_tempdir();
    let home = dir.path().join("home");
    let runtime = dir.path().join("run");
    for d in [&home, &runtime] {
        std::fs::create_dir(d).unwrap();
    }
    let exe = std::env::current_exe().expect("current test binary");
    let mut child = Command::new(dbus_run_session)
        .arg("--")
        .arg(exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(INSIDE, &home)
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("GNOME_KEYRING_CONTROL")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dbus-run-session");
    let started = Instant::now();
    while child.try_wait().expect("wait for the session").is_none() {
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("session output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Filtered to nothing would also exit 0: require this very test to have run and passed.
    assert!(
        out.status.success() && stdout.contains(&format!("test {test_name} ... ok")),
        "{test_name} in a private Secret Service session (limit {LIMIT:?}):\n{}",
        describe(&out)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
}

impl SecretService {
    /// The session's home directory (fresh; the keyring files live under it).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Stops gnome-keyring and starts a new one on the same files (`--replace`), unlocked.
    pub fn restart_daemon(&self) {
        self.start_daemon(true);
    }

    fn start_daemon(&self, replace: bool) {
        let mut command = Command::new(require_tool("gnome-keyring-daemon", "gnome-keyring"));
        if replace {
            command.arg("--replace");
        }
        let mut child = command
            .args(["--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gnome-keyring-daemon");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("daemon stdin");
            stdin.write_all(PASSWORD.as_bytes()).expect("send password");
        }
        let out = child.wait_with_output().expect("gnome-keyring-daemon");
        assert!(
            out.status.success(),
            "gnome-keyring-daemon: {}",
            describe(&out)
        );
        self.wait_for_service();
    }

    /// Waits until a process owns `org.freedesktop.secrets` on the session bus (so no request
    /// starts a second, locked daemon through D-Bus activation).
    fn wait_for_service(&self) {
        let dbus_send = require_tool("dbus-send", "dbus-bin");
        let started = Instant::now();
        loop {
            let out = run(Command::new(&dbus_send).args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ]));
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "gnome-keyring never owned org.freedesktop.secrets: {}",
                describe(&out)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `secret-tool ARGS` with `stdin` as its standard input.
    pub fn secret_tool(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(require_tool("secret-tool", "libsecret-tools"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run secret-tool");
        {
            use std::io::Write;
            let mut input = child.stdin.take().expect("secret-tool stdin");
            input.write_all(stdin).expect("write to secret-tool");
        }
        child.wait_with_output().expect("secret-tool output")
    }

    /// The secret agentry stored under user name `entry`, as `secret-tool lookup` reads it.
    pub fn lookup(&self, entry: &str) -> Option<Vec<u8>> {
        let out = self.secret_tool(&["lookup", "service", "agentry", "username", entry], b"");
        out.status.success().then_some(out.stdout)
    }

    /// Replaces agentry's entry `entry` with `value`, written by `secret-tool store` with the
    /// attributes the keyring crate gives its items.
    pub fn overwrite(&self, entry: &str, value: &[u8]) {
        let out = self.secret_tool(
            &[
                "store",
                "--label=overwritten by a test",
                "service",
                "agentry",
                "username",
                entry,
                "target",
                "default",
                "application",
                "rust-keyring",
            ],
            value,
        );
        assert!(
            out.status.success(),
            "secret-tool store: {}",
            describe(&out)
        );
    }
}
