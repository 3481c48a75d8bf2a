//! Pageant's command line on Unix: `agentry [--encrypted] KEYFILE... [--openssh-config FILE]
//! [-c COMMAND ARGS...]` against a running agent (nothing started), and with none (one started
//! in the background, its shell lines printed, the keys added before COMMAND runs — shown by
//! OpenSSH's ssh-add listing them from inside COMMAND — and COMMAND's status passed on); a
//! mistyped command refused before anything starts; a key file named like a command given as a
//! path. The Windows side, under Wine, is in `windows_pageant.rs`.
#![cfg(unix)]

mod common;

use common::*;

#[test]
fn keys_go_to_the_running_agent() {
    let dir = private_tempdir();
    let agent = ForegroundAgent::start(&dir.path().join("agent.sock"), |c| {
        c.env("SSH_ASKPASS", "/bin/false")
            .env("SSH_ASKPASS_REQUIRE", "force");
    });
    let key = fixture_key(dir.path(), "ecdsa-p256");
    let encrypted = fixture_key(dir.path(), "ed25519-encrypted");
    let rsa = fixture_key(dir.path(), "rsa-2048-encrypted");
    let added = run(agent.agentry().arg(&key));
    assert!(added.status.success(), "{}", describe(&added));
    assert_eq!(
        text(&added.stdout),
        "",
        "no agent started: nothing to print"
    );
    let deferred = run(agent.agentry().arg("--encrypted").arg(&encrypted));
    assert!(deferred.status.success(), "{}", describe(&deferred));
    let listed = text(&run(agent.agentry().arg("list")).stdout);
    assert!(
        listed.contains("agentry-test-ecdsa-p256 (ECDSA)\n"),
        "{listed}"
    );
    assert!(
        listed.contains("agentry-test-ed25519-encrypted (ED25519) (encrypted)"),
        "{listed}"
    );
    // Pageant's one-dash spelling means the same.
    let again = run(agent.agentry().arg("-encrypted").arg(&rsa));
    assert!(again.status.success(), "{}", describe(&again));
    let listed = text(&run(agent.agentry().arg("list")).stdout);
    assert!(listed.contains("(RSA) (encrypted)"), "{listed}");
}

#[test]
fn with_no_agent_one_starts_and_the_command_runs_after_the_keys_are_added() {
    let dir = private_tempdir();
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let key = fixture_key(dir.path(), "ed25519");
    let config = dir.path().join("agent.conf");
    let out = run(agentry()
        .env("XDG_RUNTIME_DIR", &runtime)
        .arg(&key)
        .arg("--openssh-config")
        .arg(&config)
        .args([
            "-c",
            "sh",
            "-c",
            "ssh-add -l; echo \"sock=$SSH_AUTH_SOCK\"; exit 3",
        ]));
    let stdout = text(&out.stdout);
    let pid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SSH_AGENT_PID="))
        .and_then(|l| l.split(';').next())
        .map(str::to_owned);
    // Stop the agent however the assertions below end.
    struct Stop(Option<String>);
    impl Drop for Stop {
        fn drop(&mut self) {
            if let Some(pid) = &self.0 {
                let _ = std::process::Command::new("kill").arg(pid).status();
            }
        }
    }
    let _stop = Stop(pid.clone());
    assert!(pid.is_some(), "no agent started: {}", describe(&out));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let socket = runtime.join("agentry/agent.sock");
    assert!(
        stdout.contains(&format!(
            "SSH_AUTH_SOCK={}; export SSH_AUTH_SOCK;",
            socket.display()
        )),
        "{stdout}"
    );
    // ssh-add, run as COMMAND, already sees the key, through the SSH_AUTH_SOCK it was given.
    assert!(
        stdout.contains("agentry-test-ed25519 (ED25519)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("sock={}", socket.display())),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        format!("IdentityAgent \"{}\"\n", socket.display())
    );
}

#[test]
fn a_mistyped_command_starts_nothing_and_a_key_named_like_a_command_is_a_path() {
    let dir = private_tempdir();
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    let typo = run(agentry().env("XDG_RUNTIME_DIR", &runtime).arg("lsit"));
    assert_eq!(typo.status.code(), Some(2), "{}", describe(&typo));
    assert!(
        text(&typo.stderr).contains("lsit is neither a command nor a key file"),
        "{}",
        describe(&typo)
    );
    assert!(!runtime.join("agentry").exists(), "an agent was started");

    let agent = ForegroundAgent::start(&dir.path().join("agent.sock"), |_| {});
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::copy(fixture_key(dir.path(), "ed25519"), keys.join("list")).unwrap();
    std::fs::set_permissions(
        keys.join("list"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    // `list` is the command; `./list` the file.
    let listed = run(agent.agentry().current_dir(&keys).arg("list"));
    assert_eq!(listed.status.code(), Some(1), "{}", describe(&listed));
    let added = run(agent.agentry().current_dir(&keys).arg("./list"));
    assert!(added.status.success(), "{}", describe(&added));
    assert!(run(agent.agentry().arg("list")).status.success());
}
