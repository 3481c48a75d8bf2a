//! Deferred decryption end to end, through real peers: PuTTY's `pageant` (client mode) adds an
//! encrypted PPK file to a running `agentry`, which lists it at once without a prompt; the first
//! signature (`ssh-keygen -Y sign`) asks the passphrase through `SSH_ASKPASS`, once; `pageant -l`
//! shows the key's state, and `pageant -r` / `agentry reencrypt` make it ask again. OpenSSH
//! files go through `agentry add --encrypted`; a wrong passphrase is retried.
#![cfg(unix)]

mod common;

use common::*;
use std::path::{Path, PathBuf};

const PASSPHRASE: &str = "correct horse";

/// An askpass that answers with the lines of `answers` in turn (the last one repeats) and
/// appends each question to `DIR/asked`.
fn askpass(dir: &Path, answers: &[&str]) -> PathBuf {
    std::fs::write(dir.join("answers"), answers.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("count"), "0").unwrap();
    let d = dir.display();
    script(
        &dir.join("askpass"),
        &format!(
            r#"printf '%s\n---\n' "$1" >> '{d}/asked'
n=$(cat '{d}/count'); n=$((n+1)); echo $n > '{d}/count'
total=$(wc -l < '{d}/answers')
[ $n -gt $total ] && n=$total
sed -n "${{n}}p" '{d}/answers'"#
        ),
    )
}

fn questions(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("asked"))
        .unwrap_or_default()
        .split("---\n")
        .filter(|q| !q.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn start(dir: &Path, answers: &[&str]) -> ForegroundAgent {
    let askpass = askpass(dir, answers);
    ForegroundAgent::start(&dir.join("agent.sock"), |c| {
        c.env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force");
    })
}

/// `ssh-keygen -Y sign` with the agent, then `-Y verify` of the result.
fn sign_and_verify(agent: &ForegroundAgent, dir: &Path, public: &Path) -> bool {
    let data = dir.join("data");
    std::fs::write(&data, b"signed through a deferred key").unwrap();
    let _ = std::fs::remove_file(dir.join("data.sig"));
    let signed = run(agent
        .client("ssh-keygen")
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(public)
        .arg(&data));
    if !signed.status.success() {
        return false;
    }
    let key = std::fs::read_to_string(public).unwrap();
    let allowed = dir.join("allowed");
    std::fs::write(&allowed, format!("tester {key}")).unwrap();
    let verified = run(std::process::Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "file", "-I", "tester", "-f"])
        .arg(&allowed)
        .arg("-s")
        .arg(dir.join("data.sig"))
        .stdin(std::fs::File::open(&data).unwrap()));
    assert!(verified.status.success(), "{}", describe(&verified));
    true
}

#[test]
fn pageant_adds_an_encrypted_ppk_that_asks_once_on_first_use() {
    let dir = private_tempdir();
    let agent = start(dir.path(), &[PASSPHRASE]);
    let ppk = fixture_key(dir.path(), "ppk/ed25519-encrypted.ppk");
    let public = fixture_key(dir.path(), "ed25519.pub");

    let added = run(agent
        .client("pageant")
        .args(["-a", "--encrypted"])
        .arg(&ppk));
    assert!(added.status.success(), "{}", describe(&added));
    let listed = run(agent.client("pageant").arg("-l"));
    assert!(
        text(&listed.stdout).contains("(encrypted)"),
        "{}",
        describe(&listed)
    );
    let ours = run(agent.agentry().arg("list"));
    assert!(
        text(&ours.stdout).contains("(encrypted)"),
        "{}",
        describe(&ours)
    );
    assert!(
        questions(dir.path()).is_empty(),
        "adding asked: {:?}",
        questions(dir.path())
    );

    assert!(sign_and_verify(&agent, dir.path(), &public));
    assert!(sign_and_verify(&agent, dir.path(), &public));
    let asked = questions(dir.path());
    assert_eq!(asked.len(), 1, "asked {asked:?}");
    let fingerprint = ssh_fingerprint(&public);
    assert!(
        asked[0].contains(&fingerprint),
        "{asked:?} lacks {fingerprint}"
    );
    let listed = run(agent.client("pageant").arg("-l"));
    assert!(
        text(&listed.stdout).contains("(re-encryptable)"),
        "{}",
        describe(&listed)
    );

    // pageant -r forgets the cleartext; the next use asks again.
    let reencrypted = run(agent.client("pageant").arg("-r").arg(&fingerprint));
    assert!(reencrypted.status.success(), "{}", describe(&reencrypted));
    assert!(text(&run(agent.client("pageant").arg("-l")).stdout).contains("(encrypted)"));
    assert!(sign_and_verify(&agent, dir.path(), &public));
    assert_eq!(questions(dir.path()).len(), 2);
}

#[test]
fn openssh_file_added_encrypted_retries_a_wrong_passphrase() {
    let dir = private_tempdir();
    let agent = start(dir.path(), &["wrong", PASSPHRASE]);
    let key = fixture_key(dir.path(), "ed25519-encrypted");
    let added = run(agent.agentry().args(["add", "--encrypted"]).arg(&key));
    assert!(added.status.success(), "{}", describe(&added));
    assert!(
        text(&added.stderr).contains("encrypted until first use"),
        "{}",
        describe(&added)
    );
    let listed = run(agent.client("ssh-add").arg("-l"));
    assert!(listed.status.success(), "{}", describe(&listed));
    assert!(questions(dir.path()).is_empty());

    let public = dir.path().join("ed25519-encrypted.pub");
    assert!(sign_and_verify(&agent, dir.path(), &public));
    let asked = questions(dir.path());
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[1].contains("Incorrect passphrase"), "{asked:?}");

    let again = run(agent.agentry().args(["reencrypt", "--all"]));
    assert!(again.status.success(), "{}", describe(&again));
    assert!(text(&run(agent.agentry().arg("list")).stdout).contains("(encrypted)"));
}

#[test]
fn cancelled_passphrase_fails_that_signature_and_the_key_stays() {
    let dir = private_tempdir();
    let askpass = script(
        &dir.path().join("cancel"),
        &format!(
            r#"printf '%s\n---\n' "$1" >> '{}/asked'; exit 1"#,
            dir.path().display()
        ),
    );
    let agent = ForegroundAgent::start(&dir.path().join("agent.sock"), |c| {
        c.env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force");
    });
    let key = fixture_key(dir.path(), "ed25519-encrypted");
    assert!(run(agent.agentry().args(["add", "--encrypted"]).arg(&key))
        .status
        .success());
    let public = dir.path().join("ed25519-encrypted.pub");
    assert!(
        !sign_and_verify(&agent, dir.path(), &public),
        "signed without a passphrase"
    );
    // The refusal came from the cancelled question, asked once (not retried after a cancel).
    let asked = questions(dir.path());
    assert_eq!(asked.len(), 1, "asked {asked:?}");
    let fingerprint = ssh_fingerprint(&public);
    assert!(
        asked[0].contains(&fingerprint),
        "{asked:?} lacks {fingerprint}"
    );
    let listed = run(agent.client("ssh-add").arg("-l"));
    assert!(
        listed.status.success(),
        "key gone after a cancelled prompt: {}",
        describe(&listed)
    );
}

fn ssh_fingerprint(public: &Path) -> String {
    let out = run(std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public));
    text(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_owned()
}

/// `agentry start -D --tty-prompts` asks the passphrase on its terminal (a pseudo-terminal from
/// util-linux's `script` here): the question appears there, the typed answer decrypts the key.
#[test]
fn terminal_prompt_in_the_foreground_decrypts_on_first_use() {
    use std::io::{Read, Write};
    let dir = private_tempdir();
    let socket = dir.path().join("agent.sock");
    let command = format!(
        "exec '{}' start -D --tty-prompts -a '{}'",
        env!("CARGO_BIN_EXE_agentry"),
        socket.display()
    );
    let mut terminal = KillOnDrop(
        std::process::Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .envs(agentry_tests::tools::no_user_config())
            .env_remove("SSH_ASKPASS")
            .env_remove("DISPLAY")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("script (util-linux) runs the agent on a pseudo-terminal"),
    );
    wait_for_agent(&socket);
    // The agent, on the terminal `script` holds, stops on SIGHUP when `script` is killed.
    let agent = ForegroundAgent::attach(&socket);
    let key = fixture_key(dir.path(), "ed25519-encrypted");
    assert!(run(agent.agentry().args(["add", "--encrypted"]).arg(&key))
        .status
        .success());

    // Read the terminal until the question shows, then type the passphrase.
    let mut screen = terminal.0.stdout.take().unwrap();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut shown = String::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = screen.read(&mut buf) {
            if n == 0 {
                break;
            }
            shown.push_str(&String::from_utf8_lossy(&buf[..n]));
            if shown.contains("Passphrase:") {
                let _ = seen_tx.send(shown.clone());
            }
        }
    });
    let public = dir.path().join("ed25519-encrypted.pub");
    let signer = std::thread::spawn({
        let dir = dir.path().to_owned();
        let socket = socket.clone();
        move || sign_and_verify(&ForegroundAgent::attach(&socket), &dir, &public)
    });
    let shown = seen_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("no passphrase question on the terminal");
    writeln!(terminal.0.stdin.as_mut().unwrap(), "{PASSPHRASE}").unwrap();
    let signed = signer.join().unwrap();
    drop(terminal);
    assert!(shown.contains("Enter passphrase to decrypt key"), "{shown}");
    assert!(
        !shown.contains(PASSPHRASE),
        "the passphrase was echoed: {shown}"
    );
    assert!(signed, "no signature after the passphrase was typed");
}

#[test]
fn certificate_next_to_an_encrypted_key_is_added_and_decrypted_with_it() {
    let dir = private_tempdir();
    let agent = start(dir.path(), &[PASSPHRASE]);
    let key = fixture_key(dir.path(), "ed25519-encrypted");
    let ca = fixture_key(dir.path(), "ca-ed25519");
    let certified = run(std::process::Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca)
        .args(["-I", "deferred-cert", "-n", "alice"])
        .arg(key.with_extension("pub")));
    assert!(certified.status.success(), "{}", describe(&certified));
    let cert = dir.path().join("ed25519-encrypted-cert.pub");

    let added = run(agent.agentry().args(["add", "--encrypted"]).arg(&key));
    assert!(added.status.success(), "{}", describe(&added));
    assert!(
        text(&added.stderr).contains(&format!(
            "Certificate added, encrypted until first use: {} (deferred-cert)",
            cert.display()
        )),
        "{}",
        describe(&added)
    );
    let listed = text(&run(agent.client("ssh-add").arg("-l")).stdout);
    assert!(
        listed.contains("(ED25519)") && listed.contains("(ED25519-CERT)"),
        "{listed}"
    );
    assert!(questions(dir.path()).is_empty());

    // Sign as the certificate: one question; verified against the CA as a signer.
    let data = dir.path().join("data");
    std::fs::write(&data, b"signed with a deferred certificate").unwrap();
    let signed = run(agent
        .client("ssh-keygen")
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(&cert)
        .arg(&data));
    assert!(signed.status.success(), "{}", describe(&signed));
    let ca_public = std::fs::read_to_string(ca.with_extension("pub")).unwrap();
    let allowed = dir.path().join("allowed");
    std::fs::write(&allowed, format!("alice cert-authority {ca_public}")).unwrap();
    let verified = run(std::process::Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "file", "-I", "alice", "-f"])
        .arg(&allowed)
        .arg("-s")
        .arg(dir.path().join("data.sig"))
        .stdin(std::fs::File::open(&data).unwrap()));
    assert!(verified.status.success(), "{}", describe(&verified));
    assert_eq!(questions(dir.path()).len(), 1);

    // The key itself was decrypted with it.
    assert!(sign_and_verify(
        &agent,
        dir.path(),
        &key.with_extension("pub")
    ));
    assert_eq!(questions(dir.path()).len(), 1, "the key asked again");
}

#[test]
fn encrypted_pkcs8_file_is_held_by_its_pub_and_reencrypted_by_fingerprint() {
    let dir = private_tempdir();
    let agent = start(dir.path(), &[PASSPHRASE]);
    // An openssl PKCS#8 file (PBES2 with scrypt) does not show its public key: FILE.pub does.
    let key = fixture_key(dir.path(), "../keyfiles/openssl-rsa-2048-pkcs8-scrypt");
    let public = dir.path().join(format!(
        "{}.pub",
        key.file_name().unwrap().to_str().unwrap()
    ));
    let added = run(agent.agentry().args(["add", "--encrypted"]).arg(&key));
    assert!(added.status.success(), "{}", describe(&added));
    assert!(questions(dir.path()).is_empty());
    assert!(sign_and_verify(&agent, dir.path(), &public));
    assert_eq!(questions(dir.path()).len(), 1);

    let fingerprint = ssh_fingerprint(&public);
    let again = run(agent.agentry().args(["reencrypt", &fingerprint]));
    assert!(again.status.success(), "{}", describe(&again));
    assert!(sign_and_verify(&agent, dir.path(), &public));
    assert_eq!(
        questions(dir.path()).len(),
        2,
        "asked again after reencrypt"
    );
    let unknown = run(agent.agentry().args([
        "reencrypt",
        "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ]));
    assert_eq!(unknown.status.code(), Some(1), "{}", describe(&unknown));
}

#[test]
fn encrypted_files_with_a_wrong_or_missing_companion_are_refused_or_warned() {
    let dir = private_tempdir();
    let agent = start(dir.path(), &[PASSPHRASE]);
    let pem = fixture_key(dir.path(), "../keyfiles/pem-rsa-2048-aes128");
    let pem_pub = dir.path().join("pem-rsa-2048-aes128.pub");

    // No FILE.pub: an encrypted PEM file cannot be listed before it is decrypted.
    std::fs::rename(&pem_pub, dir.path().join("aside.pub")).unwrap();
    let missing = run(agent.agentry().args(["add", "--encrypted"]).arg(&pem));
    assert_eq!(missing.status.code(), Some(1), "{}", describe(&missing));
    assert!(
        text(&missing.stderr).contains("does not show its public key"),
        "{}",
        describe(&missing)
    );

    // A FILE.pub for another key than the one an OpenSSH file shows. (An encrypted PEM file
    // shows none: there a wrong FILE.pub is found at first use, when the decrypted key does
    // not match and the signature is refused.)
    let openssh = fixture_key(dir.path(), "../keyfiles/openssh-ed25519-aes256ctr");
    std::fs::copy(
        fixtures().join("rsa-2048.pub"),
        dir.path().join("openssh-ed25519-aes256ctr.pub"),
    )
    .unwrap();
    let other = run(agent.agentry().args(["add", "--encrypted"]).arg(&openssh));
    assert_eq!(other.status.code(), Some(1), "{}", describe(&other));
    assert!(
        text(&other.stderr).contains("its .pub file is for another key"),
        "{}",
        describe(&other)
    );
    let listed = run(agent.client("ssh-add").arg("-l"));
    assert_eq!(
        listed.status.code(),
        Some(1),
        "nothing added: {}",
        describe(&listed)
    );

    // A certificate for another key next to an OpenSSH file: the key is added, the
    // certificate is not, with one line saying why.
    let key = fixture_key(dir.path(), "ed25519-encrypted");
    std::fs::copy(
        fixtures().join("ecdsa-p256-cert.pub"),
        dir.path().join("ed25519-encrypted-cert.pub"),
    )
    .unwrap();
    let added = run(agent.agentry().args(["add", "--encrypted"]).arg(&key));
    assert!(added.status.success(), "{}", describe(&added));
    assert!(
        text(&added.stderr).contains("the certificate is not for the key"),
        "{}",
        describe(&added)
    );
    let listed = text(&run(agent.client("ssh-add").arg("-l")).stdout);
    assert_eq!(listed.lines().count(), 1, "{listed}");
}
