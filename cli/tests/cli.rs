//! The `agentry` binary end to end: `start` in the background and in the foreground with a
//! command, the ssh-agent shell lines, `stop` with cleanup, refusal of unsafe directories and
//! live sockets, the client commands against the started agent (exit codes 0/1/2), and
//! `--confirm-all` passed on to the background agent, asking `SSH_ASKPASS` before a signature.
#![cfg(unix)]

mod common;

use common::*;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A background agent started with `agentry start -s -a PATH`, stopped on drop unless the test
/// stopped it (its pid is not signalled twice: it could be another process's by then).
struct Daemon {
    socket: PathBuf,
    pid: u32,
    stopped: std::cell::Cell<bool>,
}

impl Daemon {
    fn start(socket: &Path) -> Self {
        Self::start_with(socket, &[], &[])
    }

    /// `agentry start -s -a SOCKET EXTRA...` with `env` set.
    fn start_with(socket: &Path, extra: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let mut command = agentry();
        command.args(["start", "-s", "-a"]).arg(socket).args(extra);
        for (name, value) in env {
            command.env(name, value);
        }
        let out = run(&mut command);
        assert!(out.status.success(), "start: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let pid: u32 = stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("echo Agent pid ")?
                    .strip_suffix(';')?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no pid line in {stdout:?}"));
        // Guarded before anything else is checked: a wrong line still stops the agent.
        let daemon = Self {
            socket: socket.to_owned(),
            pid,
            stopped: Default::default(),
        };
        assert_eq!(
            stdout,
            format!(
                "SSH_AUTH_SOCK={}; export SSH_AUTH_SOCK;\nSSH_AGENT_PID={pid}; export SSH_AGENT_PID;\necho Agent pid {pid};\n",
                socket.display()
            )
        );
        daemon
    }

    fn client(&self) -> Command {
        let mut command = agentry();
        command
            .env("SSH_AUTH_SOCK", &self.socket)
            .env("SSH_AGENT_PID", self.pid.to_string());
        command
    }

    fn stop(&self) -> Output {
        self.stop_printing("-s")
    }

    /// `agentry stop SYNTAX` (`-s` or `-c`).
    fn stop_printing(&self, syntax: &str) -> Output {
        self.stopped.set(true);
        run(self.client().args(["stop", syntax]))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.stopped.get() {
            let _ = self.stop();
        }
    }
}

fn wait_until_gone(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while path.exists() {
        assert!(Instant::now() < deadline, "{} still exists", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn background_agent_serves_clients_and_stops_cleanly() {
    let dir = private_tempdir();
    let keys = private_tempdir();
    let sub = dir.path().join("agentry");
    let daemon = Daemon::start(&sub.join("agent.sock"));
    let mode = std::fs::metadata(&daemon.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let empty = run(daemon.client().arg("list"));
    assert_eq!(empty.status.code(), Some(1));
    assert_eq!(text(&empty.stdout), "The agent has no identities.\n");

    let key = fixture_key(keys.path(), "ed25519-encrypted");
    let mut add = daemon.client();
    add.arg("add")
        .arg(&key)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = add.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let added = child.wait_with_output().unwrap();
    assert!(added.status.success(), "add: {}", text(&added.stderr));

    let listed = run(daemon.client().args(["list", "-L"]));
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    assert_eq!(text(&listed.stdout).trim(), public.trim());

    let status = run(daemon.client().arg("status"));
    assert!(
        text(&status.stdout).contains("identities: 1"),
        "{}",
        text(&status.stdout)
    );
    let public_only = key.with_extension("pub");
    let refused = run(daemon.client().arg("add").arg(&public_only));
    assert_eq!(refused.status.code(), Some(1));
    let err = text(&refused.stderr);
    assert!(
        err.contains(&format!("{}: is a public key", public_only.display())),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    for (verb, pass, code) in [("lock", "pw", 0), ("unlock", "bad", 1), ("unlock", "pw", 0)] {
        let mut command = daemon.client();
        command
            .arg(verb)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pass}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{verb} {pass}: {}",
            text(&out.stderr)
        );
    }

    let fingerprint = run(daemon.client().arg("list"));
    let fp = text(&fingerprint.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(fp.starts_with("SHA256:"), "{fp}");
    let removed = run(daemon.client().args(["remove", &fp]));
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    assert_eq!(run(daemon.client().arg("list")).status.code(), Some(1));

    let again = run(agentry().args(["start", "-a"]).arg(&daemon.socket));
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        text(&again.stderr),
        format!(
            "agentry: an agent is already listening at {}\n",
            daemon.socket.display()
        )
    );

    let stopped = daemon.stop();
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    assert_eq!(
        text(&stopped.stdout),
        format!(
            "unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;\necho Agent pid {} killed;\n",
            daemon.pid
        )
    );
    wait_until_gone(&daemon.socket);
    wait_until_gone(&sub);
    let unreachable = run(daemon.client().arg("list"));
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(text(&unreachable.stderr).contains(&daemon.socket.display().to_string()));
}

#[test]
fn foreground_agent_runs_a_command_and_exits_with_its_status() {
    let dir = private_tempdir();
    let socket = dir.path().join("agent.sock");
    let out = run(agentry()
        .args(["start", "-a"])
        .arg(&socket)
        .args([
            "--",
            "sh",
            "-c",
            "test \"$SSH_AUTH_SOCK\" = \"$0\" && ssh-add -l; exit $(( $? + 40 ))",
        ])
        .arg(&socket));
    // ssh-add -l on the empty agent exits 1, so the command exits 41.
    assert_eq!(out.status.code(), Some(41), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "The agent has no identities.\n");
    assert!(!socket.exists(), "socket left behind");
}

#[test]
fn unsafe_directory_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(agentry()
        .args(["start", "-D", "-a"])
        .arg(dir.path().join("s")));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("refusing") && err.contains(&dir.path().display().to_string()),
        "{err}"
    );
    assert!(err.contains("0755"), "{err}");
}

#[test]
fn csh_syntax_and_stop_without_pid() {
    let dir = private_tempdir();
    let socket = dir.path().join("agent.sock");
    let out = run(agentry().args(["start", "-c", "-a"]).arg(&socket));
    assert!(out.status.success(), "start -c: {}", describe(&out));
    let stdout = text(&out.stdout);
    let pid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("setenv SSH_AGENT_PID ")?.strip_suffix(';'))
        .unwrap_or_else(|| panic!("no pid line in {stdout:?}"));
    let daemon = Daemon {
        socket: socket.clone(),
        pid: pid.parse().unwrap(),
        stopped: Default::default(),
    };
    assert!(
        stdout.starts_with(&format!(
            "setenv SSH_AUTH_SOCK {};\nsetenv SSH_AGENT_PID ",
            socket.display()
        )),
        "{stdout}"
    );
    let stopped = daemon.stop_printing("-c");
    assert!(stopped.status.success(), "stop -c: {}", describe(&stopped));
    assert!(text(&stopped.stdout).starts_with("unsetenv SSH_AUTH_SOCK;\n"));
    wait_until_gone(&socket);
    let no_pid = run(agentry().arg("stop"));
    assert_eq!(no_pid.status.code(), Some(1));
    assert!(text(&no_pid.stderr).contains("SSH_AGENT_PID"));
}

#[test]
fn no_agent_is_status_2_and_help_and_version_work() {
    let out = run(agentry().arg("list"));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "agentry: cannot reach the agent: SSH_AUTH_SOCK is not set\n"
    );
    let version = run(agentry().arg("--version"));
    assert_eq!(
        text(&version.stdout),
        format!("agentry {}\n", env!("CARGO_PKG_VERSION"))
    );
    // Every command `agentry --help` lists, and their subcommands, answer --help.
    let top = text(&run(agentry().arg("--help")).stdout);
    let commands = listed_commands(&top);
    assert!(commands.len() >= 13, "{top}");
    for command in &commands {
        let help = run(agentry().args([command.as_str(), "--help"]));
        let shown = text(&help.stdout);
        assert!(
            help.status.success() && shown.contains("Usage: agentry"),
            "{command} --help: {}",
            describe(&help)
        );
        for sub in listed_commands(&shown) {
            let help = run(agentry().args([command.as_str(), sub.as_str(), "--help"]));
            assert!(
                help.status.success() && text(&help.stdout).contains("Usage: agentry"),
                "{command} {sub} --help: {}",
                describe(&help)
            );
        }
    }
}

#[test]
fn confirm_all_reaches_the_background_agent_and_asks_askpass() {
    let dir = private_tempdir();
    let key = fixture_key(dir.path(), "ed25519");
    let data = dir.path().join("data");
    std::fs::write(&data, b"to be signed").unwrap();
    for (answer, allowed) in [("no", false), ("yes", true)] {
        // The askpass records each question and answers with its exit status.
        let asked = dir.path().join(format!("asked-{answer}"));
        let askpass = dir.path().join(format!("askpass-{answer}"));
        let status = if allowed { 0 } else { 1 };
        std::fs::write(
            &askpass,
            format!(
                "#!/bin/sh\necho \"$1\" >> '{}'\nexit {status}\n",
                asked.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
        let socket = dir.path().join(format!("{answer}.sock"));
        let daemon = Daemon::start_with(
            &socket,
            &["--confirm-all", "--confirm-timeout", "20"],
            // As in OpenSSH, askpass is used without a display only when forced.
            &[
                ("SSH_ASKPASS", askpass.as_os_str()),
                ("SSH_ASKPASS_REQUIRE", "force".as_ref()),
            ],
        );
        // Added without -c: only --confirm-all makes the agent ask.
        let added = run(daemon.client().arg("add").arg(&key));
        assert!(added.status.success(), "{}", text(&added.stderr));
        let signed = Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", "file", "-f"])
            .arg(key.with_extension("pub"))
            .arg(&data)
            .env("SSH_AUTH_SOCK", &daemon.socket)
            .stdin(Stdio::null())
            .output()
            .expect("run ssh-keygen");
        assert_eq!(
            signed.status.success(),
            allowed,
            "answer {answer}: {}",
            text(&signed.stderr)
        );
        let question = std::fs::read_to_string(&asked).unwrap_or_default();
        assert!(
            question.contains("Allow use of key"),
            "askpass not asked: {question:?}"
        );
        let _ = std::fs::remove_file(data.with_extension("sig"));
    }
}

/// `agentry lock` reads the passphrase from standard input here; `agentry unlock` through
/// SSH_ASKPASS (forced, as no display is set), as ssh-add -X does; a cancelled askpass fails.
#[test]
fn unlock_asks_askpass_like_ssh_add() {
    let dir = private_tempdir();
    let agent = ForegroundAgent::start(&dir.path().join("lock.sock"), |_| {});
    let mut lock = agent
        .agentry()
        .arg("lock")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        writeln!(lock.stdin.take().unwrap(), "lock pass").unwrap();
    }
    assert!(lock.wait_with_output().unwrap().status.success());
    let unlock_with = |body: &str, name: &str| {
        let askpass = script(&dir.path().join(name), body);
        run(agent
            .agentry()
            .arg("unlock")
            .env("SSH_ASKPASS", askpass)
            .env("SSH_ASKPASS_REQUIRE", "force"))
    };
    let cancelled = unlock_with("exit 1", "cancel");
    assert_eq!(cancelled.status.code(), Some(1), "{}", describe(&cancelled));
    let wrong = unlock_with("echo 'wrong pass'", "wrong");
    assert_eq!(wrong.status.code(), Some(1), "{}", describe(&wrong));
    let right = unlock_with("echo 'lock pass'", "right");
    assert!(right.status.success(), "{}", describe(&right));
}

/// The command names under "Commands:" in clap's help text (without `help`).
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}
