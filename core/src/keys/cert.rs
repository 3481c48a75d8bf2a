//! OpenSSH host certificates seen as host keys (in `session-bind@openssh.com` and known_hosts
//! naming). A certificate is accepted only once the CA's signature over it verifies, as OpenSSH's
//! `cert_parse` does when it reads one; [`HostCertificate::check_host`] then applies OpenSSH's
//! `sshkey_cert_check_host` rules (host type, validity window, no critical options, allowed CA
//! signature algorithms, principal match).

use super::verify::verify_with;
use crate::wire::Reader;
use ssh_encoding::Encode;

/// Signature algorithms a CA may have signed a host certificate with (OpenSSH's
/// `SSH_ALLOWED_CA_SIGALGS`, without the security-key types agentry does not verify).
const ALLOWED_CA_SIGALGS: &[&[u8]] = &[
    b"ssh-ed25519",
    b"ecdsa-sha2-nistp256",
    b"ecdsa-sha2-nistp384",
    b"ecdsa-sha2-nistp521",
    b"rsa-sha2-512",
    b"rsa-sha2-256",
];

/// A certificate whose CA signature verified.
#[derive(Debug, Clone)]
pub struct HostCertificate {
    cert: ssh_key::Certificate,
    ca_blob: Vec<u8>,
    sig_alg: Vec<u8>,
}

/// True when `blob` names a certificate key type (`…-cert-v01@openssh.com`).
pub fn is_certificate_blob(blob: &[u8]) -> bool {
    Reader::new(blob)
        .string()
        .is_ok_and(|name| name.ends_with(b"-cert-v01@openssh.com"))
}

impl HostCertificate {
    /// Parses a certificate blob and verifies its CA signature; `None` when it is not a
    /// certificate, does not decode, or the signature does not verify.
    pub fn parse(blob: &[u8]) -> Option<Self> {
        if !is_certificate_blob(blob) {
            return None;
        }
        let cert = ssh_key::Certificate::from_bytes(blob).ok()?;
        let sig = cert.signature().encode_vec().ok()?;
        let signed_len = blob.len().checked_sub(sig.len() + 4)?;
        let (signed, tail) = blob.split_at(signed_len);
        if tail[..4] != u32::try_from(sig.len()).ok()?.to_be_bytes() || tail[4..] != sig[..] {
            return None;
        }
        let ca = cert.signature_key().clone();
        if !verify_with(&ca, signed, &sig) {
            return None;
        }
        let sig_alg = Reader::new(&sig).string().ok()?.to_vec();
        Some(Self {
            ca_blob: ca.encode_vec().ok()?,
            cert,
            sig_alg,
        })
    }

    /// The CA key blob that signed it.
    pub fn ca_blob(&self) -> &[u8] {
        &self.ca_blob
    }

    /// The certified key.
    pub fn public_key(&self) -> &ssh_key::public::KeyData {
        self.cert.public_key()
    }

    /// The principals (host names) it is valid for; empty means any.
    pub fn principals(&self) -> &[String] {
        self.cert.valid_principals()
    }

    /// OpenSSH's `sshkey_cert_check_host` with wildcard patterns: a host certificate, valid at
    /// `now` (Unix seconds), without critical options, signed with an allowed algorithm, and (when
    /// it lists principals) with a principal matching `host_pattern`.
    pub fn check_host(&self, host_pattern: &str, now: u64) -> bool {
        self.usable_at(now)
            && (self.principals().is_empty()
                || self
                    .principals()
                    .iter()
                    .any(|p| crate::pattern::match_pattern(host_pattern.as_bytes(), p.as_bytes())))
    }

    /// Every check of [`HostCertificate::check_host`] but the principal match.
    pub fn usable_at(&self, now: u64) -> bool {
        self.cert.cert_type().is_host()
            && self.cert.valid_after() <= now
            && now < self.cert.valid_before()
            && self.cert.critical_options().is_empty()
            && ALLOWED_CA_SIGALGS.contains(&self.sig_alg.as_slice())
    }
}
