//! PuTTY's private-key files, `PuTTY-User-Key-File-2` and `-3` (PuTTY manual, appendix C;
//! `sshpubk.c`). The header, comment and public key are plain text, so a file is parsed and
//! listed without its passphrase; [`Ppk::decrypt`] derives the keys, decrypts the private blob,
//! checks the MAC (in constant time; a mismatch on an encrypted file means a wrong passphrase)
//! and builds the key. Lines must come in PuTTY's order; anything after `Private-MAC` is
//! ignored, as PuTTY ignores it. Version 1 files and certificates in PPK files are refused.

mod crypto;
mod key;
mod text;

use super::{KdfLimits, KeyFileError};
use crate::keys::PrivateKey;
use crate::wire::Writer;
use crypto::Argon2Params;
use ssh_encoding::Decode;
use ssh_key::public::KeyData;
use subtle::ConstantTimeEq;
pub(super) use text::hex;
use text::{decimal, Lines};
use zeroize::Zeroizing;

/// What every PPK file starts with.
pub(super) const MAGIC: &[u8] = b"PuTTY-User-Key-File-";

/// The key types agentry signs with; PPK files of other types (`ssh-dss`, `ssh-ed448`,
/// certificates) are refused when parsed.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
];

/// A parsed PPK file, its private blob still encrypted if the file is.
#[derive(Clone)]
pub(super) struct Ppk {
    version: u8,
    algorithm: String,
    /// `None` for `Encryption: none`; for v3 files the Argon2 parameters, for v2 nothing.
    encryption: Option<Option<Argon2Params>>,
    comment_raw: Vec<u8>,
    comment: String,
    public_blob: Vec<u8>,
    public: KeyData,
    private: Zeroizing<Vec<u8>>,
    mac: Vec<u8>,
}

impl Ppk {
    pub(super) fn parse(bytes: &[u8]) -> Result<Self, KeyFileError> {
        let mut lines = Lines::new(bytes);
        let (magic, algorithm) = lines.any_header()?;
        let version = match magic.strip_prefix(MAGIC) {
            Some(b"2") => 2,
            Some(b"3") => 3,
            Some(_) => {
                return Err(KeyFileError::Malformed(
                    "PPK format version (agentry reads versions 2 and 3)",
                ))
            }
            None => return Err(KeyFileError::NotAKey),
        };
        let algorithm = String::from_utf8_lossy(algorithm).into_owned();
        if !KEY_TYPES.contains(&algorithm.as_str()) {
            return Err(KeyFileError::UnsupportedKey(algorithm));
        }
        let encrypted = match lines.header("Encryption")? {
            b"none" => false,
            b"aes256-cbc" => true,
            other => {
                let name = String::from_utf8_lossy(other).into_owned();
                return Err(KeyFileError::UnsupportedCipher(name));
            }
        };
        let comment_raw = lines.header("Comment")?.to_vec();
        let public_blob = lines.blob("Public-Lines")?.to_vec();
        let mut reader = public_blob.as_slice();
        let public = KeyData::decode(&mut reader)
            .ok()
            .filter(|k| reader.is_empty() && k.algorithm().as_str() == algorithm)
            .ok_or(KeyFileError::Malformed("public key"))?;
        let encryption = match (encrypted, version) {
            (false, _) => None,
            (true, 2) => Some(None),
            (true, _) => Some(Some(argon2_params(&mut lines)?)),
        };
        let private = lines.blob("Private-Lines")?;
        if encrypted && private.len() % 16 != 0 {
            return Err(KeyFileError::Malformed(
                "Private-Lines (not whole AES blocks)",
            ));
        }
        let mac_len = if version == 2 { 20 } else { 32 };
        // Lower-case only: PuTTY compares the text with the MAC it prints in lower case.
        let mac_text = lines.header("Private-MAC")?;
        let mac = hex(mac_text)
            .filter(|m| m.len() == mac_len && !mac_text.iter().any(u8::is_ascii_uppercase))
            .ok_or(KeyFileError::Malformed("Private-MAC"))?;
        Ok(Self {
            version,
            comment: String::from_utf8_lossy(&comment_raw).into_owned(),
            algorithm,
            encryption,
            comment_raw,
            public_blob,
            public,
            private,
            mac,
        })
    }

    pub(super) fn is_encrypted(&self) -> bool {
        self.encryption.is_some()
    }

    pub(super) fn public_key(&self) -> &KeyData {
        &self.public
    }

    pub(super) fn comment(&self) -> &str {
        &self.comment
    }

    pub(super) fn decrypt(
        &self,
        passphrase: &[u8],
        limits: &KdfLimits,
    ) -> Result<(PrivateKey, String), KeyFileError> {
        let mut private = self.private.clone();
        let encryption_name: &[u8] = match self.encryption {
            None => b"none",
            Some(_) => b"aes256-cbc",
        };
        let keys = match &self.encryption {
            None if self.version == 2 => crypto::derive_v2(b""),
            None => crypto::Keys {
                cipher: Zeroizing::new([0; 32]),
                iv: [0; 16],
                mac: Zeroizing::new(Vec::new()),
            },
            Some(None) => crypto::derive_v2(passphrase),
            Some(Some(params)) => crypto::derive_v3(params, passphrase, limits)?,
        };
        if self.is_encrypted() {
            crypto::decrypt_cbc(&keys, &mut private);
        }
        // Exact capacity: a reallocation would leave a copy of the private blob behind.
        let len = 5 * 4
            + self.algorithm.len()
            + encryption_name.len()
            + self.comment_raw.len()
            + self.public_blob.len()
            + private.len();
        let mut covered = Writer::with_capacity(len);
        covered
            .string(self.algorithm.as_bytes())
            .string(encryption_name)
            .string(&self.comment_raw)
            .string(&self.public_blob)
            .string(&private);
        let covered = Zeroizing::new(covered.into_bytes());
        let mac = crypto::mac(self.version, &keys.mac, &covered)?;
        if !bool::from(mac.ct_eq(&self.mac)) {
            return Err(if self.is_encrypted() {
                KeyFileError::WrongPassphrase
            } else {
                KeyFileError::Malformed("Private-MAC does not match")
            });
        }
        let key = key::private_key(&self.public, &private)?;
        Ok((key, self.comment.clone()))
    }
}

/// The v3 `Key-Derivation` and `Argon2-*` lines of an encrypted file.
fn argon2_params(lines: &mut Lines<'_>) -> Result<Argon2Params, KeyFileError> {
    let flavour = match lines.header("Key-Derivation")? {
        b"Argon2id" => argon2::Algorithm::Argon2id,
        b"Argon2i" => argon2::Algorithm::Argon2i,
        b"Argon2d" => argon2::Algorithm::Argon2d,
        other => {
            let name = String::from_utf8_lossy(other).into_owned();
            return Err(KeyFileError::UnsupportedKdf(name));
        }
    };
    let mut number = |name| decimal(lines.header(name)?).ok_or(KeyFileError::Malformed(name));
    let memory_kib = number("Argon2-Memory")?;
    let passes = number("Argon2-Passes")?;
    let parallelism = number("Argon2-Parallelism")?;
    let salt = hex(lines.header("Argon2-Salt")?).ok_or(KeyFileError::Malformed("Argon2-Salt"))?;
    Ok(Argon2Params {
        flavour,
        memory_kib,
        passes,
        parallelism,
        salt,
    })
}
