//! The configuration file through the `agentry` binary: `config path` and `config check`
//! (errors that name file, line and column; exit 1), a broken config stopping `agentry start`,
//! and `agentry start -D --config` loading the configured keys before it serves, checked with
//! OpenSSH's own `ssh-add -l` and `ssh-keygen -Y sign` (an encrypted PPK decrypted on first use
//! through the config's askpass program).
#![cfg(unix)]

mod common;

use common::*;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn check(config: &Path) -> Output {
    run(agentry().args(["config", "check", "--config"]).arg(config))
}

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMXBn2TBKP97lFD03sdh/6fMwagywOGeUXHs/SjLmHF0";

#[test]
fn config_path_follows_the_option_the_environment_and_the_default() {
    let home = private_tempdir();
    let path = |cmd: &mut Command| {
        let out = run(cmd
            .args(["config", "path"])
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME"));
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(
        path(&mut agentry()),
        format!("{}/.config/agentry/config.toml\n", home.path().display())
    );
    assert_eq!(
        path(agentry().env("AGENTRY_CONFIG", "/x/env.toml")),
        "/x/env.toml\n"
    );
    assert_eq!(
        path(
            agentry()
                .env("AGENTRY_CONFIG", "/x/env.toml")
                .args(["--config", "/x/opt.toml"])
        ),
        "/x/opt.toml\n"
    );
    // No file at the default place: defaults, fine. A named file that is missing: an error.
    let out = run(agentry()
        .args(["config", "check"])
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("config OK: no file at "),
        "{}",
        text(&out.stdout)
    );
    let out = check(&home.path().join("missing.toml"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("missing.toml: No such file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn config_check_names_the_line_of_every_problem() {
    let dir = private_tempdir();
    let config = write_config(
        dir.path(),
        "[agent]\nlifetime = \"1h\"\n\n[confirm]\nremember = \"5m\"\nforwarded = true\n",
    );
    let out = check(&config);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let want = format!(
        "{}:6:1: unknown field `forwarded`, expected one of",
        config.display()
    );
    assert!(stderr.starts_with(&want), "{stderr}");
    assert!(stderr.contains("1 error in the configuration"), "{stderr}");

    let config = write_config(
        dir.path(),
        "[[key]]\nfile = \"a\"\nkeyring = \"b\"\n\n[[key]]\nkeyring = \"c\"\ndestinations = [\"u@a>b\"]\n",
    );
    let stderr = text(&check(&config).stderr);
    let p = config.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{p}:1:1: a [[key]] takes `file` or `keyring`, not both\n"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{p}:7:17: bad destination \"u@a>b\"")),
        "{stderr}"
    );
    assert!(stderr.contains("2 errors in the configuration"), "{stderr}");

    // Well-formed, but the key file is missing and a host is not in known_hosts.
    std::fs::write(dir.path().join("known_hosts"), format!("bastion {KEY}\n")).unwrap();
    let config = write_config(
        dir.path(),
        "[agent]\nknown_hosts = [\"known_hosts\"]\n\n[[key]]\nfile = \"gone\"\n\n[[key]]\nkeyring = \"k\"\ndestinations = [\"bastion\", \"bastion>elsewhere\"]\n",
    );
    let out = check(&config);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let gone = dir.path().join("gone");
    assert!(
        stderr.contains(&format!("{p}:4:1: {}: No such file", gone.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{p}:9:28: no host keys found in known_hosts for \"elsewhere\""
        )),
        "{stderr}"
    );
}

#[test]
fn config_check_accepts_keyring_entries_with_known_destinations() {
    let dir = private_tempdir();
    std::fs::write(dir.path().join("hosts"), format!("bastion,inner {KEY}\n")).unwrap();
    let config = write_config(
        dir.path(),
        "[agent]\nknown_hosts = [\"hosts\"]\n\n[[key]]\nkeyring = \"work\"\nconfirm = true\nlifetime = \"8h\"\ndestinations = [\"bastion\", \"bastion>me@inner\"]\n",
    );
    let out = check(&config);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "config OK: 1 key\n");
}

/// Needs the key-file formats (OpenSSH, PPK) in `agentry_core::keyfile`.
#[test]
fn config_check_reads_key_files_without_decrypting() {
    let dir = private_tempdir();
    fixture_key(dir.path(), "ecdsa-p256");
    fixture_key(dir.path(), "ppk/ed25519-encrypted.ppk");
    fixture_key(dir.path(), "rsa-2048-encrypted");
    let config = write_config(
        dir.path(),
        "[[key]]\nfile = \"ecdsa-p256\"\n\n[[key]]\nfile = \"ed25519-encrypted.ppk\"\nencrypted = true\n\n[[key]]\nfile = \"rsa-2048-encrypted\"\n",
    );
    // No askpass anywhere: nothing may be asked, and the encrypted keys are said to need a
    // prompt the agent started here would not have.
    let out = check(&config);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(text(&out.stdout), "config OK: 3 keys\n");
    assert!(
        stderr.contains(&format!("{}:8:1: warning: ", config.display()))
            && stderr.contains("rsa-2048-encrypted: an encrypted key needs a prompt"),
        "{stderr}"
    );
    // With one, the key not marked `encrypted = true` is said to be held encrypted.
    let yes = script(&dir.path().join("yes"), "exit 0");
    let out = run(agentry()
        .args(["config", "check", "--config"])
        .arg(&config)
        .env("SSH_ASKPASS", &yes)
        .env("SSH_ASKPASS_REQUIRE", "force"));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.starts_with(&format!("{}:8:1: warning: ", config.display()))
            && stderr.contains("is encrypted")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    // A public key is not a private key.
    let config = write_config(dir.path(), "[[key]]\nfile = \"ecdsa-p256.pub\"\n");
    let out = check(&config);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(&format!("{}:1:1: ", config.display())),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn start_refuses_a_broken_config_and_names_the_line() {
    let dir = private_tempdir();
    let config = write_config(dir.path(), "[agent]\nlifetime = \"soon\"\n");
    let socket = dir.path().join("agent.sock");
    let out = run(agentry()
        .args(["start", "-D", "-a"])
        .arg(&socket)
        .arg("--config")
        .arg(&config));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "{}:2:12: \"soon\" is not a lifetime",
            config.display()
        )),
        "{stderr}"
    );
    assert!(!socket.exists());
}

/// `agentry start -D --config FILE` in the foreground; stopped (by its pid) on drop.
struct Foreground {
    child: Option<Child>,
    socket: PathBuf,
}

impl Foreground {
    fn start(config: &Path, env: &[(&str, &Path)]) -> Self {
        let mut command = agentry();
        command
            .args(["start", "-D", "-s", "--config"])
            .arg(config)
            .env("AGENTRY_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start agentry");
        let stdout = child.stdout.take().unwrap();
        // Guarded before the first line is read: an agent that prints none is still stopped.
        let mut agent = Self {
            socket: PathBuf::new(),
            child: Some(child),
        };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let socket = line
            .strip_prefix("SSH_AUTH_SOCK=")
            .and_then(|l| l.split(';').next())
            .unwrap_or_else(|| panic!("no socket line: {line:?}"));
        agent.socket = PathBuf::from(socket);
        agent
    }

    fn ssh(&self, tool: &str) -> Command {
        let mut command = Command::new(tool);
        command
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null());
        command
    }

    /// Stops the agent and returns what it logged.
    fn stop(mut self) -> String {
        let child = self.child.take().unwrap();
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        text(&child.wait_with_output().unwrap().stderr)
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn fingerprint(pub_file: &Path) -> String {
    let out = run(Command::new("ssh-keygen").arg("-lf").arg(pub_file));
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

#[test]
fn start_without_usable_keys_reports_each_with_its_line_and_serves() {
    let dir = private_tempdir();
    let socket = dir.path().join("agent.sock");
    let config = write_config(
        dir.path(),
        &format!(
            "[agent]\nsocket = \"{}\"\n\n[[key]]\nfile = \"gone\"\n\n[[key]]\nkeyring = \"work\"\n",
            socket.display()
        ),
    );
    let agent = Foreground::start(&config, &[]);
    assert_eq!(agent.socket, socket, "the socket the config names");
    let out = run(agent.ssh("ssh-add").arg("-l"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("no identities"),
        "{}",
        text(&out.stdout)
    );
    let log = agent.stop();
    let p = config.display();
    assert!(
        log.contains(&format!("{p}:4:1: ")) && log.contains("gone: No such file"),
        "{log}"
    );
    assert!(
        // What the keyring says depends on the session (no Secret Service here, or no such
        // entry): the line and the entry's name are what must be there.
        log.contains(&format!("{p}:7:1: keyring entry \"work\": ")),
        "{log}"
    );
}

/// Needs the key-file formats (OpenSSH, PPK) in `agentry_core::keyfile`.
#[test]
fn start_loads_configured_keys_and_decrypts_the_encrypted_one_on_first_use() {
    let dir = private_tempdir();
    let ecdsa = fixture_key(dir.path(), "ecdsa-p256");
    fixture_key(dir.path(), "ppk/ed25519-encrypted.ppk");
    let ed25519_pub = fixture_key(dir.path(), "ed25519.pub");
    // A certificate for the same key next to the encrypted file, as OpenSSH names them.
    let ed25519_cert = dir.path().join("ed25519-encrypted.ppk-cert.pub");
    std::fs::copy(fixtures().join("ed25519-cert.pub"), &ed25519_cert).unwrap();
    let asked = dir.path().join("asked");
    let question = dir.path().join("question");
    let askpass = dir.path().join("askpass.sh");
    std::fs::write(
        &askpass,
        format!(
            "#!/bin/sh\necho called >> '{}'\nprintf '%s' \"$1\" > '{}'\necho 'correct horse'\n",
            asked.display(),
            question.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = write_config(
        dir.path(),
        "[prompts]\naskpass = \"askpass.sh\"\n\n[[key]]\nfile = \"ecdsa-p256\"\n\n[[key]]\nfile = \"ed25519-encrypted.ppk\"\nencrypted = true\n\n[[key]]\nfile = \"missing\"\n",
    );
    let agent = Foreground::start(&config, &[]);
    let out = run(agent.ssh("ssh-add").arg("-l"));
    let listed = text(&out.stdout);
    assert!(out.status.success(), "{listed}{}", text(&out.stderr));
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "key, its certificate, encrypted key and its certificate: {listed}"
    );
    let ecdsa_fp = fingerprint(&ecdsa.with_extension("pub"));
    assert!(
        lines[0].contains(&ecdsa_fp) && lines[0].ends_with("(ECDSA)"),
        "{listed}"
    );
    assert!(
        lines[1].contains(&ecdsa_fp) && lines[1].ends_with("(ECDSA-CERT)"),
        "{listed}"
    );
    assert!(
        lines[2].contains(&fingerprint(&ed25519_pub)) && lines[2].ends_with("(ED25519)"),
        "{listed}"
    );
    assert!(
        lines[3].contains(&fingerprint(&ed25519_pub)) && lines[3].ends_with("(ED25519-CERT)"),
        "{listed}"
    );
    assert!(!asked.exists(), "nothing asked before first use");

    // First use: ssh-keygen signs through the agent, which asks the config's askpass once.
    let data = dir.path().join("data");
    std::fs::write(&data, b"signed by a key from config.toml").unwrap();
    let out = run(agent
        .ssh("ssh-keygen")
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(&ed25519_pub)
        .arg(&data));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sig = std::fs::read_to_string(dir.path().join("data.sig")).unwrap();
    assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----"), "{sig}");
    // The certificate was decrypted with its key: no second question.
    std::fs::remove_file(dir.path().join("data.sig")).unwrap();
    let out = run(agent
        .ssh("ssh-keygen")
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(&ed25519_cert)
        .arg(&data));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        dir.path().join("data.sig").exists(),
        "not signed as the certificate"
    );
    let calls = std::fs::read_to_string(&asked).unwrap();
    assert_eq!(calls, "called\n", "asked once");
    let question = std::fs::read_to_string(&question).unwrap();
    assert!(
        question.contains("agentry-test-ed25519-encrypted"),
        "{question}"
    );
    let log = agent.stop();
    assert!(
        log.contains(&format!("{}:11:1: ", config.display()))
            && log.contains("missing: No such file"),
        "{log}"
    );
}

#[test]
fn background_start_shows_the_key_problems_its_agent_would_only_log() {
    let dir = private_tempdir();
    let config = write_config(
        dir.path(),
        "[agent]\nsocket = \"agent.sock\"\n\n[[key]]\nkeyring = \"k\"\nconfirm = true\n\n[[key]]\nfile = \"gone\"\n",
    );
    let out = run(agentry().args(["start", "-s", "--config"]).arg(&config));
    let stdout = text(&out.stdout);
    let pid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SSH_AGENT_PID=")?.split(';').next())
        .unwrap_or_else(|| panic!("not started: {stdout}{}", text(&out.stderr)))
        .to_owned();
    /// Stops the background agent however the test ends.
    struct Stop(String);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = run(agentry().args(["stop", "-s"]).env("SSH_AGENT_PID", &self.0));
        }
    }
    let _stop = Stop(pid);
    let socket = dir.path().join("agent.sock");
    assert!(
        stdout.starts_with(&format!("SSH_AUTH_SOCK={};", socket.display())),
        "socket from the config, relative to it: {stdout}"
    );
    let p = config.display();
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(&format!(
            "agentry: {p}:4:1: keyring entry \"k\": `confirm = true` needs a prompt"
        )),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(&format!("agentry: {p}:8:1: "))
            && lines[1].contains("gone: No such file"),
        "{stderr}"
    );
    let listed = run(Command::new("ssh-add")
        .arg("-l")
        .env("SSH_AUTH_SOCK", &socket));
    assert_eq!(listed.status.code(), Some(1), "{}", text(&listed.stdout));
}
