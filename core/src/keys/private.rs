//! A private key as the agent protocol carries it (`SSH_AGENTC_ADD_IDENTITY`): plain keys in
//! OpenSSH's private-key field order, and `*-cert-v01@openssh.com` keys as a certificate blob
//! followed by only the private fields. Parsing is `ssh-key`'s; this file handles the framing,
//! the certificate layout and the key types agentry accepts. Private fields pass only through
//! [`Writer`]s (which zeroize what they leave behind) and `Zeroizing` buffers. A FIDO security
//! key carries no private key, only what its authenticator needs ([`SecurityKey`]).

use super::sk::SecurityKey;
use crate::wire::{Reader, WireError, Writer};
use ssh_encoding::{Decode, Encode};
use ssh_key::certificate::Certificate;
use ssh_key::private::KeypairData;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg};
use zeroize::Zeroizing;

const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

/// A private key (Ed25519, ECDSA P-256/384/521 or RSA) or a FIDO security key, optionally with
/// its certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    material: Material,
    cert: Option<Box<Certificate>>,
}

/// What the agent holds of the key's private half.
#[derive(Clone, PartialEq, Eq)]
enum Material {
    /// The private key itself.
    Software(KeypairData),
    /// A key on a FIDO authenticator: its key handle, flags and application.
    SecurityKey(SecurityKey),
}

impl core::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm_name())
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Wraps an `ssh-key` keypair (e.g. one read from a file), refusing unsupported types.
    pub fn new(keypair: KeypairData, cert: Option<Certificate>) -> Result<Self, WireError> {
        check_supported(&keypair)?;
        Self::with_material(Material::Software(keypair), cert)
    }

    /// A FIDO security key, optionally with its certificate.
    pub fn security_key(key: SecurityKey, cert: Option<Certificate>) -> Result<Self, WireError> {
        Self::with_material(Material::SecurityKey(key), cert)
    }

    fn with_material(material: Material, cert: Option<Certificate>) -> Result<Self, WireError> {
        let key = Self {
            material,
            cert: cert.map(Box::new),
        };
        if let Some(cert) = &key.cert {
            if key.public_key()? != *cert.public_key() {
                return Err(WireError::Invalid(
                    "certificate does not match its private key",
                ));
            }
        }
        Ok(key)
    }

    /// This key (without any certificate it has) certified by `cert`.
    pub fn with_certificate(&self, cert: Certificate) -> Result<Self, WireError> {
        Self::with_material(self.material.clone(), Some(cert))
    }

    /// The keypair; `None` for a security key.
    pub fn keypair(&self) -> Option<&KeypairData> {
        match &self.material {
            Material::Software(k) => Some(k),
            Material::SecurityKey(_) => None,
        }
    }

    /// The security key, for a key held on a FIDO authenticator.
    pub fn as_security_key(&self) -> Option<&SecurityKey> {
        match &self.material {
            Material::Software(_) => None,
            Material::SecurityKey(k) => Some(k),
        }
    }

    /// The public key (the certified key, for a certificate).
    pub fn public_key(&self) -> Result<KeyData, WireError> {
        match &self.material {
            Material::Software(k) => public_of(k),
            Material::SecurityKey(k) => Ok(k.public().clone()),
        }
    }

    /// The certificate, when the key was added as one.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.cert.as_deref()
    }

    /// The key type name clients see (`ssh-ed25519`, `ssh-rsa-cert-v01@openssh.com`, …).
    pub fn algorithm_name(&self) -> String {
        match &self.cert {
            Some(cert) => cert.algorithm().to_certificate_type(),
            None => match &self.material {
                Material::Software(k) => k
                    .algorithm()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default(),
                Material::SecurityKey(k) => k.algorithm().ssh_name().to_owned(),
            },
        }
    }

    /// The public blob this key is listed and addressed by: the certificate for certificate keys.
    pub fn public_blob(&self) -> Vec<u8> {
        let encoded = match &self.cert {
            Some(cert) => cert.encode_vec().ok(),
            None => self.public_key().ok().and_then(|k| k.encode_vec().ok()),
        };
        encoded.unwrap_or_default()
    }

    /// SHA-256 fingerprint of the underlying public key, as `ssh-add -l` prints it.
    pub fn fingerprint(&self) -> String {
        self.public_key()
            .map(|k| k.fingerprint(HashAlg::Sha256).to_string())
            .unwrap_or_default()
    }

    /// Decodes the key part of an add-identity message (up to, not including, the comment).
    pub fn decode_wire(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let name = r.clone().utf8("key type")?;
        if let Some(base) = name.strip_suffix(CERT_SUFFIX) {
            r.string()?;
            return Self::decode_cert(base, r);
        }
        if SecurityKey::is_sk_name(name) {
            r.string()?;
            return Self::security_key(SecurityKey::decode_plain(name, r)?, None);
        }
        if name.starts_with("ecdsa-sha2-") {
            // Read the fields ourselves: OpenSSH writes the scalar as a minimal mpint, which can
            // be shorter than ssh-key accepts (1 key in 256 has a leading zero byte).
            let mut plain = Writer::new();
            plain
                .string(r.string()?)
                .string(r.string()?)
                .string(r.string()?);
            push_ecdsa_scalar(&mut plain, name, r.string()?)?;
            return Self::new(decode_plain(plain)?, None);
        }
        let mut rest = r.remaining();
        let before = rest.len();
        let keypair = KeypairData::decode(&mut rest).map_err(key_error)?;
        r.advance(before - rest.len())?;
        Self::new(keypair, None)
    }

    fn decode_cert(base: &str, r: &mut Reader<'_>) -> Result<Self, WireError> {
        let cert = Certificate::from_bytes(r.string()?).map_err(key_error)?;
        if cert.algorithm().to_certificate_type() != format!("{base}{CERT_SUFFIX}") {
            return Err(WireError::Invalid(
                "certificate type does not match key type",
            ));
        }
        if matches!(
            cert.public_key(),
            KeyData::SkEd25519(_) | KeyData::SkEcdsaSha2NistP256(_)
        ) {
            let key = SecurityKey::decode_after_cert(cert.public_key(), r)?;
            return Self::security_key(key, Some(cert));
        }
        // Rebuild the plain private-key encoding from the certificate's public half and the
        // private fields that follow it, then let ssh-key parse that.
        let mut plain = Writer::new();
        let private_fields = match cert.public_key() {
            KeyData::Ed25519(_) => {
                plain.string(b"ssh-ed25519");
                2 // string pk, string sk
            }
            KeyData::Ecdsa(pk) => {
                plain
                    .string(pk.algorithm().as_str().as_bytes())
                    .string(pk.curve().as_str().as_bytes())
                    .string(pk.as_sec1_bytes());
                push_ecdsa_scalar(&mut plain, pk.algorithm().as_str(), r.string()?)?;
                0 // mpint d, already copied
            }
            KeyData::Rsa(pk) => {
                plain
                    .string(b"ssh-rsa")
                    .string(pk.n().as_bytes())
                    .string(pk.e().as_bytes());
                4 // mpint d, iqmp, p, q
            }
            _ => return Err(WireError::Invalid("unsupported certificate key type")),
        };
        for _ in 0..private_fields {
            plain.string(r.string()?);
        }
        Self::new(decode_plain(plain)?, Some(cert))
    }

    /// Encodes the key part of an add-identity message, inverse of [`PrivateKey::decode_wire`].
    /// ECDSA scalars are written as minimal `mpint`s, as OpenSSH writes them. Every buffer that
    /// holds private fields is zeroized, `w` too when it grows ([`Writer`]).
    pub fn encode_wire(&self, w: &mut Writer) {
        let keypair = match &self.material {
            Material::Software(k) => k,
            Material::SecurityKey(k) => {
                match &self.cert {
                    Some(cert) => {
                        w.string(cert.algorithm().to_certificate_type().as_bytes());
                        w.string(&cert.encode_vec().unwrap_or_default());
                    }
                    None => {
                        w.string(k.algorithm().ssh_name().as_bytes());
                    }
                }
                k.encode_private(w, self.cert.is_some());
                return;
            }
        };
        let mut fields = Writer::new();
        match &self.cert {
            Some(cert) => {
                w.string(cert.algorithm().to_certificate_type().as_bytes());
                w.string(&cert.encode_vec().unwrap_or_default());
            }
            None => {
                let alg = keypair.algorithm().map(|a| a.as_str().to_owned());
                w.string(alg.unwrap_or_default().as_bytes());
                if let KeypairData::Ecdsa(k) = keypair {
                    let public = ssh_key::public::EcdsaPublicKey::from(k);
                    w.string(k.curve().as_str().as_bytes())
                        .string(public.as_sec1_bytes());
                }
            }
        }
        let private = match keypair {
            KeypairData::Ed25519(k) => k.encode_vec().unwrap_or_default(),
            KeypairData::Ecdsa(k) => {
                fields.mpint(k.private_key_bytes());
                Vec::new()
            }
            KeypairData::Rsa(k) if self.cert.is_some() => {
                k.private().encode_vec().unwrap_or_default()
            }
            KeypairData::Rsa(k) => k.encode_vec().unwrap_or_default(),
            _ => Vec::new(),
        };
        let private = Zeroizing::new(private);
        let fields = Zeroizing::new(fields.into_bytes());
        w.raw(&private).raw(&fields);
    }
}

/// Parses a complete plain private-key encoding (algorithm name and fields), then wipes it.
fn decode_plain(encoded: Writer) -> Result<KeypairData, WireError> {
    let encoded = Zeroizing::new(encoded.into_bytes());
    let mut slice = encoded.as_slice();
    let keypair = KeypairData::decode(&mut slice).map_err(key_error)?;
    if !slice.is_empty() {
        return Err(WireError::TrailingBytes);
    }
    Ok(keypair)
}

/// Appends an ECDSA private scalar (an `mpint` as sent) left-padded to the curve's width.
fn push_ecdsa_scalar(w: &mut Writer, algorithm: &str, mpint: &[u8]) -> Result<(), WireError> {
    let width = match algorithm {
        "ecdsa-sha2-nistp256" => 32,
        "ecdsa-sha2-nistp384" => 48,
        "ecdsa-sha2-nistp521" => 66,
        _ => return Err(WireError::Invalid("unsupported key type")),
    };
    let first = mpint.iter().position(|b| *b != 0).unwrap_or(mpint.len());
    let magnitude = &mpint[first..];
    if magnitude.len() > width {
        return Err(WireError::Invalid("ECDSA private scalar too long"));
    }
    let mut padded = Zeroizing::new(vec![0u8; width]);
    padded[width - magnitude.len()..].copy_from_slice(magnitude);
    w.string(&padded);
    Ok(())
}

/// The public half of a supported keypair.
pub(crate) fn public_of(keypair: &KeypairData) -> Result<KeyData, WireError> {
    match keypair {
        KeypairData::Ed25519(k) => Ok(KeyData::Ed25519(k.public)),
        KeypairData::Ecdsa(k) => Ok(KeyData::Ecdsa(k.into())),
        KeypairData::Rsa(k) => Ok(KeyData::Rsa(k.public().clone())),
        _ => Err(WireError::Invalid("unsupported key type")),
    }
}

fn check_supported(keypair: &KeypairData) -> Result<(), WireError> {
    match keypair.algorithm() {
        Ok(Algorithm::Ed25519 | Algorithm::Ecdsa { .. } | Algorithm::Rsa { .. }) => Ok(()),
        _ => Err(WireError::Invalid("unsupported key type")),
    }
}

fn key_error(e: ssh_key::Error) -> WireError {
    match e {
        ssh_key::Error::AlgorithmUnknown | ssh_key::Error::AlgorithmUnsupported { .. } => {
            WireError::Invalid("unsupported key type")
        }
        ssh_key::Error::Crypto => WireError::Invalid("inconsistent key"),
        _ => WireError::Invalid("malformed key"),
    }
}
