//! Key files and key descriptions for the client commands: finding the certificate next to a key
//! file and the public key of a file given to `remove`, and describing agent identities the way
//! ssh-add does (`256 SHA256:… comment (ED25519)`). Private keys are read by `private_files`.

use agentry_core::keyfile::KeyFile;
use agentry_platform::small_file::{read_small_text, KEY_FILE_LIMIT};
use base64ct::Encoding;
use md5::Digest;
use ssh_encoding::{Decode, Encode};
use ssh_key::public::KeyData;
use ssh_key::{Certificate, HashAlg, PublicKey};
use std::path::{Path, PathBuf};

/// How fingerprints are shown (`-E`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FingerprintHash {
    Sha256,
    Md5,
}

/// The certificate next to a key file (`FILE-cert.pub`), if there is one.
pub(crate) fn read_certificate_for(path: &Path) -> Option<(PathBuf, Certificate)> {
    let mut cert_path = path.as_os_str().to_owned();
    cert_path.push("-cert.pub");
    let cert_path = PathBuf::from(cert_path);
    let text = read_small_text(&cert_path, KEY_FILE_LIMIT).ok()?;
    let cert = Certificate::from_openssh(text.trim()).ok()?;
    Some((cert_path, cert))
}

/// The public key a file names: `FILE.pub`, `FILE` itself as a public key, or the public half a
/// private key file shows without its passphrase (OpenSSH files, unencrypted PEM and PKCS#8).
pub(crate) fn read_public_key(path: &Path) -> Result<PublicKey, String> {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    if let Some(key) = read_public_file(Path::new(&pub_path)) {
        return Ok(key);
    }
    let text =
        read_small_text(path, KEY_FILE_LIMIT).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Ok(key) = PublicKey::from_openssh(text.trim()) {
        return Ok(key);
    }
    KeyFile::parse(text.as_bytes())
        .ok()
        .and_then(|file| file.public_key().cloned())
        .map(|key| PublicKey::new(key, ""))
        .ok_or_else(|| {
            format!(
                "{}: no public key found (not a public key, or an encrypted PEM key without its .pub)",
                path.display()
            )
        })
}

/// The public key in an OpenSSH `.pub` file, if `path` is a small regular file holding one.
pub(crate) fn read_public_file(path: &Path) -> Option<PublicKey> {
    let text = read_small_text(path, KEY_FILE_LIMIT).ok()?;
    PublicKey::from_openssh(text.trim()).ok()
}

/// The plain public key inside an identity blob (a certificate's subject key for certs).
pub(crate) fn subject_key(blob: &[u8]) -> Option<(KeyData, bool)> {
    if let Ok(cert) = Certificate::from_bytes(blob) {
        return Some((cert.public_key().clone(), true));
    }
    KeyData::decode(&mut &blob[..]).ok().map(|k| (k, false))
}

/// The fingerprint ssh-add shows for an identity blob.
pub(crate) fn fingerprint(blob: &[u8], hash: FingerprintHash) -> Option<String> {
    let (key, _) = subject_key(blob)?;
    Some(match hash {
        FingerprintHash::Sha256 => key.fingerprint(HashAlg::Sha256).to_string(),
        FingerprintHash::Md5 => {
            let digest = md5::Md5::digest(key.encode_vec().ok()?);
            let hex: Vec<String> = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("MD5:{}", hex.join(":"))
        }
    })
}

/// `256 SHA256:… comment (ED25519)`, as `ssh-add -l` prints.
pub(crate) fn describe(blob: &[u8], comment: &[u8], hash: FingerprintHash) -> String {
    // The agent's comments are anyone's (a forwarded host can add keys): escape what could
    // drive the terminal or forge lines (docs/security.md, "Client-chosen text").
    let comment = agentry_core::text::untrusted_bytes(comment);
    let Some((key, is_cert)) = subject_key(blob) else {
        return format!("unknown key type: {comment}");
    };
    let Some((bits, label)) = size_and_label(&key) else {
        // A type this build does not know: its name, and no size (ssh-add's "UNKNOWN" says less).
        let cert = if is_cert { " certificate" } else { "" };
        let fp = fingerprint(blob, hash).unwrap_or_default();
        return format!("? {fp} {comment} ({}{cert})", key.algorithm());
    };
    let cert = if is_cert { "-CERT" } else { "" };
    let fp = fingerprint(blob, hash).unwrap_or_default();
    format!("{bits} {fp} {comment} ({label}{cert})")
}

/// The key's size in bits and ssh-add's label for its type; `None` for a type this build does
/// not know.
pub(crate) fn size_and_label(key: &KeyData) -> Option<(u32, &'static str)> {
    Some(match key {
        KeyData::Ed25519(_) => (256, "ED25519"),
        KeyData::Ecdsa(k) => (
            match k.curve().as_str() {
                "nistp384" => 384,
                "nistp521" => 521,
                _ => 256,
            },
            "ECDSA",
        ),
        KeyData::Rsa(k) => (mpint_bits(k.n().as_positive_bytes().unwrap_or(&[])), "RSA"),
        KeyData::Dsa(k) => (mpint_bits(k.p().as_positive_bytes().unwrap_or(&[])), "DSA"),
        KeyData::SkEcdsaSha2NistP256(_) => (256, "ECDSA-SK"),
        KeyData::SkEd25519(_) => (256, "ED25519-SK"),
        _ => return None,
    })
}

/// `ssh-ed25519 AAAA… comment`, as `ssh-add -L` prints.
pub(crate) fn public_line(blob: &[u8], comment: &[u8]) -> String {
    let algorithm = agentry_core::wire::Reader::new(blob)
        .utf8("key type")
        .unwrap_or_default();
    let encoded = base64ct::Base64::encode_string(blob);
    let comment = agentry_core::text::untrusted_bytes(comment);
    format!("{algorithm} {encoded} {comment}")
}

fn mpint_bits(bytes: &[u8]) -> u32 {
    match bytes.iter().position(|b| *b != 0) {
        Some(i) => (bytes.len() - i) as u32 * 8 - bytes[i].leading_zeros(),
        None => 0,
    }
}
