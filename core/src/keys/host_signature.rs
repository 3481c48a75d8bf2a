//! Signatures by host keys as `session-bind@openssh.com` carries them: a plain host key
//! verifies directly; a host key that is a certificate verifies with its certified key once the
//! CA's signature over the certificate verifies.

use super::cert::{is_certificate_blob, HostCertificate};
use super::verify::verify_with;
use ssh_encoding::Decode;
use ssh_key::public::KeyData;

/// True when `sig_blob` (`string alg || string blob`) is `key_blob`'s valid signature of `data`.
pub fn verify_signature(key_blob: &[u8], data: &[u8], sig_blob: &[u8]) -> bool {
    if is_certificate_blob(key_blob) {
        return HostCertificate::parse(key_blob)
            .is_some_and(|cert| verify_with(cert.public_key(), data, sig_blob));
    }
    KeyData::decode(&mut &key_blob[..]).is_ok_and(|key| verify_with(&key, data, sig_blob))
}

/// True when `sig_blob` verifies for the key `key_blob` lists (a certificate's certified key,
/// without checking the certificate): the check a signature from a key held outside the agent
/// passes before it is sent. Security-key signatures verify over the authenticator's flags and
/// counter too (PROTOCOL.u2f).
pub fn verify_external(key_blob: &[u8], data: &[u8], sig_blob: &[u8]) -> bool {
    let key = if is_certificate_blob(key_blob) {
        match ssh_key::Certificate::from_bytes(key_blob) {
            Ok(cert) => cert.public_key().clone(),
            Err(_) => return false,
        }
    } else {
        match KeyData::decode(&mut &key_blob[..]) {
            Ok(key) => key,
            Err(_) => return false,
        }
    };
    verify_with(&key, data, sig_blob)
}
