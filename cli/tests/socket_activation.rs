//! systemd socket activation through systemd's own `systemd-socket-activate`, which binds the
//! socket, and on the first connection starts `agentry start -D` with `LISTEN_FDS`/`LISTEN_PID`
//! as systemd does for the shipped `agentry.socket`/`agentry.service` units. The agent must
//! serve on the socket it was given (it never binds one itself) and keep serving later clients.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::process::{Command, Stdio};

#[test]
fn agent_serves_the_socket_systemd_passes_it() {
    let dir = private_tempdir();
    let socket = dir.path().join("activated.sock");
    // Without --accept, systemd-socket-activate runs agentry in its own process: killing it
    // stops the agent.
    let activator = KillOnDrop(
        Command::new("systemd-socket-activate")
            .arg("-l")
            .arg(&socket)
            .arg(env!("CARGO_BIN_EXE_agentry"))
            .args(["start", "-D"])
            .env_remove("SSH_AUTH_SOCK")
            .envs(agentry_tests::tools::no_user_config())
            .env("XDG_RUNTIME_DIR", dir.path().join("unused-runtime-dir"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("systemd-socket-activate (Debian package systemd) must be installed"),
    );
    wait_for_agent(&socket);
    let key = fixture_key(dir.path(), "ed25519");
    // Bounded: an agent that ignored the passed socket would leave clients waiting forever.
    let client = |program: &str| {
        let mut c = Command::new("timeout");
        c.args(["20", program])
            .env("SSH_AUTH_SOCK", &socket)
            .stdin(Stdio::null());
        c
    };
    let added = run(client("ssh-add").arg(&key));
    let listed = run(client("ssh-add").arg("-l"));
    let queried = run(client(env!("CARGO_BIN_EXE_agentry")).arg("query"));
    drop(activator);
    assert!(added.status.success(), "{}", describe(&added));
    assert!(listed.status.success(), "{}", describe(&listed));
    assert!(
        text(&listed.stdout).contains("ED25519"),
        "{}",
        describe(&listed)
    );
    // Only agentry answers agentry's own extension: the activated program really is agentry.
    assert!(
        text(&queried.stdout).contains("add-key-file@agentry"),
        "{}",
        describe(&queried)
    );
    assert!(
        !dir.path().join("unused-runtime-dir").exists(),
        "the activated agent bound its own socket instead of systemd's"
    );
}
