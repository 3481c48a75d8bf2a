//! `agentry add` with every key-file format the real tools write (tests/fixtures/keyfiles: OpenSSH
//! with each cipher, PEM, PKCS#8, OpenSSL's traditional encryption), into a running `agentry`
//! daemon; then OpenSSH's `ssh-keygen -Y sign` signs through the agent and `ssh-keygen -Y verify`
//! accepts the signature. Also: the passphrase retry, a wrong passphrase, a public key given
//! instead, and OpenSSH's refusal of a key file others can read.
#![cfg(unix)]

use agentry_tests::tools::{run_with_input, ssh_keygen_verify};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Encrypted fixtures are named with their cipher; these are not.
const UNENCRYPTED: &[&str] = &[
    "openssh-ed25519",
    "openssh-ecdsa-p256-short-scalar",
    "pem-ecdsa-p521",
    "pkcs8-rsa-2048",
    "openssl-ed25519",
    "openssl-ec-p521-params",
];

/// One of each format and cipher family (all of them are read by core's own tests).
const ENCRYPTED: &[&str] = &[
    "openssh-ed25519-aes256ctr",
    "openssh-ed25519-chacha20",
    "openssh-ecdsa-p256-aes128gcm",
    "openssh-rsa-3072-aes256gcm",
    "pem-rsa-2048-aes128",
    "pem-ecdsa-p384-aes128",
    "pkcs8-ecdsa-p256-enc",
    "openssl-ed25519-aes256",
    "openssl-rsa-2048-pkcs8-sha1",
    "openssl-rsa-2048-pkcs8-scrypt",
    "openssl-rsa-2048-trad-des3",
    "openssl-ec-p256-trad-aes192",
];

fn tool(name: &str) -> PathBuf {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("this test needs `{name}`: install openssh-client"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn private_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap()
}

/// Copies fixture `name` and its `.pub` into `dir`, the private key with `mode`.
fn fixture(dir: &Path, name: &str, mode: u32) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/keyfiles");
    for (suffix, mode) in [("", mode), (".pub", 0o644)] {
        let to = dir.join(format!("{name}{suffix}"));
        std::fs::copy(from.join(format!("{name}{suffix}")), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    dir.join(name)
}

/// An `agentry start -s` daemon on a socket in a private directory, stopped (by the pid it
/// printed) on drop.
struct Daemon {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    /// From `start -s`'s `SSH_AGENT_PID=` line: `stop` needs it.
    pid: String,
}

impl Daemon {
    fn start() -> Self {
        let dir = private_tempdir();
        let socket = dir.path().join("agent.sock");
        let out = agentry_tests::tools::without_user_config(&mut Command::new(env!(
            "CARGO_BIN_EXE_agentry"
        )))
        .args(["start", "-s", "-a"])
        .arg(&socket)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SSH_AGENT_PID")
        .stdin(Stdio::null())
        .output()
        .unwrap();
        assert!(out.status.success(), "start: {}", describe(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let pid = stdout
            .lines()
            .find_map(|l| l.strip_prefix("SSH_AGENT_PID=")?.split(';').next())
            .unwrap_or_else(|| panic!("no SSH_AGENT_PID line in {stdout:?}"))
            .to_owned();
        Self {
            _dir: dir,
            socket,
            pid,
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env("SSH_AUTH_SOCK", &self.socket)
            .env_remove("SSH_AGENT_PID")
            .env_remove("SSH_ASKPASS")
            .env_remove("DISPLAY")
            .stdin(Stdio::null());
        command
    }

    fn agentry(&self) -> Command {
        self.command(Path::new(env!("CARGO_BIN_EXE_agentry")))
    }

    /// `agentry add FILE` with `input` on standard input (passphrases, one a line).
    fn add(&self, file: &Path, input: &str) -> Output {
        run_with_input(self.agentry().arg("add").arg(file), input)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Without SSH_AGENT_PID, stop refuses (and the daemon outlived every run).
        let _ = self
            .agentry()
            .args(["stop", "-s"])
            .env("SSH_AGENT_PID", &self.pid)
            .output();
    }
}

/// `ssh-keygen -Y sign` with the key in the agent, then `ssh-keygen -Y verify`.
fn sign_and_verify(daemon: &Daemon, dir: &Path, name: &str) -> Result<(), String> {
    let keygen = tool("ssh-keygen");
    let public = dir.join(format!("{name}.pub"));
    let message = dir.join(format!("{name}.msg"));
    std::fs::write(&message, format!("signed with {name} through agentry\n")).unwrap();
    let signed = daemon
        .command(&keygen)
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(&public)
        .arg(&message)
        .output()
        .unwrap();
    if !signed.status.success() {
        return Err(format!("sign: {}", describe(&signed)));
    }
    let signers = dir.join(format!("{name}.signers"));
    let verified = ssh_keygen_verify(&keygen, &public, &message, &signers);
    match verified.status.success() {
        true => Ok(()),
        false => Err(format!("verify: {}", describe(&verified))),
    }
}

#[test]
fn every_format_is_added_and_signs_for_ssh_keygen() {
    let daemon = Daemon::start();
    let dir = private_tempdir();
    for (names, input) in [(UNENCRYPTED, ""), (ENCRYPTED, "correct horse\n")] {
        for name in names {
            let key = fixture(dir.path(), name, 0o600);
            let added = daemon.add(&key, input);
            assert!(added.status.success(), "{name}: {}", describe(&added));
            let err = text(&added.stderr);
            assert!(err.contains("Identity added: "), "{name}: {err}");
            sign_and_verify(&daemon, dir.path(), name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    // PEM and PKCS#8 hold no comment: the key is named by its file, as ssh-add names it.
    let listed = daemon.agentry().arg("list").output().unwrap();
    let listing = text(&listed.stdout);
    let pem = dir.path().join("pem-ecdsa-p521");
    assert!(
        listing.contains(&format!(" {} (ECDSA)", pem.display())),
        "{listing}"
    );
    assert!(
        listing.contains(" agentry-test-openssh-ed25519 (ED25519)"),
        "{listing}"
    );
    assert_eq!(listing.lines().count(), UNENCRYPTED.len() + ENCRYPTED.len());
}

#[test]
fn passphrase_is_asked_again_then_refused_after_three_tries() {
    let daemon = Daemon::start();
    let dir = private_tempdir();
    let key = fixture(dir.path(), "openssh-ed25519-aes256ctr", 0o600);
    let added = daemon.add(&key, "wrong\ncorrect horse\n");
    assert!(added.status.success(), "{}", describe(&added));

    let key = fixture(dir.path(), "pkcs8-rsa-2048-enc", 0o600);
    let refused = daemon.add(&key, "one\ntwo\nthree\ncorrect horse\n");
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let err = text(&refused.stderr);
    assert!(
        err.contains(&format!("{}: incorrect passphrase", key.display())),
        "{err}"
    );
    // An empty answer gives up at once, as with ssh-add.
    let refused = daemon.add(&key, "\ncorrect horse\n");
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let listed = daemon.agentry().arg("list").output().unwrap();
    assert_eq!(text(&listed.stdout).lines().count(), 1);
}

#[test]
fn public_key_given_instead_is_refused_by_name() {
    let daemon = Daemon::start();
    let dir = private_tempdir();
    let key = fixture(dir.path(), "openssh-ecdsa-p256", 0o600);
    let public = dir.path().join("openssh-ecdsa-p256.pub");
    assert!(key.exists());
    let refused = daemon.add(&public, "");
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        text(&refused.stderr).trim(),
        format!(
            "agentry: {}: is a public key; give the private key file",
            public.display()
        )
    );
}

#[test]
fn key_file_others_can_read_is_refused_with_openssh_warning() {
    let daemon = Daemon::start();
    let dir = private_tempdir();
    let key = fixture(dir.path(), "openssh-ed25519", 0o644);
    let refused = daemon.add(&key, "");
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let name = key.display();
    let expected = format!(
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
Permissions 0644 for '{name}' are too open.
It is required that your private key files are NOT accessible by others.
This private key will be ignored.
agentry: {name}: mode 0644 is too open (others may read it); `chmod 600 {name}` and add it again
"
    );
    assert_eq!(text(&refused.stderr), expected);
    // ssh-add says the same about the same file.
    let ssh_add = daemon.command(&tool("ssh-add")).arg(&key).output().unwrap();
    let theirs = text(&ssh_add.stderr);
    for line in expected.lines().take(6) {
        assert!(theirs.contains(line), "ssh-add said: {theirs}");
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(daemon.add(&key, "").status.success());
}
