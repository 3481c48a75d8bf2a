//! Legacy PEM and PKCS#8 key files, as `ssh-keygen -m PEM|PKCS8` and `openssl` write them:
//! `RSA PRIVATE KEY` (PKCS#1), `EC PRIVATE KEY` (SEC1, P-256/384/521), `PRIVATE KEY` (PKCS#8:
//! RSA, EC, Ed25519), `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2: PBKDF2-HMAC-SHA1/SHA-2 with
//! AES-CBC) and OpenSSL's traditional encryption (`Proc-Type: 4,ENCRYPTED`, `DEK-Info:` AES-CBC
//! or DES-EDE3-CBC keyed by `EVP_BytesToKey` with MD5). The RustCrypto format crates only parse
//! the DER; the key material goes to `ssh-key`'s types (no RSA arithmetic here). These formats
//! hold no comment, and an encrypted file shows no public key until decrypted.

mod der_keys;

use super::armor::{first_block, Armored};
use super::{KdfLimits, KeyFileError};
use crate::keys::PrivateKey;
use der::Decode;
use pkcs8::pkcs5::pbes2::{EncryptionScheme as Pbes2Cipher, Kdf, Pbkdf2Prf};
use pkcs8::pkcs5::EncryptionScheme;
use pkcs8::EncryptedPrivateKeyInfoRef;
use ssh_cipher::Cipher;
use ssh_key::public::KeyData;
use zeroize::Zeroizing;

/// A parsed PEM or PKCS#8 file.
#[derive(Clone)]
pub(super) struct PemKey {
    state: State,
}

#[derive(Clone)]
enum State {
    /// Unencrypted: read at parse time.
    Plain(Box<(PrivateKey, KeyData)>),
    /// PKCS#8 `ENCRYPTED PRIVATE KEY`: the whole DER, parsed again on decryption.
    Pkcs8 { der: Vec<u8> },
    /// Traditional OpenSSL encryption of a PKCS#1 or SEC1 body.
    Legacy(Box<Legacy>),
}

#[derive(Clone)]
struct Legacy {
    body: DerKind,
    cipher: Cipher,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// What the DER inside the armour is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DerKind {
    Pkcs1,
    Sec1,
    Pkcs8,
}

impl PemKey {
    /// Parses `text` if it is a PEM or PKCS#8 private key (`None` when it has no armour at all).
    pub(super) fn parse(text: &str) -> Result<Option<Self>, KeyFileError> {
        let Some(block) = first_block(text)? else {
            return Ok(None);
        };
        let kind = match block.label.as_str() {
            "RSA PRIVATE KEY" => DerKind::Pkcs1,
            "EC PRIVATE KEY" => DerKind::Sec1,
            "PRIVATE KEY" => DerKind::Pkcs8,
            "ENCRYPTED PRIVATE KEY" => return Self::parse_pkcs8_encrypted(&block).map(Some),
            "DSA PRIVATE KEY" => return Err(KeyFileError::UnsupportedKey("ssh-dss".into())),
            label if label.contains("PUBLIC KEY") => return Err(KeyFileError::PublicKeyOnly),
            _ => return Err(KeyFileError::NotAKey),
        };
        let encrypted = block
            .header("Proc-Type")
            .is_some_and(|v| v.replace(' ', "").eq_ignore_ascii_case("4,ENCRYPTED"));
        if encrypted {
            if kind == DerKind::Pkcs8 {
                return Err(KeyFileError::Malformed("Proc-Type on a PKCS#8 key"));
            }
            return Self::parse_legacy(&block, kind).map(Some);
        }
        let key = der_keys::decode(kind, &block.body, false)?;
        let public = public_of(&key)?;
        Ok(Some(Self {
            state: State::Plain(Box::new((key, public))),
        }))
    }

    fn parse_pkcs8_encrypted(block: &Armored) -> Result<Self, KeyFileError> {
        let info = encrypted_info(&block.body)?;
        pbes2_parameters(&info.encryption_algorithm)?;
        Ok(Self {
            state: State::Pkcs8 {
                der: block.body.to_vec(),
            },
        })
    }

    fn parse_legacy(block: &Armored, body: DerKind) -> Result<Self, KeyFileError> {
        let dek = block
            .header("DEK-Info")
            .ok_or(KeyFileError::Malformed("DEK-Info header missing"))?;
        let (name, iv_hex) = dek
            .split_once(',')
            .ok_or(KeyFileError::Malformed("DEK-Info header"))?;
        let cipher = match name.trim().to_ascii_uppercase().as_str() {
            "AES-128-CBC" => Cipher::Aes128Cbc,
            "AES-192-CBC" => Cipher::Aes192Cbc,
            "AES-256-CBC" => Cipher::Aes256Cbc,
            "DES-EDE3-CBC" => Cipher::TdesCbc,
            other => return Err(KeyFileError::UnsupportedCipher(other.to_owned())),
        };
        let iv = hex(iv_hex.trim()).ok_or(KeyFileError::Malformed("DEK-Info IV"))?;
        let iv_len = cipher.key_and_iv_size().map_or(0, |(_, iv)| iv);
        if iv.len() != iv_len {
            return Err(KeyFileError::Malformed("DEK-Info IV length"));
        }
        check_cbc_length(cipher, &block.body)?;
        Ok(Self {
            state: State::Legacy(Box::new(Legacy {
                body,
                cipher,
                iv,
                ciphertext: block.body.to_vec(),
            })),
        })
    }

    pub(super) fn is_encrypted(&self) -> bool {
        !matches!(self.state, State::Plain(_))
    }

    /// The public key: only for unencrypted files (an encrypted PEM or PKCS#8 file holds the
    /// public key only inside the encrypted part).
    pub(super) fn public_key(&self) -> Option<&KeyData> {
        match &self.state {
            State::Plain(plain) => Some(&plain.1),
            _ => None,
        }
    }

    /// Decrypts (or returns) the key; the comment is always empty (the formats have none).
    pub(super) fn decrypt(
        &self,
        passphrase: &[u8],
        limits: &KdfLimits,
    ) -> Result<(PrivateKey, String), KeyFileError> {
        let key = match &self.state {
            State::Plain(plain) => plain.0.clone(),
            State::Pkcs8 { der } => decrypt_pkcs8(der, passphrase, limits)?,
            State::Legacy(legacy) => {
                let (key_len, _) = legacy.cipher.key_and_iv_size().unwrap_or((0, 0));
                let salt = legacy.iv.get(..8).ok_or(KeyFileError::Malformed("IV"))?;
                let key = evp_bytes_to_key(passphrase, salt, key_len);
                let plain = cbc_decrypt(legacy.cipher, &key, &legacy.iv, &legacy.ciphertext)?;
                der_keys::decode(legacy.body, &plain, true)?
            }
        };
        Ok((key, String::new()))
    }
}

fn encrypted_info(der: &[u8]) -> Result<EncryptedPrivateKeyInfoRef<'_>, KeyFileError> {
    EncryptedPrivateKeyInfoRef::from_der(der).map_err(|_| {
        // Tell an encryption scheme pkcs5 does not know from a damaged file.
        let outer = der::asn1::AnyRef::from_der(der);
        let alg = outer.and_then(|seq| {
            let mut reader = der::SliceReader::new(seq.value())?;
            pkcs8::spki::AlgorithmIdentifierRef::decode(&mut reader)
        });
        match alg {
            Ok(alg) => KeyFileError::UnsupportedCipher(format!("PKCS#8 scheme {}", alg.oid)),
            Err(_) => KeyFileError::Malformed("PKCS#8 encrypted key"),
        }
    })
}

/// A PBES2 key derivation agentry supports.
enum Pbes2Kdf<'a> {
    Pbkdf2(&'a pkcs8::pkcs5::pbes2::Pbkdf2Params),
    Scrypt(&'a pkcs8::pkcs5::pbes2::ScryptParams),
}

/// The key-derivation and cipher parameters of a PBES2 scheme agentry supports.
fn pbes2_parameters(
    scheme: &EncryptionScheme,
) -> Result<(Pbes2Kdf<'_>, Cipher, [u8; 16]), KeyFileError> {
    let params = match scheme {
        EncryptionScheme::Pbes2(params) => params,
        EncryptionScheme::Pbes1(_) => {
            return Err(KeyFileError::UnsupportedCipher("PBES1".into()));
        }
        _ => return Err(KeyFileError::UnsupportedCipher("PKCS#8 scheme".into())),
    };
    let (cipher, iv) = match params.encryption {
        Pbes2Cipher::Aes128Cbc { iv } => (Cipher::Aes128Cbc, iv),
        Pbes2Cipher::Aes192Cbc { iv } => (Cipher::Aes192Cbc, iv),
        Pbes2Cipher::Aes256Cbc { iv } => (Cipher::Aes256Cbc, iv),
        other => return Err(KeyFileError::UnsupportedCipher(format!("{}", other.oid()))),
    };
    let (kdf, key_length) = match &params.kdf {
        Kdf::Pbkdf2(p) => (Pbes2Kdf::Pbkdf2(p), p.key_length),
        Kdf::Scrypt(p) => (Pbes2Kdf::Scrypt(p), p.key_length),
        _ => return Err(KeyFileError::UnsupportedKdf("PBES2 KDF".into())),
    };
    let key_len = cipher.key_and_iv_size().map_or(0, |(k, _)| k);
    if key_length.is_some_and(|l| usize::from(l) != key_len) {
        return Err(KeyFileError::Malformed("PBES2 key length"));
    }
    Ok((kdf, cipher, iv))
}

fn decrypt_pkcs8(
    der: &[u8],
    passphrase: &[u8],
    limits: &KdfLimits,
) -> Result<PrivateKey, KeyFileError> {
    let info = encrypted_info(der)?;
    let (kdf, cipher, iv) = pbes2_parameters(&info.encryption_algorithm)?;
    let key_len = cipher.key_and_iv_size().map_or(0, |(k, _)| k);
    let mut key = Zeroizing::new(vec![0u8; key_len]);
    match kdf {
        Pbes2Kdf::Pbkdf2(params) => pbkdf2_key(params, passphrase, limits, &mut key)?,
        Pbes2Kdf::Scrypt(params) => scrypt_key(params, passphrase, limits, &mut key)?,
    }
    let plain = cbc_decrypt(cipher, &key, &iv, info.encrypted_data.as_bytes())?;
    der_keys::decode(DerKind::Pkcs8, &plain, true)
}

fn pbkdf2_key(
    pbkdf2: &pkcs8::pkcs5::pbes2::Pbkdf2Params,
    passphrase: &[u8],
    limits: &KdfLimits,
    key: &mut [u8],
) -> Result<(), KeyFileError> {
    let rounds = pbkdf2.iteration_count;
    if rounds > limits.max_pbkdf2_iterations {
        return Err(KeyFileError::KdfLimit(format!(
            "PBKDF2 iterations {rounds} (limit {})",
            limits.max_pbkdf2_iterations
        )));
    }
    if rounds == 0 {
        return Err(KeyFileError::Malformed("PBKDF2 iterations"));
    }
    let salt = pbkdf2.salt.as_bytes();
    match pbkdf2.prf {
        Pbkdf2Prf::HmacWithSha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(passphrase, salt, rounds, key),
        Pbkdf2Prf::HmacWithSha224 => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha224>(passphrase, salt, rounds, key)
        }
        Pbkdf2Prf::HmacWithSha256 => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase, salt, rounds, key)
        }
        Pbkdf2Prf::HmacWithSha384 => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha384>(passphrase, salt, rounds, key)
        }
        Pbkdf2Prf::HmacWithSha512 => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(passphrase, salt, rounds, key)
        }
        _ => return Err(KeyFileError::UnsupportedKdf("PBKDF2 PRF".into())),
    }
    Ok(())
}

/// scrypt, its memory (128·r·N bytes) and parallelism capped before any work.
fn scrypt_key(
    params: &pkcs8::pkcs5::pbes2::ScryptParams,
    passphrase: &[u8],
    limits: &KdfLimits,
    key: &mut [u8],
) -> Result<(), KeyFileError> {
    let n = params.cost_parameter;
    let (r, p) = (
        u64::from(params.block_size),
        u64::from(params.parallelization),
    );
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 {
        return Err(KeyFileError::Malformed("scrypt parameters"));
    }
    let memory_kib = n.saturating_mul(r).saturating_mul(128) / 1024;
    if memory_kib > u64::from(limits.max_scrypt_memory_kib) {
        return Err(KeyFileError::KdfLimit(format!(
            "scrypt memory {memory_kib} KiB (limit {})",
            limits.max_scrypt_memory_kib
        )));
    }
    if p > u64::from(limits.max_scrypt_parallelism) {
        return Err(KeyFileError::KdfLimit(format!(
            "scrypt parallelism {p} (limit {})",
            limits.max_scrypt_parallelism
        )));
    }
    let log_n =
        u8::try_from(n.trailing_zeros()).map_err(|_| KeyFileError::Malformed("scrypt N"))?;
    let cost = scrypt::Params::new(
        log_n,
        u32::from(params.block_size),
        u32::from(params.parallelization),
    )
    .map_err(|_| KeyFileError::Malformed("scrypt parameters"))?;
    scrypt::scrypt(passphrase, params.salt.as_bytes(), &cost, key)
        .map_err(|_| KeyFileError::Malformed("scrypt key length"))
}

fn check_cbc_length(cipher: Cipher, data: &[u8]) -> Result<(), KeyFileError> {
    let block = cipher.block_size();
    if data.is_empty() || data.len() % block != 0 {
        return Err(KeyFileError::Malformed("encrypted length"));
    }
    Ok(())
}

/// CBC-decrypts and removes PKCS#7 padding; bad padding means a wrong passphrase.
fn cbc_decrypt(
    cipher: Cipher,
    key: &[u8],
    iv: &[u8],
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    check_cbc_length(cipher, data)?;
    let mut plain = Zeroizing::new(data.to_vec());
    cipher
        .decrypt(key, iv, &mut plain, None)
        .map_err(|_| KeyFileError::Malformed("cipher parameters"))?;
    let pad = usize::from(plain.last().copied().unwrap_or(0));
    let len = plain.len();
    let padding_ok = (1..=cipher.block_size()).contains(&pad)
        && plain[len - pad..].iter().all(|b| usize::from(*b) == pad);
    if !padding_ok {
        return Err(KeyFileError::WrongPassphrase);
    }
    plain.truncate(len - pad);
    Ok(plain)
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one iteration, as traditional PEM encryption uses:
/// D_1 = MD5(pass || salt), D_i = MD5(D_{i-1} || pass || salt), key = D_1 || D_2 || ….
fn evp_bytes_to_key(passphrase: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    use md5::{Digest, Md5};
    let mut out = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut previous: Option<Zeroizing<[u8; 16]>> = None;
    while out.len() < len {
        let mut md5 = Md5::new();
        if let Some(p) = &previous {
            md5.update(&p[..]);
        }
        md5.update(passphrase);
        md5.update(salt);
        let digest = Zeroizing::new(<[u8; 16]>::from(md5.finalize()));
        out.extend_from_slice(&digest[..]);
        previous = Some(digest);
    }
    out.truncate(len);
    out
}

/// Hex to bytes with the PPK reader's strict decoder (no sign, no spaces).
fn hex(text: &str) -> Option<Vec<u8>> {
    super::ppk::hex(text.as_bytes())
}

fn public_of(key: &PrivateKey) -> Result<KeyData, KeyFileError> {
    use ssh_encoding::Decode as _;
    KeyData::decode(&mut &key.public_blob()[..]).map_err(|_| KeyFileError::Malformed("public key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -k pass -S 0001020304050607 -P -md md5` prints key= and iv=,
        // which are the first 32 and next 16 bytes of the same derivation.
        let out = evp_bytes_to_key(b"pass", &[0, 1, 2, 3, 4, 5, 6, 7], 48);
        let key = hex("BD8384CF89612FC070EE615156D32202985B6EEB417D7BEB46C6A70A4EE6229F");
        let iv = hex("F3136CF99936EB330955B0C679F1AEA1");
        assert_eq!(Some(&out[..32]), key.as_deref());
        assert_eq!(Some(&out[32..]), iv.as_deref());
    }

    #[test]
    fn hex_rejects_odd_and_non_hex() {
        assert_eq!(hex("0aFF"), Some(vec![10, 255]));
        assert_eq!(hex("0a0"), None);
        assert_eq!(hex("zz"), None);
        assert_eq!(hex("+0+0"), None, "a sign is not a hex digit");
    }
}
