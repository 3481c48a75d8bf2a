//! Interop with OpenSSH's `ssh-add` and `ssh-keygen -Y` against an in-process agent on a
//! temporary socket: exit codes, listings that match `ssh-keygen -l`, removal, lock, lifetime,
//! confirmation through a scripted prompter, signatures that `ssh-keygen -Y verify` accepts, and
//! refusal of other users.
#![cfg(unix)]

use agentry_core::prompt::Prompter;
use agentry_core::{Agent, AgentOptions};
use agentry_tests::fixtures::private_key_copy;
use agentry_tests::server::{private_tempdir, ScriptedPrompter, TestAgent};
use agentry_tests::tools::{
    agent_command, as_nobody, describe, require_tool, run, ssh_keygen_verify,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn ssh_add() -> PathBuf {
    require_tool("ssh-add", "openssh-client")
}

fn ssh_keygen() -> PathBuf {
    require_tool("ssh-keygen", "openssh-client")
}

fn ssh_add_run(agent: &TestAgent, args: &[&std::ffi::OsStr]) -> std::process::Output {
    run(agent_command(&ssh_add(), agent.socket()).args(args))
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

#[test]
fn empty_agent_lists_nothing_with_status_1() {
    let agent = TestAgent::start();
    let out = ssh_add_run(&agent, &[os("-l")]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "The agent has no identities.\n"
    );
}

#[test]
fn missing_agent_is_status_2() {
    let dir = private_tempdir();
    let out = run(agent_command(&ssh_add(), &dir.path().join("none.sock")).arg("-l"));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn added_keys_list_like_ssh_keygen_and_are_removed() {
    let agent = TestAgent::start();
    let dir = private_tempdir();
    let names = ["ed25519", "ecdsa-p256", "rsa-2048"];
    let keys: Vec<PathBuf> = names
        .iter()
        .map(|n| private_key_copy(dir.path(), n))
        .collect();
    for key in &keys {
        let out = ssh_add_run(&agent, &[key.as_os_str()]);
        assert!(
            out.status.success(),
            "ssh-add {}: {}",
            key.display(),
            describe(&out)
        );
    }
    let listed = ssh_add_run(&agent, &[os("-l")]);
    assert!(listed.status.success(), "{}", describe(&listed));
    let expected: String = keys
        .iter()
        .map(|k| {
            let out = run(std::process::Command::new(ssh_keygen())
                .arg("-lf")
                .arg(k.with_extension("pub")));
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    // ssh-keygen -l on a .pub and ssh-add -l print the same line per key.
    assert_eq!(String::from_utf8_lossy(&listed.stdout), expected);
    let public = ssh_add_run(&agent, &[os("-L")]);
    for key in &keys {
        let line = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        assert!(
            String::from_utf8_lossy(&public.stdout).contains(line.trim()),
            "{} missing from ssh-add -L",
            key.display()
        );
    }
    let removed = ssh_add_run(&agent, &[os("-d"), keys[0].as_os_str()]);
    assert!(removed.status.success(), "{}", describe(&removed));
    assert_eq!(agent.agent().key_count(), 2);
    let cleared = ssh_add_run(&agent, &[os("-D")]);
    assert!(cleared.status.success(), "{}", describe(&cleared));
    assert_eq!(agent.agent().key_count(), 0);
}

/// An askpass script that prints `answer`, for `ssh-add -x`/`-X` without a terminal.
fn askpass(dir: &Path, answer: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("askpass.sh");
    std::fs::write(&path, format!("#!/bin/sh\necho '{answer}'\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path
}

#[test]
fn lock_and_unlock_with_ssh_add() {
    let agent = TestAgent::start();
    let dir = private_tempdir();
    let key = private_key_copy(dir.path(), "ed25519");
    assert!(ssh_add_run(&agent, &[key.as_os_str()]).status.success());
    let with_pass = |flag: &str, pass: &str| {
        run(agent_command(&ssh_add(), agent.socket())
            .arg(flag)
            .env("SSH_ASKPASS", askpass(dir.path(), pass))
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0"))
    };
    let locked = with_pass("-x", "lockpass");
    assert!(locked.status.success(), "{}", describe(&locked));
    assert!(agent.agent().is_locked());
    assert_eq!(ssh_add_run(&agent, &[os("-l")]).status.code(), Some(1));
    let wrong = with_pass("-X", "wrong");
    assert!(
        !wrong.status.success(),
        "wrong passphrase unlocked: {}",
        describe(&wrong)
    );
    let unlocked = with_pass("-X", "lockpass");
    assert!(unlocked.status.success(), "{}", describe(&unlocked));
    assert_eq!(ssh_add_run(&agent, &[os("-l")]).status.code(), Some(0));
}

#[test]
fn lifetime_from_ssh_add_expires_the_key() {
    let agent = TestAgent::start();
    let dir = private_tempdir();
    let key = private_key_copy(dir.path(), "ed25519");
    let out = ssh_add_run(&agent, &[os("-t"), os("2"), key.as_os_str()]);
    assert!(out.status.success(), "{}", describe(&out));
    let infos = agent.agent().key_infos();
    let left = infos[0].expires_in.expect("lifetime recorded");
    assert!(left <= std::time::Duration::from_secs(2), "{left:?}");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let listed = ssh_add_run(&agent, &[os("-l")]);
    assert_eq!(
        listed.status.code(),
        Some(1),
        "key outlived its lifetime: {}",
        describe(&listed)
    );
}

fn sign_with_ssh_keygen(agent: &TestAgent, dir: &Path, name: &str) -> std::process::Output {
    // Only the .pub is given: ssh-keygen must ask the agent to sign.
    let public = dir.join(format!("{name}-only.pub"));
    std::fs::copy(dir.join(format!("{name}.pub")), &public).unwrap();
    let message = dir.join(format!("{name}-message"));
    std::fs::write(&message, b"signed through agentry\n").unwrap();
    let _ = std::fs::remove_file(message.with_extension("sig"));
    run(agent_command(&ssh_keygen(), agent.socket())
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(&public)
        .arg(&message))
}

fn verify_with_ssh_keygen(dir: &Path, name: &str) -> std::process::Output {
    let public = dir.join(format!("{name}.pub"));
    let message = dir.join(format!("{name}-message"));
    ssh_keygen_verify(
        &ssh_keygen(),
        &public,
        &message,
        &dir.join("allowed_signers"),
    )
}

#[test]
fn ssh_keygen_signs_through_the_agent_and_verifies() {
    let agent = TestAgent::start();
    let dir = private_tempdir();
    for name in ["ed25519", "ecdsa-p384", "rsa-3072"] {
        let key = private_key_copy(dir.path(), name);
        assert!(ssh_add_run(&agent, &[key.as_os_str()]).status.success());
        std::fs::remove_file(&key).unwrap();
        let signed = sign_with_ssh_keygen(&agent, dir.path(), name);
        assert!(signed.status.success(), "{name}: {}", describe(&signed));
        let verified = verify_with_ssh_keygen(dir.path(), name);
        assert!(verified.status.success(), "{name}: {}", describe(&verified));
    }
}

#[test]
fn confirm_constraint_asks_the_prompter() {
    let prompter = ScriptedPrompter::answering(false);
    let agent = TestAgent::serve(Agent::with_parts(
        AgentOptions::new(),
        Some(Arc::clone(&prompter) as Arc<dyn Prompter>),
        Arc::new(agentry_core::clock::TokioClock),
    ));
    let dir = private_tempdir();
    let key = private_key_copy(dir.path(), "ed25519");
    let added = ssh_add_run(&agent, &[os("-c"), key.as_os_str()]);
    assert!(added.status.success(), "{}", describe(&added));
    std::fs::remove_file(&key).unwrap();
    let refused = sign_with_ssh_keygen(&agent, dir.path(), "ed25519");
    assert!(!refused.status.success(), "signed without confirmation");
    prompter.set_answer(true);
    let allowed = sign_with_ssh_keygen(&agent, dir.path(), "ed25519");
    assert!(allowed.status.success(), "{}", describe(&allowed));
    let asked = prompter.asked();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[1].comment, "agentry-test-ed25519");
    assert_eq!(asked[1].client.transport, "unix socket");
    assert!(asked[1].client.pid.is_some());
    assert!(
        asked[1]
            .client
            .exe
            .as_deref()
            .is_some_and(|e| e.ends_with("ssh-keygen")),
        "client exe: {:?}",
        asked[1].client.exe
    );
}

#[test]
fn other_users_cannot_use_the_agent() {
    let agent = TestAgent::start();
    let dir = private_tempdir();
    let key = private_key_copy(dir.path(), "ed25519");
    assert!(ssh_add_run(&agent, &[key.as_os_str()]).status.success());
    // As root through runuser, else through `sudo -n runuser` (an unprivileged CI user).
    let list_as_nobody = |socket: &Path| {
        run(&mut as_nobody(
            &[("SSH_AUTH_SOCK", socket.as_os_str())],
            &ssh_add(),
            &["-l".as_ref()],
        ))
    };
    // The socket's private directory already keeps nobody out.
    let out = list_as_nobody(agent.socket());
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // Even when the file system lets nobody in, the peer check closes the connection.
    let open_dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(open_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exposed = open_dir.path().join("exposed.sock");
    let listener = std::os::unix::net::UnixListener::bind(&exposed).unwrap();
    std::fs::set_permissions(&exposed, std::fs::Permissions::from_mode(0o666)).unwrap();
    let served = agent.agent().clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(async move {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::UnixListener::from_std(listener).unwrap();
        agentry_platform::unix::serve(listener, served, stopped).await;
    });
    let out = list_as_nobody(&exposed);
    assert_ne!(
        out.status.code(),
        Some(0),
        "nobody listed keys: {}",
        describe(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ED25519"));
    let ours = run(agent_command(&ssh_add(), &exposed).arg("-l"));
    assert!(ours.status.success(), "{}", describe(&ours));
    let _ = stop.send(());
    runtime.block_on(server).unwrap();
}
