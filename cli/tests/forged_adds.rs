//! The forwarded-host attack on the add path, through real peers: the user adds a key with
//! confirmation (`ssh-add -c`); a client that knows only the key's public half (PuTTY's
//! `pageant -a --encrypted`, as a forwarded host could run) sends an encrypted PPK file that shows
//! that key and decrypts to nothing. The add must be refused, the key keep its comment, and the
//! next signature (`ssh-keygen -Y sign`) still ask through `SSH_ASKPASS`. The same scenario runs
//! against OpenSSH's own `ssh-agent`, with the same outcome.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// An askpass that records each question in `DIR/asked` and refuses (exit 1).
fn refusing_askpass(dir: &Path) -> PathBuf {
    let d = dir.display();
    script(
        &dir.join("askpass"),
        &format!("printf '%s\\n---\\n' \"$1\" >> '{d}/asked'\nexit 1"),
    )
}

fn questions(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("asked"))
        .unwrap_or_default()
        .matches("---\n")
        .count()
}

fn client(socket: &Path, program: &str) -> Command {
    let mut command = Command::new(program);
    command
        .env("SSH_AUTH_SOCK", socket)
        .env_remove("SSH_ASKPASS")
        .env_remove("DISPLAY")
        .stdin(Stdio::null());
    command
}

/// The scenario against the agent listening at `socket`, which prompts through the refusing
/// askpass in `dir`.
fn forged_add_changes_nothing(dir: &Path, socket: &Path) {
    let key = fixture_key(dir, "ed25519");
    let added = run(client(socket, "ssh-add").arg("-c").arg(&key));
    assert!(added.status.success(), "{}", describe(&added));
    let before = text(&run(client(socket, "ssh-add").arg("-l")).stdout);
    assert!(before.contains("(ED25519)"), "{before}");

    let forged = run(client(socket, "pageant")
        .args(["-a", "--encrypted"])
        .arg(fixture_key(dir, "ppk/ed25519-forged.ppk")));
    assert!(
        !forged.status.success(),
        "forged add accepted: {}",
        describe(&forged)
    );
    let after = text(&run(client(socket, "ssh-add").arg("-l")).stdout);
    assert_eq!(after, before, "the held key changed");

    let data = dir.join("data");
    std::fs::write(&data, b"an attacker's data").unwrap();
    let signed = run(client(socket, "ssh-keygen")
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(dir.join("ed25519.pub"))
        .arg(&data));
    assert!(!signed.status.success(), "signed: {}", describe(&signed));
    assert_eq!(questions(dir), 1, "the signature was not confirmed");
}

#[test]
fn a_forged_encrypted_file_leaves_a_confirmed_key_confirmed() {
    let dir = private_tempdir();
    let askpass = refusing_askpass(dir.path());
    let agent = ForegroundAgent::start(&dir.path().join("agent.sock"), |c| {
        c.env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force");
    });
    forged_add_changes_nothing(dir.path(), &agent.socket);
}

/// OpenSSH's `ssh-agent -D`, killed on drop.
struct SshAgent(Child);

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_same_scenario_against_openssh_ssh_agent() {
    let dir = private_tempdir();
    let askpass = refusing_askpass(dir.path());
    let socket = dir.path().join("ssh-agent.sock");
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ssh-agent");
    let _agent = SshAgent(child);
    wait_for_agent(&socket);
    forged_add_changes_nothing(dir.path(), &socket);
}
