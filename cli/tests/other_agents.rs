//! The client commands against the agents users already run: OpenSSH's `ssh-agent` and PuTTY's
//! Unix `pageant`, each started by the test on a private socket. What agentry adds, lists,
//! removes and locks must be what the agent's own tools then see, and agentry's list output
//! must be byte for byte `ssh-add`'s.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Another agent's process, killed on drop. If its socket is a symlink (pageant's
/// `--symlink`), the socket it points to (in pageant's own directory) is removed too.
struct OtherAgent(Child, PathBuf);

impl Drop for OtherAgent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if let Ok(target) = std::fs::read_link(&self.1) {
            let _ = std::fs::remove_file(target);
        }
    }
}

fn spawn_agent(command: &mut Command, socket: &Path) -> OtherAgent {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the other agent");
    let agent = OtherAgent(child, socket.to_owned());
    wait_for_agent(socket);
    agent
}

/// `agentry ARGS` against the agent at `socket`, `input` on its stdin.
fn agentry_at(socket: &Path, args: &[&str], input: &str) -> Output {
    let mut child = agentry()
        .env("SSH_AUTH_SOCK", socket)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run agentry");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", describe(&out));
    text(&out.stdout)
}

fn tool_at(socket: &Path, program: &str, args: &[&str]) -> Output {
    run(Command::new(program)
        .env("SSH_AUTH_SOCK", socket)
        .env_remove("SSH_ASKPASS")
        .env_remove("DISPLAY")
        .args(args)
        .stdin(Stdio::null()))
}

#[test]
fn client_commands_drive_openssh_ssh_agent() {
    let dir = private_tempdir();
    let socket = dir.path().join("ssh-agent.sock");
    let _agent = spawn_agent(
        Command::new("ssh-agent").arg("-D").arg("-a").arg(&socket),
        &socket,
    );
    let ssh_add = |args: &[&str]| tool_at(&socket, "ssh-add", args);
    let ed25519 = fixture_key(dir.path(), "ed25519");
    let rsa = fixture_key(dir.path(), "rsa-3072");
    let paths = [ed25519.to_str().unwrap(), rsa.to_str().unwrap()];

    ok(agentry_at(&socket, &[&["add"], &paths[..]].concat(), ""));
    // The key, its certificate (added with it, as ssh-add does) and the RSA key.
    for (ours, theirs) in [
        (vec!["list"], vec!["-l"]),
        (vec!["list", "-E", "md5"], vec!["-l", "-E", "md5"]),
        (vec!["list", "-L"], vec!["-L"]),
    ] {
        let listed = ok(agentry_at(&socket, &ours, ""));
        assert_eq!(listed.lines().count(), 3, "{listed}");
        assert_eq!(
            listed,
            ok(ssh_add(&theirs)),
            "agentry {ours:?} vs ssh-add {theirs:?}"
        );
    }

    ok(agentry_at(&socket, &["remove", paths[1]], ""));
    let left = ok(ssh_add(&["-l"]));
    assert!(
        !left.contains("(RSA)") && left.contains("(ED25519)"),
        "{left}"
    );

    ok(agentry_at(&socket, &["lock"], "sesame\n"));
    let locked = ssh_add(&["-l"]);
    assert_eq!(locked.status.code(), Some(1), "{}", describe(&locked));
    let wrong = agentry_at(&socket, &["unlock"], "open\n");
    assert_eq!(wrong.status.code(), Some(1), "{}", describe(&wrong));
    ok(agentry_at(&socket, &["unlock"], "sesame\n"));
    assert_eq!(ok(ssh_add(&["-l"])), left);

    // ssh-agent has no `query` extension: one line naming the socket, status 1.
    let query = agentry_at(&socket, &["query"], "");
    assert_eq!(query.status.code(), Some(1), "{}", describe(&query));
    let err = text(&query.stderr);
    assert!(err.contains(&socket.display().to_string()), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    ok(agentry_at(&socket, &["remove-all"], ""));
    assert_eq!(ssh_add(&["-l"]).status.code(), Some(1));
}

#[test]
fn client_commands_drive_putty_pageant() {
    let dir = private_tempdir();
    let socket = dir.path().join("pageant.sock");
    let _agent = spawn_agent(
        Command::new("pageant")
            .arg("--debug")
            .arg("--symlink")
            .arg(&socket),
        &socket,
    );
    let pageant = |args: &[&str]| tool_at(&socket, "pageant", args);
    let rsa = fixture_key(dir.path(), "rsa-3072");
    let ppk = fixture_key(dir.path(), "ppk/ed25519.ppk");
    ok(agentry_at(
        &socket,
        &["add", rsa.to_str().unwrap(), ppk.to_str().unwrap()],
        "",
    ));

    // Pageant lists what agentry added, by the fingerprints agentry shows, and gives the same
    // public key for each (`pageant -L` wants the keys named).
    let ours = ok(agentry_at(&socket, &["list"], ""));
    let theirs = ok(pageant(&["-l"]));
    let public = ok(agentry_at(&socket, &["list", "-L"], ""));
    assert_eq!(ours.lines().count(), 2, "{ours}");
    for (line, public) in ours.lines().zip(public.lines()) {
        let fingerprint = line.split_whitespace().nth(1).unwrap();
        assert!(fingerprint.starts_with("SHA256:"), "{line}");
        assert!(
            theirs.contains(fingerprint),
            "{fingerprint} not in\n{theirs}"
        );
        assert_eq!(ok(pageant(&["-L", fingerprint])), format!("{public}\n"));
    }
    let query = ok(agentry_at(&socket, &["query"], ""));
    assert!(
        query.contains("add-ppk@putty.projects.tartarus.org"),
        "{query}"
    );

    ok(agentry_at(&socket, &["remove", rsa.to_str().unwrap()], ""));
    let left = ok(pageant(&["-l"]));
    assert!(
        !left.contains("ssh-rsa") && left.contains("ssh-ed25519"),
        "{left}"
    );

    // Pageant cannot be locked: agentry says it refused, in one line naming the socket (it
    // answers `query`, so it is not already locked).
    let lock = agentry_at(&socket, &["lock"], "sesame\n");
    assert_eq!(lock.status.code(), Some(1), "{}", describe(&lock));
    let err = text(&lock.stderr);
    assert_eq!(
        err,
        format!(
            "agentry: the agent at {} refused to lock\n",
            socket.display()
        )
    );

    ok(agentry_at(&socket, &["remove-all"], ""));
    assert_eq!(ok(pageant(&["-l"])), "");
}
