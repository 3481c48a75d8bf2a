//! PuTTY PPK v2/v3 files written by the real `puttygen` (tests/fixtures/keyfiles/make-ppk.sh,
//! and fresh ones made at test time) parse, show the public key `puttygen -L` prints before any
//! passphrase is given, decrypt to keys that sign verifiably, and refuse wrong passphrases,
//! tampering, truncation, unknown versions, ciphers and KDFs, and over-limit Argon2 parameters.

use agentry_core::keyfile::{KdfLimits, KeyFile, KeyFileError, KeyFormat};
use agentry_core::keys::{verify_signature, SigningKey};
use agentry_core::proto::SIGN_FLAG_RSA_SHA2_256;
use ssh_encoding::Encode;
use std::path::PathBuf;

const PASSPHRASE: &[u8] = b"correct horse";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/keyfiles/ppk")
}

/// Every `.ppk` fixture: (file name, key name, bytes).
fn fixtures() -> Vec<(String, String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir())
        .expect("fixture directory")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".ppk"))
        .map(|name| {
            let key = name.split("-v").next().unwrap().to_owned();
            let bytes = std::fs::read(dir().join(&name)).unwrap();
            (name, key, bytes)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 23, "only {} PPK fixtures", out.len());
    out
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The public blob of an OpenSSH public-key line (`puttygen -L` output).
fn openssh_blob(line: &str) -> Vec<u8> {
    let key = ssh_key::PublicKey::from_openssh(line.trim()).expect("puttygen -L output");
    key.to_bytes().unwrap()
}

fn blob_of(file: &KeyFile) -> Vec<u8> {
    file.public_key()
        .expect("PPK shows its public key")
        .encode_vec()
        .unwrap()
}

/// Decrypts `bytes`, checks the key against `expected_blob` and signs with it.
fn decrypt_and_sign(what: &str, bytes: &[u8], passphrase: &[u8], expected_blob: &[u8]) {
    let file = KeyFile::parse(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    let (key, comment) = file
        .decrypt(passphrase, &KdfLimits::default())
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(comment, file.comment(), "{what}");
    assert_eq!(key.public_blob(), expected_blob, "{what}");
    let signer = SigningKey::new(&key).unwrap_or_else(|e| panic!("{what}: {e}"));
    let data = format!("signed by {what}").into_bytes();
    let sig = signer.sign(&data, SIGN_FLAG_RSA_SHA2_256, false).unwrap();
    assert!(verify_signature(expected_blob, &data, &sig), "{what}");
    assert!(
        !verify_signature(expected_blob, b"other data", &sig),
        "{what}"
    );
}

#[test]
fn every_fixture_shows_the_puttygen_public_key_and_comment_before_decryption() {
    for (name, key, bytes) in fixtures() {
        let file = KeyFile::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(file.format(), KeyFormat::Ppk, "{name}");
        assert_eq!(file.is_encrypted(), name.ends_with("-enc.ppk"), "{name}");
        let pub_line = std::fs::read_to_string(dir().join(format!("{key}.pub"))).unwrap();
        assert_eq!(blob_of(&file), openssh_blob(&pub_line), "{name}");
        assert_eq!(file.comment(), format!("agentry-ppk-{key}"), "{name}");
    }
}

#[test]
fn every_fixture_decrypts_to_a_key_that_signs() {
    for (name, key, bytes) in fixtures() {
        let pub_line = std::fs::read_to_string(dir().join(format!("{key}.pub"))).unwrap();
        decrypt_and_sign(&name, &bytes, PASSPHRASE, &openssh_blob(&pub_line));
    }
}

#[test]
fn wrong_passphrase_is_reported_as_such() {
    for (name, _, bytes) in fixtures().into_iter().filter(|f| f.0.ends_with("-enc.ppk")) {
        let file = KeyFile::parse(&bytes).unwrap();
        for wrong in [&b"correct horsf"[..], b"", b"correct horse "] {
            let got = file.decrypt(wrong, &KdfLimits::default()).map(|_| ());
            assert_eq!(got, Err(KeyFileError::WrongPassphrase), "{name}");
        }
    }
}

#[test]
fn unencrypted_files_ignore_the_passphrase() {
    let bytes = fixture("ed25519-v2.ppk");
    let blob = openssh_blob(&std::fs::read_to_string(dir().join("ed25519.pub")).unwrap());
    decrypt_and_sign("ed25519-v2.ppk", &bytes, b"anything", &blob);
}

#[test]
fn crlf_line_endings_are_read() {
    let bytes = fixture("rsa-2048-v3-enc.ppk");
    let text = String::from_utf8(bytes).unwrap().replace('\n', "\r\n");
    let blob = openssh_blob(&std::fs::read_to_string(dir().join("rsa-2048.pub")).unwrap());
    decrypt_and_sign(
        "CRLF rsa-2048-v3-enc.ppk",
        text.as_bytes(),
        PASSPHRASE,
        &blob,
    );
}

/// Replaces the first line starting with `prefix` by `with`.
fn replace_line(bytes: &[u8], prefix: &str, with: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if !found && l.starts_with(prefix) {
                found = true;
                with.to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(found, "no line starting {prefix:?}");
    (lines.join("\n") + "\n").into_bytes()
}

/// The line after the one starting with `prefix`, with its first base64 character changed.
fn flip_line_after(bytes: &[u8], prefix: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let at = text.find(prefix).unwrap();
    let next = at + text[at..].find('\n').unwrap() + 1;
    let mut out = bytes.to_vec();
    out[next] = if out[next] == b'A' { b'B' } else { b'A' };
    out
}

fn decrypt_err(bytes: &[u8], limits: &KdfLimits) -> KeyFileError {
    match KeyFile::parse(bytes) {
        Err(e) => e,
        Ok(file) => file.decrypt(PASSPHRASE, limits).map(|_| ()).unwrap_err(),
    }
}

#[test]
fn tampering_is_detected() {
    for name in [
        "ed25519-v3.ppk",
        "rsa-2048-v2.ppk",
        "ecdsa-p384-v3-enc.ppk",
        "ecdsa-p521-v2-enc.ppk",
    ] {
        let bytes = fixture(name);
        let encrypted = name.ends_with("-enc.ppk");
        let mac_error = if encrypted {
            KeyFileError::WrongPassphrase
        } else {
            KeyFileError::Malformed("Private-MAC does not match")
        };
        // A flipped MAC byte.
        let text = String::from_utf8(bytes.clone()).unwrap();
        let mac = text
            .lines()
            .find_map(|l| l.strip_prefix("Private-MAC: "))
            .unwrap();
        let flipped = format!(
            "{}{}",
            if mac.starts_with('0') { '1' } else { '0' },
            &mac[1..]
        );
        let tampered = replace_line(&bytes, "Private-MAC:", &format!("Private-MAC: {flipped}"));
        assert_eq!(
            decrypt_err(&tampered, &KdfLimits::default()),
            mac_error,
            "{name}"
        );
        // A changed private byte, public byte, comment.
        let private = flip_line_after(&bytes, "Private-Lines:");
        assert_eq!(
            decrypt_err(&private, &KdfLimits::default()),
            mac_error,
            "{name}"
        );
        let comment = replace_line(&bytes, "Comment:", "Comment: someone else");
        assert_eq!(
            decrypt_err(&comment, &KdfLimits::default()),
            mac_error,
            "{name}"
        );
        // The public key is checked by the MAC too (or, if it no longer parses, at once).
        let public = flip_line_after(&bytes, "Public-Lines:");
        assert!(
            KeyFile::parse(&public)
                .and_then(|f| f.decrypt(PASSPHRASE, &KdfLimits::default()))
                .is_err(),
            "{name}"
        );
    }
}

/// Every single-bit change anywhere in an unencrypted file is an error (the MAC covers the
/// whole file but the trailing newline), and none panics.
#[test]
fn every_bit_flip_in_a_file_is_refused() {
    let bytes = fixture("ecdsa-p256-v3.ppk");
    for i in 0..bytes.len() - 1 {
        for bit in 0..8 {
            let mut bad = bytes.clone();
            bad[i] ^= 1 << bit;
            if bad[i] == b'\r' && bytes[i + 1] == b'\n' {
                continue; // "...\r\n" is the same line ending
            }
            let got = KeyFile::parse(&bad).and_then(|f| f.decrypt(b"", &KdfLimits::default()));
            assert!(got.is_err(), "byte {i} bit {bit} accepted");
        }
    }
}

#[test]
fn truncation_anywhere_is_an_error_not_a_panic() {
    for (name, _, bytes) in fixtures() {
        // Every proper prefix but the one that only drops the final newline.
        for len in 0..bytes.len() - 1 {
            let err = decrypt_err(&bytes[..len], &KdfLimits::default());
            if len > 0 && bytes[len - 1] == b'\n' {
                assert!(
                    matches!(err, KeyFileError::Truncated | KeyFileError::Malformed(_)),
                    "{name} cut at line boundary {len}: {err:?}"
                );
            }
        }
    }
}

#[test]
fn argon2_parameters_over_the_limit_are_refused_before_any_work() {
    let bytes = fixture("ed25519-v3-enc.ppk");
    let mut tiny = KdfLimits::default();
    tiny.max_argon2_memory_kib = 1024;
    assert!(matches!(
        decrypt_err(&bytes, &tiny),
        KeyFileError::KdfLimit(_)
    ));
    let mut tiny = KdfLimits::default();
    tiny.max_argon2_passes = 1;
    assert!(matches!(
        decrypt_err(&bytes, &tiny),
        KeyFileError::KdfLimit(_)
    ));
    // 4 TiB of memory, 4 billion passes, 16 million lanes: refused at once, never attempted.
    for (line, value) in [
        ("Argon2-Memory:", "Argon2-Memory: 4294967295"),
        ("Argon2-Passes:", "Argon2-Passes: 4000000000"),
        ("Argon2-Parallelism:", "Argon2-Parallelism: 16777215"),
    ] {
        let hostile = replace_line(&bytes, line, value);
        let started = std::time::Instant::now();
        let err = decrypt_err(&hostile, &KdfLimits::default());
        assert!(matches!(err, KeyFileError::KdfLimit(_)), "{value}: {err:?}");
        assert!(started.elapsed().as_millis() < 1000, "{value}");
    }
}

#[test]
fn unknown_versions_ciphers_kdfs_and_key_types_are_named() {
    let v3 = fixture("ed25519-v3-enc.ppk");
    let v1 = replace_line(
        &v3,
        "PuTTY-User-Key-File-3:",
        "PuTTY-User-Key-File-1: ssh-ed25519",
    );
    assert!(
        matches!(decrypt_err(&v1, &KdfLimits::default()), KeyFileError::Malformed(m) if m.contains("version"))
    );
    let v4 = replace_line(
        &v3,
        "PuTTY-User-Key-File-3:",
        "PuTTY-User-Key-File-4: ssh-ed25519",
    );
    assert!(
        matches!(decrypt_err(&v4, &KdfLimits::default()), KeyFileError::Malformed(m) if m.contains("version"))
    );
    let cipher = replace_line(&v3, "Encryption:", "Encryption: aes128-ctr");
    assert_eq!(
        decrypt_err(&cipher, &KdfLimits::default()),
        KeyFileError::UnsupportedCipher("aes128-ctr".into())
    );
    let kdf = replace_line(&v3, "Key-Derivation:", "Key-Derivation: scrypt");
    assert_eq!(
        decrypt_err(&kdf, &KdfLimits::default()),
        KeyFileError::UnsupportedKdf("scrypt".into())
    );
    let dss = replace_line(
        &v3,
        "PuTTY-User-Key-File-3:",
        "PuTTY-User-Key-File-3: ssh-dss",
    );
    assert_eq!(
        decrypt_err(&dss, &KdfLimits::default()),
        KeyFileError::UnsupportedKey("ssh-dss".into())
    );
    // The header names one key type, the public blob another.
    let mixed = replace_line(
        &v3,
        "PuTTY-User-Key-File-3:",
        "PuTTY-User-Key-File-3: ssh-rsa",
    );
    assert_eq!(
        decrypt_err(&mixed, &KdfLimits::default()),
        KeyFileError::Malformed("public key")
    );
    assert_eq!(
        KeyFile::parse(b"PuTTY-User-Key-File-3").unwrap_err(),
        KeyFileError::Malformed("a line is not `Name: value`")
    );
}

#[test]
fn malformed_blobs_are_refused() {
    let v2 = fixture("ed25519-v2-enc.ppk");
    // Encrypted private data that is not a whole number of AES blocks.
    let text = String::from_utf8(v2.clone()).unwrap();
    let at = text.find("Private-Lines:").unwrap();
    let odd = format!(
        "{}Private-Lines: 1\nAAAA\n{}",
        &text[..at],
        &text[text.find("Private-MAC").unwrap()..]
    );
    assert!(
        matches!(decrypt_err(odd.as_bytes(), &KdfLimits::default()), KeyFileError::Malformed(m) if m.contains("AES"))
    );
    // Bad base64, a line count that runs past the end, a huge line count, a bad MAC length.
    let bad64 = replace_line(&v2, "AAAAC3", "AAAAC3!!");
    assert!(matches!(
        decrypt_err(&bad64, &KdfLimits::default()),
        KeyFileError::Malformed(_)
    ));
    let overrun = replace_line(&v2, "Private-Lines:", "Private-Lines: 3");
    assert!(decrypt_err(&overrun, &KdfLimits::default()) != KeyFileError::WrongPassphrase);
    let huge = replace_line(&v2, "Public-Lines:", "Public-Lines: 99999999999");
    assert_eq!(
        decrypt_err(&huge, &KdfLimits::default()),
        KeyFileError::Malformed("Public-Lines")
    );
    let mac = replace_line(&v2, "Private-MAC:", "Private-MAC: 00");
    assert_eq!(
        decrypt_err(&mac, &KdfLimits::default()),
        KeyFileError::Malformed("Private-MAC")
    );
}

/// Real peer: puttygen runs on the Unix host (the Windows build's tests run under Wine, where it
/// is not available).
#[cfg(unix)]
mod real_peer {
    use super::*;

    /// Runs puttygen, failing the test with its stderr if it does not succeed.
    fn puttygen(args: &[&str]) -> Vec<u8> {
        let out = std::process::Command::new("puttygen")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("puttygen not found: install putty-tools (scripts/test deps does)");
        assert!(
            out.status.success(),
            "puttygen {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Real peer: keys made by puttygen now, with its default settings (v3, Argon2id, passes chosen
    /// by timing) and as v2, decrypt and match the public key puttygen prints.
    #[test]
    fn fresh_puttygen_keys_decrypt() {
        let tmp = std::env::temp_dir().join(format!("agentry-ppk-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let path = |name: &str| tmp.join(name).to_str().unwrap().to_owned();
        std::fs::write(tmp.join("pass"), "fresh pass phrase\n").unwrap();
        std::fs::write(tmp.join("empty"), "").unwrap();
        let cases: &[(&str, &[&str], &str)] = &[
            ("ed25519-default", &["-t", "ed25519"], "pass"),
            (
                "ecdsa-p384-v2",
                &["-t", "ecdsa", "-b", "384", "--ppk-param", "version=2"],
                "pass",
            ),
            ("rsa-2048-plain", &["-t", "rsa", "-b", "2048"], "empty"),
        ];
        for (name, kind, pass) in cases {
            let file = path(&format!("{name}.ppk"));
            let mut args = kind.to_vec();
            let passfile = path(pass);
            args.extend([
                "-q",
                "-C",
                name,
                "-O",
                "private",
                "-o",
                &file,
                "--new-passphrase",
                &passfile,
            ]);
            puttygen(&args);
            let pub_line = puttygen(&["-L", &file, "--old-passphrase", &passfile]);
            let blob = openssh_blob(&String::from_utf8(pub_line).unwrap());
            let bytes = std::fs::read(&file).unwrap();
            let parsed = KeyFile::parse(&bytes).unwrap();
            assert_eq!(blob_of(&parsed), blob, "{name}");
            assert_eq!(parsed.comment(), *name);
            decrypt_and_sign(name, &bytes, b"fresh pass phrase", &blob);
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
