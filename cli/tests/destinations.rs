//! `agentry add -h` (ssh-add's destination syntax, host keys from `-H known_hosts`) through real
//! OpenSSH: a key restricted to one loopback `sshd` logs in there and is refused by another, and
//! a destination known_hosts does not list is refused before anything is added.
#![cfg(unix)]

mod common;

use agentry_tests::server::TestAgent;
use agentry_tests::sshd::{current_user, TestSshd};
use common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn known_hosts_line(sshd: &TestSshd) -> String {
    let key = std::fs::read_to_string(sshd.host_key_pub()).unwrap();
    let mut fields = key.split_whitespace();
    let (kind, blob) = (fields.next().unwrap(), fields.next().unwrap());
    format!("[127.0.0.1]:{} {kind} {blob}\n", sshd.port())
}

fn ssh_to(agent: &TestAgent, home: &Path, known_hosts: &Path, sshd: &TestSshd) -> Output {
    run(Command::new("ssh")
        .env("SSH_AUTH_SOCK", agent.socket())
        .env("HOME", home)
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o"])
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "IdentityFile=/dev/null",
        ])
        .args(["-o", "PreferredAuthentications=publickey", "-p"])
        .arg(sshd.port().to_string())
        .arg(format!("{}@127.0.0.1", current_user()))
        .arg("echo restricted-ok")
        .stdin(Stdio::null()))
}

#[test]
fn key_added_with_h_logs_in_only_where_allowed() {
    let dir = private_tempdir();
    let key = fixture_key(dir.path(), "ed25519");
    let authorized = vec![std::fs::read_to_string(dir.path().join("ed25519.pub")).unwrap()];
    let allowed = TestSshd::start(&authorized);
    let other = TestSshd::start(&authorized);
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        known_hosts_line(&allowed) + &known_hosts_line(&other),
    )
    .unwrap();
    let agent = TestAgent::start();
    let dest = format!("{}@[127.0.0.1]:{}", current_user(), allowed.port());

    let added = run(agentry()
        .env("SSH_AUTH_SOCK", agent.socket())
        .arg("add")
        .arg("-H")
        .arg(&known_hosts)
        .args(["-h", &dest])
        .arg(&key));
    assert!(added.status.success(), "{}", describe(&added));
    // The key and its certificate (ed25519-cert.pub lies next to it), both restricted.
    let held = agent.agent().key_infos();
    assert_eq!(held.len(), 2);
    assert!(
        held.iter().all(|k| k.destinations.len() == 1),
        "no restriction was sent"
    );

    let ok = ssh_to(&agent, dir.path(), &known_hosts, &allowed);
    assert!(
        ok.status.success() && text(&ok.stdout).contains("restricted-ok"),
        "allowed host: {}\nsshd log:\n{}",
        describe(&ok),
        allowed.log()
    );
    let refused = ssh_to(&agent, dir.path(), &known_hosts, &other);
    agentry_tests::tools::assert_publickey_refused(&refused, "a host the key is not allowed to");

    // A host known_hosts does not list cannot be restricted to: nothing is added.
    let unknown = run(agentry()
        .env("SSH_AUTH_SOCK", agent.socket())
        .arg("add")
        .arg("-H")
        .arg(&known_hosts)
        .args(["-h", "nowhere.example"])
        .arg(&key));
    assert_eq!(unknown.status.code(), Some(1), "{}", describe(&unknown));
    assert!(
        text(&unknown.stderr).contains("nowhere.example"),
        "{}",
        describe(&unknown)
    );
}
