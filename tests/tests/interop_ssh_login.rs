//! Real logins through the agent: OpenSSH's `ssh` and PuTTY's `plink` authenticate to a
//! temporary loopback `sshd` with Ed25519, ECDSA and RSA keys held only by agentry.
#![cfg(unix)]

use agentry_tests::fixtures::{self, private_key_copy};
use agentry_tests::server::{private_tempdir, TestAgent};
use agentry_tests::sshd::{current_user, TestSshd};
use agentry_tests::tools::{agent_command, assert_publickey_refused, describe, require_tool, run};

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
    assert_publickey_refused(&out, "an empty agent");
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

/// `ssh` with the options every login test uses, to `sshd` on loopback, running `command`.
fn ssh_to(
    ssh: &std::path::Path,
    agent: &TestAgent,
    home: &std::path::Path,
    known_hosts: &str,
    sshd: &TestSshd,
    extra: &[&str],
    command: &str,
) -> std::process::Output {
    run(agent_command(ssh, agent.socket())
        .env("HOME", home)
        .args(["-F", "/dev/null", "-o", "BatchMode=yes"])
        .args(["-o", &format!("UserKnownHostsFile={known_hosts}")])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "IdentityFile=/dev/null",
        ])
        .args(["-o", "PreferredAuthentications=publickey"])
        .args(extra)
        .arg("-p")
        .arg(sshd.port().to_string())
        .arg(format!("{}@127.0.0.1", current_user()))
        .arg(command))
}

/// `ssh -A`: the far side's `ssh-add -l` lists the key held by agentry, through the forwarded
/// connection (which ssh binds with `session-bind@openssh.com`, is_forwarding = 1).
#[test]
fn forwarded_agent_lists_keys_on_the_far_side() {
    let ssh = require_tool("ssh", "openssh-client");
    let sshd = TestSshd::start(&authorized());
    let home = private_tempdir();
    let agent = agent_with("ed25519");
    let out = ssh_to(
        &ssh,
        &agent,
        home.path(),
        "/dev/null",
        &sshd,
        &["-A"],
        "ssh-add -l",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("agentry-test-ed25519"),
        "ssh -A … ssh-add -l: {}\nsshd log:\n{}",
        describe(&out),
        sshd.log()
    );
}

/// PuTTY's own agent client (`pageant -l`, client mode) lists the keys agentry holds.
#[test]
fn pageant_client_lists_our_keys() {
    let pageant = require_tool("pageant", "putty");
    let agent = agent_with("ecdsa-p256");
    let out = run(agent_command(&pageant, agent.socket()).arg("-l"));
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains("agentry-test-ecdsa-p256"),
        "pageant -l: {}",
        describe(&out)
    );
}

/// `ssh-add -h`: a key restricted to one sshd logs in there and is refused by another host.
#[test]
fn destination_restricted_key_logs_in_only_where_allowed() {
    let ssh = require_tool("ssh", "openssh-client");
    let ssh_add = require_tool("ssh-add", "openssh-client");
    let allowed = TestSshd::start(&authorized());
    let other = TestSshd::start(&authorized());
    let home = private_tempdir();
    let known_hosts = home.path().join("known_hosts");
    let line = |sshd: &TestSshd| {
        let key = std::fs::read_to_string(sshd.host_key_pub()).unwrap();
        let mut fields = key.split_whitespace();
        let (kind, blob) = (fields.next().unwrap(), fields.next().unwrap());
        format!("[127.0.0.1]:{} {kind} {blob}\n", sshd.port())
    };
    std::fs::write(&known_hosts, line(&allowed) + &line(&other)).unwrap();

    let agent = TestAgent::start();
    let key = private_key_copy(home.path(), "ed25519");
    let dest = format!("{}@[127.0.0.1]:{}", current_user(), allowed.port());
    let out = run(agent_command(&ssh_add, agent.socket())
        .arg("-H")
        .arg(&known_hosts)
        .args(["-h", &dest])
        .arg(&key));
    assert!(out.status.success(), "ssh-add -h: {}", describe(&out));

    let kh = known_hosts.display().to_string();
    let strict = ["-o", "StrictHostKeyChecking=yes"];
    let ok = ssh_to(
        &ssh,
        &agent,
        home.path(),
        &kh,
        &allowed,
        &strict,
        "echo restricted-ok",
    );
    assert!(
        ok.status.success() && String::from_utf8_lossy(&ok.stdout).contains("restricted-ok"),
        "allowed host: {}\nsshd log:\n{}",
        describe(&ok),
        allowed.log()
    );
    let refused = ssh_to(&ssh, &agent, home.path(), &kh, &other, &strict, "true");
    assert_publickey_refused(&refused, "a host the key is not restricted to");
}
