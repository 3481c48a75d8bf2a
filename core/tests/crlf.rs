//! Text a user's editor or a Windows checkout may have given CRLF line ends: every key file
//! fixture (OpenSSH, PEM, PKCS#8, PPK) and a known_hosts file read the same with `\r\n` as with
//! `\n`. The fixtures are LF on disk (.gitattributes): the CRLF copies are made here.

use agentry_core::keyfile::{KdfLimits, KeyFile};
use agentry_core::known_hosts::KnownHosts;
use base64ct::{Base64, Encoding};
use std::path::{Path, PathBuf};

const PASS: &[u8] = b"correct horse";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn crlf(text: &[u8]) -> Vec<u8> {
    assert!(!text.contains(&b'\r'), "the fixture is not LF");
    let mut out = Vec::with_capacity(text.len() + text.len() / 32);
    for &b in text {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Every key file in `dir` (not `.pub`, scripts, notes).
fn key_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            !name.ends_with(".pub")
                && !name.ends_with(".sh")
                && !name.ends_with(".md")
                && !name.starts_with("VERSION")
        })
        .collect();
    files.sort();
    files
}

/// What a parsed file shows without its passphrase, for comparison.
fn shown(file: &KeyFile) -> String {
    format!(
        "{:?} {} {:?} {:?}",
        file.format(),
        file.is_encrypted(),
        file.comment(),
        file.public_key()
    )
}

#[test]
fn key_files_with_crlf_line_ends_read_as_with_lf() {
    let dirs = [
        fixtures().join("keyfiles"),
        fixtures().join("keyfiles/ppk"),
        fixtures().join("keys"),
        fixtures().join("keys/ppk"),
    ];
    let mut checked = 0;
    for dir in dirs {
        for path in key_files(&dir) {
            let lf = std::fs::read(&path).unwrap();
            let name = path.display();
            let Ok(lf_file) = KeyFile::parse(&lf) else {
                continue; // fixtures of other kinds (certificates, broken files) are not keys
            };
            let crlf_file = KeyFile::parse(&crlf(&lf)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(shown(&crlf_file), shown(&lf_file), "{name}");
            // Decrypting costs KDF rounds in a debug build: the unencrypted files, and one
            // encrypted file of each kind below.
            let cheap = !lf_file.is_encrypted()
                || [
                    "openssh-ed25519-aes256ctr",
                    "pem-rsa-2048-aes128",
                    "pkcs8-ecdsa-p256-enc",
                    "ed25519-v2-enc.ppk",
                ]
                .iter()
                .any(|n| path.ends_with(n));
            if cheap {
                let (key, comment) = crlf_file
                    .decrypt(PASS, &KdfLimits::default())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let (lf_key, lf_comment) = lf_file.decrypt(PASS, &KdfLimits::default()).unwrap();
                assert_eq!(key.public_blob(), lf_key.public_blob(), "{name}");
                assert_eq!(comment, lf_comment, "{name}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} key files found");
}

#[test]
fn known_hosts_with_crlf_line_ends_names_hosts_as_with_lf() {
    let public = std::fs::read_to_string(fixtures().join("keys/ed25519.pub")).unwrap();
    let mut words = public.split_whitespace();
    let (kind, blob) = (words.next().unwrap(), words.next().unwrap());
    let text = format!("# hosts\nserver.example {kind} {blob}\n[10.0.0.1]:2222 {kind} {blob}\n");
    let key = Base64::decode_vec(blob).unwrap();
    let lf = KnownHosts::parse(&text);
    let crlf = KnownHosts::parse(&String::from_utf8(crlf(text.as_bytes())).unwrap());
    let named = lf.name_for(&key, 0);
    assert!(named.is_some());
    assert_eq!(crlf.name_for(&key, 0), named);
    assert_eq!(
        crlf.hop_keys("server.example"),
        lf.hop_keys("server.example")
    );
    assert_eq!(crlf.hop_keys("server.example").len(), 1);
}
