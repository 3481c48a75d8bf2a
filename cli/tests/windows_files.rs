//! The `agentry` binary on Windows with files a user gives it (run under Wine by scripts/test,
//! natively in CI), with agentry's own client as the peer: every key-file format `agentry add`
//! reads (OpenSSH, PEM, PKCS#8, PPK) lists the key its `.pub` names; the config file at
//! `%APPDATA%\agentry\config\config.toml`, saved with CRLF line ends, is found, checked, and its
//! keys are loaded at start; and deferred decryption (`add --encrypted`) lists the key at once
//! and asks its passphrase in the agent's dialog on first use, answered here by its caption; a
//! key imported into Credential Manager (`agentry keyring import`) is added from it with
//! `agentry add --keyring` and removed again (Wine keeps its credentials in the test prefix;
//! natively, the entry has a name unique to the run and is removed whatever the outcome).
#![cfg(windows)]

use agentry_platform::windows::file_access::write_private_file;
use agentry_tests::tools::{command_without_agent, describe, without_user_config};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn agentry() -> Command {
    let mut command = command_without_agent(env!("CARGO_BIN_EXE_agentry"));
    without_user_config(&mut command);
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run agentry")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// A private copy (agentry refuses key files others may open) of fixture `name` in `dir`.
fn private_copy(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(Path::new(name).file_name().unwrap());
    write_private_file(&to, &std::fs::read(fixtures().join(name)).unwrap()).unwrap();
    to
}

/// The key type and base64 blob of a `.pub` fixture.
fn public_key_of(pub_name: &str) -> String {
    let line = std::fs::read_to_string(fixtures().join(pub_name)).unwrap();
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn unique_pipe() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        r"\\.\pipe\agentry-files-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `agentry start -D -a PIPE --no-window` (plus `configure`), killed on drop: the guard exists
/// before the wait for the pipe, so an agent that never opens it does not outlive the test.
struct Foreground {
    child: Child,
    pipe: String,
}

impl Foreground {
    fn start(configure: impl FnOnce(&mut Command)) -> Self {
        let pipe = unique_pipe();
        let mut command = agentry();
        command
            .args(["start", "-D", "--no-window", "-a", &pipe])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        configure(&mut command);
        let agent = Self {
            child: command.spawn().expect("spawn agentry start -D"),
            pipe,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&agent.pipe)
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "agent did not open {}",
                agent.pipe
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        agent
    }

    fn client(&self, args: &[&std::ffi::OsStr]) -> Output {
        run(agentry().env("SSH_AUTH_SOCK", &self.pipe).args(args))
    }

    /// `agentry list -L`: the public key lines the agent holds.
    fn public_keys(&self) -> String {
        let out = self.client(&["list".as_ref(), "-L".as_ref()]);
        assert!(out.status.success(), "{}", describe(&out));
        text(&out.stdout)
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_key_file_format_is_added_and_lists_the_key_its_pub_names() {
    // (key file, its .pub) under tests/fixtures.
    const FILES: &[(&str, &str)] = &[
        ("keyfiles/openssh-ed25519", "keyfiles/openssh-ed25519.pub"),
        (
            "keyfiles/openssh-ecdsa-p384",
            "keyfiles/openssh-ecdsa-p384.pub",
        ),
        ("keyfiles/openssh-rsa-2048", "keyfiles/openssh-rsa-2048.pub"),
        ("keyfiles/pem-rsa-2048", "keyfiles/pem-rsa-2048.pub"),
        ("keyfiles/pem-ecdsa-p521", "keyfiles/pem-ecdsa-p521.pub"),
        ("keyfiles/pkcs8-ecdsa-p256", "keyfiles/pkcs8-ecdsa-p256.pub"),
        ("keyfiles/openssl-ed25519", "keyfiles/openssl-ed25519.pub"),
        ("keyfiles/ppk/ed25519-v3.ppk", "keyfiles/ppk/ed25519.pub"),
        ("keyfiles/ppk/rsa-2048-v2.ppk", "keyfiles/ppk/rsa-2048.pub"),
    ];
    let agent = Foreground::start(|_| {});
    let dir = tempfile::tempdir().unwrap();
    for (file, public) in FILES {
        let key = private_copy(dir.path(), file);
        let added = agent.client(&["add".as_ref(), key.as_os_str()]);
        assert!(added.status.success(), "add {file}: {}", describe(&added));
        let listed = agent.public_keys();
        assert!(listed.contains(&public_key_of(public)), "{file}: {listed}");
        let removed = agent.client(&["remove-all".as_ref()]);
        assert!(
            removed.status.success(),
            "remove-all: {}",
            describe(&removed)
        );
    }
}

/// Removes a keyring entry on drop, so a failed test leaves nothing in Credential Manager.
struct KeyringEntry(String);

impl Drop for KeyringEntry {
    fn drop(&mut self) {
        let _ = run(agentry().args(["keyring", "remove", &self.0]));
    }
}

#[test]
fn a_key_imported_into_credential_manager_is_added_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = private_copy(dir.path(), "keys/ed25519");
    let entry = KeyringEntry(format!("agentry-files-test-{}", std::process::id()));
    let imported = run(agentry()
        .args(["keyring", "import", "--name", &entry.0])
        .arg(&key));
    assert!(imported.status.success(), "import: {}", describe(&imported));
    let listed = run(agentry().args(["keyring", "list"]));
    assert!(
        text(&listed.stdout).contains(&entry.0),
        "keyring list: {}",
        describe(&listed)
    );
    let agent = Foreground::start(|_| {});
    let added = agent.client(&["add".as_ref(), "--keyring".as_ref(), entry.0.as_ref()]);
    assert!(
        added.status.success(),
        "add --keyring: {}",
        describe(&added)
    );
    assert!(agent
        .public_keys()
        .contains(&public_key_of("keys/ed25519.pub")));
    let removed = run(agentry().args(["keyring", "remove", &entry.0]));
    assert!(removed.status.success(), "remove: {}", describe(&removed));
    let listed = run(agentry().args(["keyring", "list"]));
    assert!(
        !text(&listed.stdout).contains(&entry.0),
        "{}",
        describe(&listed)
    );
}

#[test]
fn the_config_file_in_appdata_is_found_checked_and_its_keys_loaded_at_start() {
    let appdata = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = private_copy(keys.path(), "keys/ecdsa-p256");
    let config_dir = appdata.path().join("agentry").join("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    let config = config_dir.join("config.toml");
    // Saved by a Windows editor: CRLF line ends.
    let toml = format!(
        "[agent]\nlifetime = \"1h\"\n\n[[key]]\nfile = '{}'\n",
        key.display()
    )
    .replace('\n', "\r\n");
    std::fs::write(&config, toml).unwrap();

    let path = run(agentry()
        .env("APPDATA", appdata.path())
        .args(["config", "path"]));
    assert!(path.status.success(), "{}", describe(&path));
    assert_eq!(text(&path.stdout).trim(), config.display().to_string());
    let check = run(agentry()
        .env("APPDATA", appdata.path())
        .args(["config", "check"]));
    assert!(check.status.success(), "{}", describe(&check));
    assert_eq!(
        text(&check.stdout).trim(),
        "config OK: 1 key",
        "{}",
        describe(&check)
    );

    let agent = Foreground::start(|c| {
        c.env("APPDATA", appdata.path());
    });
    let listed = agent.public_keys();
    assert!(
        listed.contains(&public_key_of("keys/ecdsa-p256.pub")),
        "{listed}"
    );
}

#[test]
fn an_encrypted_key_is_listed_at_once_and_decrypted_through_the_dialog_on_first_use() {
    use agentry_platform::windows::prompt::{
        answer_passphrase_dialog, passphrase_caption, passphrase_dialog_open,
    };
    let dir = tempfile::tempdir().unwrap();
    let key = private_copy(dir.path(), "keys/ed25519-encrypted");
    private_copy(dir.path(), "keys/ed25519-encrypted.pub");
    let agent = Foreground::start(|_| {});
    let added = agent.client(&["add".as_ref(), "--encrypted".as_ref(), key.as_os_str()]);
    assert!(added.status.success(), "{}", describe(&added));
    let listed = agent.client(&["list".as_ref()]);
    assert!(
        text(&listed.stdout).contains("(encrypted)"),
        "{}",
        describe(&listed)
    );

    // The first signature asks in the agent's dialog; typing the passphrase there signs.
    let caption = passphrase_caption(agent.child.id(), "agentry-test-ed25519-encrypted", 1);
    let typist = std::thread::spawn({
        let caption = caption.clone();
        move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !passphrase_dialog_open(&caption) {
                assert!(Instant::now() < deadline, "no dialog titled {caption:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(answer_passphrase_dialog(&caption, "correct horse"));
        }
    });
    assert_eq!(sign_over(&agent.pipe), SIGN_RESPONSE);
    typist
        .join()
        .expect("the passphrase dialog was shown and answered");
    // Decrypted now: the next signature asks nothing (a second dialog would block it).
    assert_eq!(sign_over(&agent.pipe), SIGN_RESPONSE);
    assert!(!passphrase_dialog_open(&passphrase_caption(
        agent.child.id(),
        "agentry-test-ed25519-encrypted",
        2
    )));
    let listed = agent.client(&["list".as_ref()]);
    assert!(
        !text(&listed.stdout).contains("(encrypted)"),
        "{}",
        describe(&listed)
    );
}

const SIGN_RESPONSE: u8 = 14;

/// Asks the agent at `pipe` to sign with its first key; the reply's message type.
fn sign_over(pipe: &str) -> u8 {
    use agentry_core::proto::{Request, Response, SignRequest};
    use agentry_platform::client::AgentClient;
    let mut client = AgentClient::connect(Path::new(pipe)).expect("connect");
    let key_blob = match client.request(&Request::RequestIdentities).expect("list") {
        Response::Identities(ids) if !ids.is_empty() => ids[0].key_blob.clone(),
        other => panic!("expected identities: {other:?}"),
    };
    let sign = Request::Sign(SignRequest {
        key_blob,
        data: b"deferred decryption test".to_vec(),
        flags: 0,
    });
    client.call(&sign.encode()).expect("sign")[0]
}
