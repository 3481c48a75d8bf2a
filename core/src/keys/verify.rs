//! Verification of SSH signatures made by host keys, for `session-bind@openssh.com` and host
//! certificates. Ed25519 and ECDSA go through `ssh-key`'s verifiers; RSA (`rsa-sha2-256`,
//! `rsa-sha2-512`, legacy `ssh-rsa`) through `ring`'s public-key verification. A leaf: host
//! certificates (`cert.rs`) use it for their CA signature, and `host_signature.rs` for keys that
//! are certificates.

use crate::wire::Reader;
use ssh_encoding::Decode;
use ssh_key::public::KeyData;
use ssh_key::Signature;

/// True when `sig_blob` is `key`'s valid signature of `data`.
pub(crate) fn verify_with(key: &KeyData, data: &[u8], sig_blob: &[u8]) -> bool {
    match key {
        KeyData::Rsa(rsa) => verify_rsa(rsa, data, sig_blob),
        KeyData::Ed25519(_)
        | KeyData::Ecdsa(_)
        | KeyData::SkEd25519(_)
        | KeyData::SkEcdsaSha2NistP256(_) => {
            let mut slice = sig_blob;
            let Ok(sig) = Signature::decode(&mut slice) else {
                return false;
            };
            slice.is_empty() && signature::Verifier::verify(key, data, &sig).is_ok()
        }
        _ => false,
    }
}

fn verify_rsa(key: &ssh_key::public::RsaPublicKey, data: &[u8], sig_blob: &[u8]) -> bool {
    use ring::signature as rs;
    let mut r = Reader::new(sig_blob);
    let (Ok(alg), Ok(sig)) = (r.string(), r.string()) else {
        return false;
    };
    if !r.is_empty() {
        return false;
    }
    let params: &rs::RsaParameters = match alg {
        b"rsa-sha2-256" => &rs::RSA_PKCS1_2048_8192_SHA256,
        b"rsa-sha2-512" => &rs::RSA_PKCS1_2048_8192_SHA512,
        b"ssh-rsa" => &rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        _ => return false,
    };
    let (Some(n), Some(e)) = (key.n().as_positive_bytes(), key.e().as_positive_bytes()) else {
        return false;
    };
    rs::RsaPublicKeyComponents { n, e }
        .verify(params, data, sig)
        .is_ok()
}
