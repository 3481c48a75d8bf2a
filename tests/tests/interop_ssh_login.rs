//! Real logins through the agent: OpenSSH's `ssh` and PuTTY's `plink` authenticate to a
//! temporary loopback `sshd` with Ed25519, ECDSA and RSA keys held only by agentry.
#![cfg(unix)]

use agentry_tests::fixtures::{self, private_key_copy};
use agentry_tests::server::{private_tempdir, TestAgent};
use agentry_tests::sshd::{current_user, TestSshd};
use agentry_tests::tools::{agent_command, describe, require_tool, run};

const KEYS: &[&str] = &["ed25519", "ecdsa-p256", "rsa-2048"];

fn authorized() -> Vec<String> {
    KEYS.iter()
        .map(|k| std::fs::read_to_string(fixtures::key_path(&format!("{k}.pub"))).unwrap())
        .collect()
}

/// An agent holding only key `name`, added with ssh-add.
fn agent_with(name: &str) -> TestAgent {
    let agent = TestAgent::start();
    let dir = private_tempdir();
    let key = private_key_copy(dir.path(), name);
    let out =
        run(agent_command(&require_tool("ssh-add", "openssh-client"), agent.socket()).arg(&key));
    assert!(out.status.success(), "ssh-add {name}: {}", describe(&out));
    agent
}

#[test]
fn ssh_logs_in_with_each_key_type() {
    let ssh = require_tool("ssh", "openssh-client");
    let sshd = TestSshd::start(&authorized());
    let empty_home = private_tempdir();
    for name in KEYS {
        let agent = agent_with(name);
        let out = run(agent_command(&ssh, agent.socket())
            .env("HOME", empty_home.path())
            .args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
            .args([
                "-o",
                "IdentityFile=/dev/null",
                "-o",
                "PreferredAuthentications=publickey",
            ])
            .arg("-p")
            .arg(sshd.port().to_string())
            .arg(format!("{}@127.0.0.1", current_user()))
            .arg("echo agentry-login-ok"));
        assert!(
            out.status.success()
                && String::from_utf8_lossy(&out.stdout).contains("agentry-login-ok"),
            "ssh with {name}: {}\nsshd log:\n{}",
            describe(&out),
            sshd.log()
        );
    }
    // Without the key in the agent, the login fails: the agent really was what authenticated.
    let empty = TestAgent::start();
    let out = run(agent_command(&ssh, empty.socket())
        .env("HOME", empty_home.path())
        .args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
        .args(["-o", "IdentityFile=/dev/null", "-p"])
        .arg(sshd.port().to_string())
        .arg(format!("{}@127.0.0.1", current_user()))
        .arg("true"));
    assert!(!out.status.success(), "logged in with an empty agent");
}

#[test]
fn plink_logs_in_through_the_agent() {
    let plink = require_tool("plink", "putty-tools");
    let sshd = TestSshd::start(&authorized());
    let host_key = ssh_key::PublicKey::read_openssh_file(sshd.host_key_pub()).unwrap();
    let fingerprint = host_key.fingerprint(ssh_key::HashAlg::Sha256).to_string();
    for name in KEYS {
        let agent = agent_with(name);
        let out = run(agent_command(&plink, agent.socket())
            .env("HOME", sshd.dir())
            .args(["-ssh", "-batch", "-agent"])
            .args(["-hostkey", &fingerprint, "-P", &sshd.port().to_string()])
            .args(["-l", &current_user(), "127.0.0.1", "echo agentry-plink-ok"]));
        assert!(
            out.status.success()
                && String::from_utf8_lossy(&out.stdout).contains("agentry-plink-ok"),
            "plink with {name}: {}\nsshd log:\n{}",
            describe(&out),
            sshd.log()
        );
    }
}
