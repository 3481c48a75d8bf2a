//! Private keys and signing. [`PrivateKey`] is the parsed form a client sends; [`SigningKey`] is
//! the prepared form the keystore holds and signs with: Ed25519 through `ed25519-dalek`, ECDSA
//! P-256/P-384 through `ring` (hedged nonces), P-521 through RustCrypto's RFC 6979
//! implementation (full-width nonces), RSA through `ring` (constant time).

mod cert;
mod error;
mod host_signature;
mod private;
mod rsa;
mod signer;
mod sk;
mod verify;

pub use cert::{is_certificate_blob, HostCertificate};
pub use error::SignError;
pub use host_signature::{verify_external, verify_signature};
pub use private::PrivateKey;
pub use rsa::{MAX_RSA_BITS, MIN_RSA_BITS};
pub use signer::{ecdsa_signature, SigningKey};
pub use sk::{
    SecurityKey, SkAlgorithm, SkAssertion, SK_USER_PRESENCE_REQD, SK_USER_VERIFICATION_REQD,
};

/// How a host key is named to people when nothing better is known: its SHA-256 fingerprint.
/// A host certificate is named by its certified key's fingerprint.
pub fn host_label(key_blob: &[u8]) -> String {
    use ssh_encoding::Decode;
    if let Some(cert) = HostCertificate::parse(key_blob) {
        return format!(
            "{} (certificate)",
            cert.public_key().fingerprint(ssh_key::HashAlg::Sha256)
        );
    }
    match ssh_key::public::KeyData::decode(&mut &key_blob[..]) {
        Ok(k) => k.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
        Err(_) => "unknown host key".to_owned(),
    }
}
