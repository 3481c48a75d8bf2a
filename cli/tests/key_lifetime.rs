//! `ssh-add -t` against the real binary: the key's lifetime ends on time with no request made
//! meanwhile. The agent's log (stderr of `agentry start -D`) must report the removal before any
//! client has spoken to the agent again, and OpenSSH's `ssh-add -l` then finds no identity.
#![cfg(unix)]

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn a_key_added_with_ssh_add_t_is_removed_at_its_deadline_without_requests() {
    let dir = private_tempdir();
    let socket = dir.path().join("agent.sock");
    let log_path = dir.path().join("agent.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let agent = ForegroundAgent::start(&socket, |command| {
        command.stderr(log).env_remove("AGENTRY_LOG");
    });
    let key = fixture_key(dir.path(), "ed25519");

    let added = run(agent.client("ssh-add").args(["-t", "2"]).arg(&key));
    assert!(added.status.success(), "ssh-add -t 2: {}", describe(&added));
    let listed = run(agent.client("ssh-add").arg("-l"));
    assert!(listed.status.success(), "listed: {}", describe(&listed));

    // No request from here on until the log says the key is gone: past the 2 s lifetime, then
    // (on a busy machine) a while longer for the agent's timer to have run.
    std::thread::sleep(Duration::from_secs(3));
    let patience = Instant::now() + Duration::from_secs(10);
    let removed = loop {
        let log = std::fs::read_to_string(&log_path).unwrap();
        if log.contains("key lifetime expired") || Instant::now() > patience {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        removed.contains("key lifetime expired"),
        "the agent did not remove the key at its deadline; log:\n{removed}"
    );

    let listed = run(agent.client("ssh-add").arg("-l"));
    assert_eq!(
        listed.status.code(),
        Some(1),
        "ssh-add -l after the deadline: {}",
        describe(&listed)
    );
    assert!(
        text(&listed.stdout).contains("no identities"),
        "{}",
        describe(&listed)
    );
}
