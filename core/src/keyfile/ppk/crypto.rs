//! PPK key derivation, decryption and integrity check, as PuTTY's `ssh2_ppk_derive_keys` and
//! `ppk_load_s` do them. v2: cipher key from two SHA-1 hashes of the passphrase, zero IV, MAC key
//! SHA-1 of a fixed prefix and the passphrase, HMAC-SHA-1. v3: Argon2 (parameters from the file,
//! capped by [`KdfLimits`] before any memory is allocated) yields cipher key, IV and MAC key,
//! HMAC-SHA-256; unencrypted v3 files use an empty MAC key. The cipher is AES-256-CBC.

use super::super::{KdfLimits, KeyFileError};
use aes::cipher::{BlockCipherDecrypt, KeyInit};
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Argon2 parameters from a v3 file's header.
#[derive(Clone)]
pub(super) struct Argon2Params {
    pub(super) flavour: argon2::Algorithm,
    pub(super) memory_kib: u32,
    pub(super) passes: u32,
    pub(super) parallelism: u32,
    pub(super) salt: Vec<u8>,
}

/// Keys for one file: AES-256 key and IV (when encrypted) and the MAC key.
pub(super) struct Keys {
    pub(super) cipher: Zeroizing<[u8; 32]>,
    pub(super) iv: [u8; 16],
    pub(super) mac: Zeroizing<Vec<u8>>,
}

const V2_MAC_PREFIX: &[u8] = b"putty-private-key-file-mac-key";

/// v2 keys; the passphrase is empty for an unencrypted file (only the MAC key is then used).
pub(super) fn derive_v2(passphrase: &[u8]) -> Keys {
    let mut cipher = Zeroizing::new([0u8; 32]);
    let mut block = Zeroizing::new([0u8; 40]);
    for (counter, chunk) in block.chunks_exact_mut(20).enumerate() {
        let mut h = Sha1::new();
        h.update((counter as u32).to_be_bytes());
        h.update(passphrase);
        chunk.copy_from_slice(&h.finalize());
    }
    cipher.copy_from_slice(&block[..32]);
    let mut h = Sha1::new();
    h.update(V2_MAC_PREFIX);
    h.update(passphrase);
    Keys {
        cipher,
        iv: [0; 16],
        mac: Zeroizing::new(h.finalize().to_vec()),
    }
}

/// v3 keys for an encrypted file: 80 bytes of Argon2 output split 32 / 16 / 32. The limits are
/// checked first, so an over-limit file costs no memory and no time.
pub(super) fn derive_v3(
    params: &Argon2Params,
    passphrase: &[u8],
    limits: &KdfLimits,
) -> Result<Keys, KeyFileError> {
    let over = |what: &str, value: u32, max: u32| {
        KeyFileError::KdfLimit(format!("Argon2 {what} {value} (at most {max})"))
    };
    if params.memory_kib > limits.max_argon2_memory_kib {
        let (v, m) = (params.memory_kib, limits.max_argon2_memory_kib);
        return Err(over("memory KiB", v, m));
    }
    if params.passes > limits.max_argon2_passes {
        return Err(over("passes", params.passes, limits.max_argon2_passes));
    }
    if params.parallelism > limits.max_argon2_parallelism {
        let (v, m) = (params.parallelism, limits.max_argon2_parallelism);
        return Err(over("parallelism", v, m));
    }
    let bad = |_| KeyFileError::Malformed("Argon2 parameters");
    let argon_params = argon2::Params::new(
        params.memory_kib,
        params.passes,
        params.parallelism,
        Some(80),
    )
    .map_err(bad)?;
    let argon = argon2::Argon2::new(params.flavour, argon2::Version::V0x13, argon_params);
    let mut out = Zeroizing::new([0u8; 80]);
    argon
        .hash_password_into(passphrase, &params.salt, out.as_mut_slice())
        .map_err(bad)?;
    let mut cipher = Zeroizing::new([0u8; 32]);
    cipher.copy_from_slice(&out[..32]);
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&out[32..48]);
    Ok(Keys {
        cipher,
        iv,
        mac: Zeroizing::new(out[48..].to_vec()),
    })
}

/// AES-256-CBC decryption in place; `data` is a whole number of blocks (checked at parse time).
pub(super) fn decrypt_cbc(keys: &Keys, data: &mut [u8]) {
    let key: &[u8; 32] = &keys.cipher;
    let aes = aes::Aes256::new(key.into());
    let mut previous = keys.iv;
    for chunk in data.chunks_exact_mut(16) {
        let mut block = aes::Block::default();
        block.copy_from_slice(chunk);
        let ciphertext: [u8; 16] = block.into();
        aes.decrypt_block(&mut block);
        for ((out, plain), prev) in chunk.iter_mut().zip(block.iter()).zip(previous) {
            *out = plain ^ prev;
        }
        zeroize::Zeroize::zeroize(block.as_mut_slice());
        previous = ciphertext;
    }
}

/// The file's MAC over what it covers, HMAC-SHA-1 (v2) or HMAC-SHA-256 (v3).
pub(super) fn mac(version: u8, key: &[u8], data: &[u8]) -> Result<Vec<u8>, KeyFileError> {
    // HMAC takes keys of any length: the error is never seen in practice.
    let bad = |_| KeyFileError::Malformed("MAC key");
    Ok(if version == 2 {
        let mut m = <Hmac<Sha1>>::new_from_slice(key).map_err(bad)?;
        m.update(data);
        m.finalize().into_bytes().to_vec()
    } else {
        let mut m = <Hmac<Sha256>>::new_from_slice(key).map_err(bad)?;
        m.update(data);
        m.finalize().into_bytes().to_vec()
    })
}
