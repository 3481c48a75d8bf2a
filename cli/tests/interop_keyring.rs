//! `agentry keyring` and `agentry add --keyring/--remember` against the real Secret Service:
//! each test runs in its own `dbus-run-session` with a fresh, unlocked gnome-keyring
//! (`agentry_tests::secret_service`), and checks agentry's entries from outside with
//! `secret-tool`. Keys imported there are added to an in-process agent and sign for
//! `ssh-keygen -Y sign`.
#![cfg(all(unix, not(target_os = "macos")))]

use agentry_tests::fixtures::private_key_copy;
use agentry_tests::secret_service::{in_private_secret_service, SecretService};
use agentry_tests::server::{private_tempdir, TestAgent};
use agentry_tests::tools::{
    agent_command, command_without_agent, describe, require_tool, run, run_with_input,
    ssh_keygen_verify, without_user_config,
};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn agentry() -> Command {
    let mut command = command_without_agent(env!("CARGO_BIN_EXE_agentry"));
    without_user_config(&mut command);
    command
}

fn agentry_ok(args: &[&str]) -> Output {
    let out = run(agentry().args(args));
    assert!(out.status.success(), "agentry {args:?}: {}", describe(&out));
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ssh_keygen() -> std::path::PathBuf {
    require_tool("ssh-keygen", "openssh-client")
}

/// `SHA256:…` of a .pub file, from ssh-keygen.
fn fingerprint(public: &Path) -> String {
    let out = run(Command::new(ssh_keygen()).arg("-lf").arg(public));
    assert!(out.status.success(), "{}", describe(&out));
    text(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fingerprint field")
        .to_owned()
}

/// `agentry add --keyring NAME` into `agent`.
fn add_from_keyring(agent: &TestAgent, name: &str, extra: &[&str]) -> Output {
    run(agentry()
        .env("SSH_AUTH_SOCK", agent.socket())
        .args(["add", "--keyring", name])
        .args(extra))
}

/// Signs with ssh-keygen -Y through `agent` given only `public`, and verifies the signature.
fn sign_and_verify(agent: &TestAgent, dir: &Path, public: &Path) {
    let message = dir.join("message");
    std::fs::write(&message, b"signed with a key from the keyring\n").unwrap();
    let signature = dir.join("message.sig");
    let _ = std::fs::remove_file(&signature);
    let signed = run(agent_command(&ssh_keygen(), agent.socket())
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(public)
        .arg(&message));
    assert!(signed.status.success(), "sign: {}", describe(&signed));
    let signers = dir.join("allowed_signers");
    let verified = ssh_keygen_verify(&ssh_keygen(), public, &message, &signers);
    assert!(verified.status.success(), "verify: {}", describe(&verified));
}

#[test]
fn keys_are_imported_listed_added_signed_with_and_removed() {
    in_private_secret_service(
        "keys_are_imported_listed_added_signed_with_and_removed",
        import_list_add_remove,
    );
}

fn import_list_add_remove(service: &SecretService) {
    let dir = private_tempdir();
    let empty = agentry_ok(&["keyring", "list"]);
    assert_eq!(text(&empty.stdout), "The keyring holds no agentry keys.\n");
    // ed25519 by its comment, the others by name; rsa-4096 fits one entry.
    let keys = [
        ("agentry-test-ed25519", "ed25519", "ssh-ed25519"),
        ("work", "ecdsa-p256", "ecdsa-sha2-nistp256"),
        ("big", "rsa-4096", "ssh-rsa"),
    ];
    let mut expected = String::new();
    for (name, fixture, kind) in keys {
        let file = private_key_copy(dir.path(), fixture);
        let file = file.to_str().unwrap();
        let out = if name == "agentry-test-ed25519" {
            agentry_ok(&["keyring", "import", file])
        } else {
            agentry_ok(&["keyring", "import", file, "--name", name])
        };
        let fp = fingerprint(&dir.path().join(format!("{fixture}.pub")));
        assert_eq!(
            text(&out.stderr),
            format!("Stored in the keyring: {name} ({kind} {fp})\n")
        );
        expected.push_str(&format!("{name}\t{kind}\t{fp}\tagentry-test-{fixture}\n"));
        std::fs::remove_file(dir.path().join(fixture)).unwrap();
    }
    assert_eq!(text(&agentry_ok(&["keyring", "list"]).stdout), expected);

    // Seen from outside agentry: the real Secret Service holds the index and the key entries.
    assert_eq!(
        service.lookup("index").map(|v| text(&v)).as_deref(),
        Some("agentry-test-ed25519\nwork\nbig\n")
    );
    let big = service
        .lookup("key:big")
        .expect("secret-tool lookup key:big");
    assert_eq!(&big[..2], &[1, 1], "format 1, one part");
    assert!(big.len() <= 2560, "{} bytes", big.len());

    // A second import under a used name is refused, naming the entry.
    let file = private_key_copy(dir.path(), "ed25519");
    let again = run(agentry()
        .args(["keyring", "import", "--name", "work"])
        .arg(&file));
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        text(&again.stderr),
        "agentry: keyring entry agentry/key:work already exists (remove it first)\n"
    );

    // Added to an agent (with a lifetime), they sign for ssh-keygen.
    for round in ["first agent", "restarted agent"] {
        let agent = TestAgent::start();
        for (name, _, _) in keys {
            let out = add_from_keyring(&agent, name, &["-t", "600"]);
            assert!(out.status.success(), "{round}: {name}: {}", describe(&out));
        }
        assert_eq!(agent.agent().key_count(), 3, "{round}");
        for (_, fixture, _) in keys {
            sign_and_verify(
                &agent,
                dir.path(),
                &dir.path().join(format!("{fixture}.pub")),
            );
        }
    }

    // The entries survive a restart of gnome-keyring too (they are on disk, in HOME).
    service.restart_daemon();
    assert_eq!(text(&agentry_ok(&["keyring", "list"]).stdout), expected);

    for (name, _, _) in keys {
        let out = agentry_ok(&["keyring", "remove", name]);
        assert_eq!(
            text(&out.stderr),
            format!("Removed from the keyring: {name}\n")
        );
    }
    let empty = agentry_ok(&["keyring", "list"]);
    assert_eq!(text(&empty.stdout), "The keyring holds no agentry keys.\n");
    assert_eq!(service.lookup("key:big"), None);
    let gone = run(agentry().args(["keyring", "remove", "big"]));
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(
        text(&gone.stderr),
        "agentry: keyring entry agentry/key:big does not exist\n"
    );
}

#[test]
fn a_key_split_across_entries_is_reassembled() {
    in_private_secret_service("a_key_split_across_entries_is_reassembled", |service| {
        let dir = private_tempdir();
        let file = private_key_copy(dir.path(), "rsa-4096");
        // A 1000-byte comment pushes the record past one Windows-sized entry.
        let comment = "x".repeat(1000);
        let out = run(Command::new(ssh_keygen())
            .args(["-c", "-P", "", "-C", &comment, "-f"])
            .arg(&file));
        assert!(out.status.success(), "ssh-keygen -c: {}", describe(&out));
        agentry_ok(&[
            "keyring",
            "import",
            "--name",
            "long",
            file.to_str().unwrap(),
        ]);
        assert!(service.lookup("keypart:2:long").is_some());
        let listed = text(&agentry_ok(&["keyring", "list"]).stdout);
        assert!(listed.ends_with(&format!("\t{comment}\n")), "{listed}");
        let agent = TestAgent::start();
        let out = add_from_keyring(&agent, "long", &[]);
        assert!(out.status.success(), "{}", describe(&out));
        sign_and_verify(&agent, dir.path(), &dir.path().join("rsa-4096.pub"));
    });
}

#[test]
fn a_corrupt_or_missing_entry_is_named_and_the_others_still_load() {
    in_private_secret_service(
        "a_corrupt_or_missing_entry_is_named_and_the_others_still_load",
        |service| {
            let dir = private_tempdir();
            for (name, fixture) in [("good", "ed25519"), ("bad", "ecdsa-p256")] {
                let file = private_key_copy(dir.path(), fixture);
                agentry_ok(&["keyring", "import", "--name", name, file.to_str().unwrap()]);
            }
            service.overwrite("key:bad", b"\x01\x01not a key");
            // An index line whose entry is gone.
            service.overwrite("index", b"good\nbad\nlost\n");
            let listed = run(agentry().args(["keyring", "list"]));
            assert_eq!(listed.status.code(), Some(1), "{}", describe(&listed));
            assert!(text(&listed.stdout).starts_with("good\tssh-ed25519\t"));
            assert_eq!(text(&listed.stdout).lines().count(), 1);
            let errors = text(&listed.stderr);
            assert!(
                errors.contains("agentry: keyring entry agentry/key:bad is corrupt: "),
                "{errors}"
            );
            assert!(
                errors.contains("agentry: keyring entry agentry/key:lost does not exist\n"),
                "{errors}"
            );

            // The good key still goes to the agent; each bad one fails with its name.
            let agent = TestAgent::start();
            let out = run(agentry().env("SSH_AUTH_SOCK", agent.socket()).args([
                "add",
                "--keyring",
                "bad",
                "--keyring",
                "good",
                "--keyring",
                "lost",
            ]));
            assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
            let errors = text(&out.stderr);
            assert!(errors.contains("agentry/key:bad is corrupt"), "{errors}");
            assert!(
                errors.contains("agentry/key:lost does not exist"),
                "{errors}"
            );
            assert!(errors.contains("Identity added: keyring good"), "{errors}");
            assert_eq!(agent.agent().key_count(), 1);
        },
    );
}

#[test]
fn a_remembered_passphrase_is_used_then_forgotten() {
    in_private_secret_service(
        "a_remembered_passphrase_is_used_then_forgotten",
        |service| {
            let dir = private_tempdir();
            let file = private_key_copy(dir.path(), "ed25519-encrypted");
            let fp = fingerprint(&dir.path().join("ed25519-encrypted.pub"));
            let add = |agent: &TestAgent, passphrase: Option<&str>| {
                let typed = passphrase.map(|p| format!("{p}\n")).unwrap_or_default();
                run_with_input(
                    agentry()
                        .env("SSH_AUTH_SOCK", agent.socket())
                        .args(["add", "--remember"])
                        .arg(&file),
                    &typed,
                )
            };

            // First use: asked for (on stdin here), then kept under the key's fingerprint.
            let agent = TestAgent::start();
            let out = add(&agent, Some("correct horse"));
            assert!(out.status.success(), "{}", describe(&out));
            assert!(
                text(&out.stderr).contains("remembered in the keyring"),
                "{}",
                describe(&out)
            );
            assert_eq!(
                service.lookup(&format!("passphrase:{fp}")).as_deref(),
                Some(&b"correct horse"[..])
            );

            // Next time nothing is typed: the remembered passphrase decrypts it.
            let agent = TestAgent::start();
            let out = add(&agent, None);
            assert!(out.status.success(), "{}", describe(&out));
            assert!(
                text(&out.stderr).contains("read from the keyring"),
                "{}",
                describe(&out)
            );
            assert_eq!(agent.agent().key_count(), 1);

            let out = agentry_ok(&["keyring", "forget", file.to_str().unwrap()]);
            assert!(text(&out.stderr).contains(&fp), "{}", describe(&out));
            assert_eq!(service.lookup(&format!("passphrase:{fp}")), None);
            let again = run(agentry().args(["keyring", "forget"]).arg(&file));
            assert_eq!(again.status.code(), Some(1));
            assert!(text(&again.stderr).contains("no passphrase remembered"));

            // Forgotten: with nothing typed, the passphrase cannot be asked for.
            let agent = TestAgent::start();
            let out = add(&agent, None);
            assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
            assert!(
                text(&out.stderr).contains("cannot ask for a passphrase"),
                "{}",
                describe(&out)
            );
            assert_eq!(agent.agent().key_count(), 0);
        },
    );
}

#[test]
fn no_secret_service_is_one_clear_line() {
    let dir = private_tempdir();
    let no_bus = format!("unix:path={}", dir.path().join("no-bus").display());
    // A bus address that leads nowhere, and no address at all (nor a $XDG_RUNTIME_DIR/bus).
    for address in [Some(no_bus.as_str()), None] {
        let mut command = agentry();
        command
            .env("XDG_RUNTIME_DIR", dir.path())
            .env_remove("DISPLAY")
            .args(["keyring", "list"]);
        match address {
            Some(a) => command.env("DBUS_SESSION_BUS_ADDRESS", a),
            None => command.env_remove("DBUS_SESSION_BUS_ADDRESS"),
        };
        let out = run(&mut command);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with(
                "agentry: no Secret Service on the session bus: is gnome-keyring running? ("
            ) && stderr.lines().count() == 1,
            "{address:?}: {stderr}"
        );
    }
}

/// `add --encrypted --remember`: the agent (the real binary, whose askpass refuses every
/// question) holds the key encrypted and decrypts it at first use with the passphrase from the
/// keyring; once forgotten and re-encrypted, the next use has nothing to answer with.
#[test]
fn a_remembered_passphrase_decrypts_a_deferred_key_at_first_use() {
    in_private_secret_service(
        "a_remembered_passphrase_decrypts_a_deferred_key_at_first_use",
        |_service| {
            use std::os::unix::fs::PermissionsExt;
            let dir = private_tempdir();
            let file = private_key_copy(dir.path(), "ed25519-encrypted");
            let public = dir.path().join("ed25519-encrypted.pub");
            let refuse = dir.path().join("refuse");
            std::fs::write(&refuse, "#!/bin/sh\necho asked >> \"$0.log\"\nexit 1\n").unwrap();
            std::fs::set_permissions(&refuse, std::fs::Permissions::from_mode(0o700)).unwrap();
            let socket = dir.path().join("agent.sock");
            /// The agent, stopped however the test ends.
            struct KillOnDrop(std::process::Child);
            impl Drop for KillOnDrop {
                fn drop(&mut self) {
                    let _ = self.0.kill();
                    let _ = self.0.wait();
                }
            }
            let daemon = KillOnDrop(
                agentry()
                    .args(["start", "-D", "-a"])
                    .arg(&socket)
                    .env("SSH_ASKPASS", &refuse)
                    .env("SSH_ASKPASS_REQUIRE", "force")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::os::unix::net::UnixStream::connect(&socket).is_err()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let added = run_with_input(
                agentry()
                    .env("SSH_AUTH_SOCK", &socket)
                    .args(["add", "--encrypted", "--remember"])
                    .arg(&file),
                "correct horse\n",
            );
            let sign = || {
                let message = dir.path().join("message");
                std::fs::write(&message, b"deferred and remembered\n").unwrap();
                let _ = std::fs::remove_file(dir.path().join("message.sig"));
                run(Command::new(ssh_keygen())
                    .env("SSH_AUTH_SOCK", &socket)
                    .args(["-Y", "sign", "-n", "file", "-f"])
                    .arg(&public)
                    .arg(&message))
            };
            let first = sign();
            let reencrypted = run(agentry()
                .env("SSH_AUTH_SOCK", &socket)
                .args(["reencrypt", "--all"]));
            agentry_ok(&["keyring", "forget", file.to_str().unwrap()]);
            let after_forget = sign();
            let asked = std::fs::read_to_string(dir.path().join("refuse.log")).unwrap_or_default();
            drop(daemon);
            assert!(added.status.success(), "{}", describe(&added));
            assert!(
                text(&added.stderr).contains("encrypted until first use"),
                "{}",
                describe(&added)
            );
            assert!(first.status.success(), "first use: {}", describe(&first));
            assert!(reencrypted.status.success(), "{}", describe(&reencrypted));
            assert!(
                !after_forget.status.success(),
                "signed after the passphrase was forgotten: {}",
                describe(&after_forget)
            );
            assert_eq!(asked.lines().count(), 1, "askpass asked {asked:?}");
        },
    );
}
