//! [`SigningKey`]: a private key prepared once, when it is added, so that each signature costs
//! only the signing operation itself. Signatures come out SSH-encoded
//! (`string algorithm || string blob`), ready for `SSH_AGENT_SIGN_RESPONSE`.

use super::error::SignError;
use super::private::PrivateKey;
use super::rsa::{RsaHash, RsaKey};
use crate::proto::msg::{SIGN_FLAG_RSA_SHA2_256, SIGN_FLAG_RSA_SHA2_512};
use crate::wire::Writer;
use ed25519_dalek::Signer as _;
use ssh_key::private::{EcdsaKeypair, KeypairData};

enum Inner {
    Ed25519(ed25519_dalek::SigningKey),
    /// P-256 and P-384 through ring: constant time, nonces hedged (OS CSPRNG mixed with a
    /// key-derived secret and the message digest), several times faster than the alternatives.
    P256(RingEcdsa),
    P384(RingEcdsa),
    P521(p521::ecdsa::SigningKey),
    Rsa(Box<RsaKey>),
}

struct RingEcdsa {
    pair: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl RingEcdsa {
    fn new(
        alg: &'static ring::signature::EcdsaSigningAlgorithm,
        private: &[u8],
        public_sec1: &[u8],
    ) -> Result<Self, SignError> {
        let rng = ring::rand::SystemRandom::new();
        let pair = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            alg,
            private,
            public_sec1,
            &rng,
        )
        .map_err(|_| SignError::Rejected("ECDSA key halves do not match"))?;
        Ok(Self { pair, rng })
    }

    fn sign(&self, data: &[u8]) -> Result<ring::signature::Signature, SignError> {
        self.pair
            .sign(&self.rng, data)
            .map_err(|_| SignError::Failed)
    }
}

/// A key ready to sign. Key material is zeroized on drop (`ring`'s RSA key excepted: see
/// `docs/security.md`) and never printed.
pub struct SigningKey {
    inner: Inner,
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Prepares `key` for signing, checking that its halves belong together.
    pub fn new(key: &PrivateKey) -> Result<Self, SignError> {
        let Some(keypair) = key.keypair() else {
            return Err(SignError::Unsupported(
                "security keys sign through their provider",
            ));
        };
        let inner = match keypair {
            KeypairData::Ed25519(k) => {
                let sk = ed25519_dalek::SigningKey::from_bytes(&k.private.to_bytes());
                if sk.verifying_key().as_bytes() != &k.public.0 {
                    return Err(SignError::Rejected("Ed25519 public key does not match"));
                }
                Inner::Ed25519(sk)
            }
            KeypairData::Ecdsa(k) => ecdsa(k)?,
            KeypairData::Rsa(k) => Inner::Rsa(Box::new(RsaKey::new(k)?)),
            _ => return Err(SignError::Unsupported("unsupported key type")),
        };
        Ok(Self { inner })
    }

    /// A short name of the key kind, for logs and benchmarks.
    pub fn kind(&self) -> &'static str {
        match &self.inner {
            Inner::Ed25519(_) => "ed25519",
            Inner::P256(_) => "ecdsa-p256",
            Inner::P384(_) => "ecdsa-p384",
            Inner::P521(_) => "ecdsa-p521",
            Inner::Rsa(_) => "rsa",
        }
    }

    /// True when a signature costs a few microseconds, so it can be made on the calling task
    /// instead of the blocking pool.
    pub fn is_cheap(&self) -> bool {
        matches!(self.inner, Inner::Ed25519(_) | Inner::P256(_))
    }

    /// Signs `data`. For RSA keys, `flags` picks SHA-256 or SHA-512; no flag means legacy SHA-1,
    /// which is made only when `allow_sha1` is set. Other key types ignore `flags`, as OpenSSH's
    /// agent does.
    pub fn sign(&self, data: &[u8], flags: u32, allow_sha1: bool) -> Result<Vec<u8>, SignError> {
        // Name, blob and their lengths; RSA grows it once to the modulus size.
        let mut w = Writer::with_capacity(192);
        match &self.inner {
            Inner::Ed25519(k) => {
                let sig = k.sign(data);
                w.string(b"ssh-ed25519").string(&sig.to_bytes());
            }
            Inner::P256(k) => ecdsa_blob(&mut w, "ecdsa-sha2-nistp256", k.sign(data)?.as_ref()),
            Inner::P384(k) => ecdsa_blob(&mut w, "ecdsa-sha2-nistp384", k.sign(data)?.as_ref()),
            Inner::P521(k) => {
                let sig: p521::ecdsa::Signature = k.sign(data);
                ecdsa_blob(&mut w, "ecdsa-sha2-nistp521", &sig.to_bytes());
            }
            Inner::Rsa(k) => {
                let hash = if flags & SIGN_FLAG_RSA_SHA2_256 != 0 {
                    RsaHash::Sha256
                } else if flags & SIGN_FLAG_RSA_SHA2_512 != 0 {
                    RsaHash::Sha512
                } else if allow_sha1 {
                    RsaHash::Sha1
                } else {
                    return Err(SignError::LegacySha1Refused);
                };
                let sig = k.sign(hash, data)?;
                w.string(hash.ssh_name().as_bytes()).string(&sig);
            }
        }
        Ok(w.into_bytes())
    }
}

fn ecdsa(k: &EcdsaKeypair) -> Result<Inner, SignError> {
    let mismatch = SignError::Rejected("ECDSA public key does not match");
    let bad = SignError::Rejected("ECDSA private scalar out of range");
    Ok(match k {
        EcdsaKeypair::NistP256 { public, private } => Inner::P256(RingEcdsa::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            private.as_slice(),
            public.as_bytes(),
        )?),
        EcdsaKeypair::NistP384 { public, private } => Inner::P384(RingEcdsa::new(
            &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            private.as_slice(),
            public.as_bytes(),
        )?),
        EcdsaKeypair::NistP521 { public, private } => {
            let sk = p521::ecdsa::SigningKey::from_slice(private.as_slice()).map_err(|_| bad)?;
            if *sk.verifying_key().to_sec1_bytes() != *public.as_bytes() {
                return Err(mismatch);
            }
            Inner::P521(sk)
        }
    })
}

/// `string name || string (mpint r || mpint s)` from a fixed-width `r || s`, written straight
/// into `w` (this is on the signing path).
fn ecdsa_blob(w: &mut Writer, name: &str, rs: &[u8]) {
    let (r, s) = rs.split_at(rs.len() / 2);
    let inner = Writer::mpint_len(r) + Writer::mpint_len(s);
    w.string(name.as_bytes())
        .u32(u32::try_from(inner).unwrap_or(u32::MAX));
    w.mpint(r).mpint(s);
}

/// An SSH ECDSA signature (`string name || string (mpint r || mpint s)`) from the fixed-width
/// `r || s` a PKCS#11 token returns (`CKM_ECDSA`); `name` is the key type, e.g.
/// `ecdsa-sha2-nistp256`.
pub fn ecdsa_signature(name: &str, rs: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_capacity(128);
    ecdsa_blob(&mut w, name, rs);
    w.into_bytes()
}
