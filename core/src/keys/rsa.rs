//! RSA signing. Every private-key operation for `rsa-sha2-256`/`rsa-sha2-512` goes through
//! `ring`, which is constant time; the RustCrypto `rsa` crate is never used (RUSTSEC-2023-0071).
//! Legacy `ssh-rsa` (SHA-1) signatures, which `ring` cannot make, are refused unless the agent
//! was configured to allow them; then they are made with `crypto-bigint`'s constant-time
//! Montgomery exponentiation and checked against the public key before they leave the agent.

use super::error::SignError;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero, Odd};
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256, RSA_PKCS1_SHA512};
use ssh_key::private::RsaKeypair;
use zeroize::Zeroizing;

/// Largest RSA modulus agentry parses at all; larger keys are refused before any arithmetic.
pub const MAX_RSA_BITS: u32 = 16384;
/// Smallest RSA modulus agentry signs with.
pub const MIN_RSA_BITS: u32 = 2048;

/// Hash used for an RSA signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RsaHash {
    Sha1,
    Sha256,
    Sha512,
}

impl RsaHash {
    pub(crate) fn ssh_name(self) -> &'static str {
        match self {
            Self::Sha1 => "ssh-rsa",
            Self::Sha256 => "rsa-sha2-256",
            Self::Sha512 => "rsa-sha2-512",
        }
    }
}

/// A prepared RSA key.
pub(crate) struct RsaKey {
    ring: RsaKeyPair,
    /// Kept only for legacy SHA-1 signatures (zeroized on drop by `ssh-key`).
    components: RsaKeypair,
    rng: ring::rand::SystemRandom,
}

impl RsaKey {
    pub(crate) fn new(k: &RsaKeypair) -> Result<Self, SignError> {
        let bits = modulus_bits(k.public().n().as_positive_bytes().unwrap_or_default());
        if bits > MAX_RSA_BITS {
            return Err(SignError::Unsupported("RSA modulus above 16384 bits"));
        }
        if bits < MIN_RSA_BITS {
            return Err(SignError::Unsupported("RSA modulus below 2048 bits"));
        }
        let positive = |m: &ssh_encoding::Mpint| m.as_positive_bytes().unwrap_or_default().to_vec();
        let d = Zeroizing::new(positive(k.private().d()));
        let p = Zeroizing::new(positive(k.private().p()));
        let q = Zeroizing::new(positive(k.private().q()));
        let dp = crt_exponent(&d, &p)?;
        let dq = crt_exponent(&d, &q)?;
        let components = ring::rsa::KeyPairComponents {
            public_key: ring::rsa::PublicKeyComponents {
                n: positive(k.public().n()),
                e: positive(k.public().e()),
            },
            d: d.to_vec(),
            p: p.to_vec(),
            q: q.to_vec(),
            dP: dp.to_vec(),
            dQ: dq.to_vec(),
            qInv: positive(k.private().iqmp()),
        };
        let pair = RsaKeyPair::from_components(&components);
        let mut components = components;
        use zeroize::Zeroize;
        components.d.zeroize();
        components.p.zeroize();
        components.q.zeroize();
        components.dP.zeroize();
        components.dQ.zeroize();
        components.qInv.zeroize();
        let pair = pair.map_err(|e| SignError::Rejected(rejection_reason(&e)))?;
        Ok(Self {
            ring: pair,
            components: k.clone(),
            rng: ring::rand::SystemRandom::new(),
        })
    }

    /// Signs `data`, returning the raw signature (no SSH framing).
    pub(crate) fn sign(&self, hash: RsaHash, data: &[u8]) -> Result<Vec<u8>, SignError> {
        let padding = match hash {
            RsaHash::Sha256 => &RSA_PKCS1_SHA256,
            RsaHash::Sha512 => &RSA_PKCS1_SHA512,
            RsaHash::Sha1 => return self.sign_sha1(data),
        };
        let mut sig = vec![0u8; self.ring.public().modulus_len()];
        self.ring
            .sign(padding, &self.rng, data, &mut sig)
            .map_err(|_| SignError::Failed)?;
        Ok(sig)
    }

    /// PKCS#1 v1.5 with SHA-1, made with constant-time modular exponentiation.
    fn sign_sha1(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        const SHA1_DIGEST_INFO: [u8; 15] = [
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ];
        let n_bytes = self
            .components
            .public()
            .n()
            .as_positive_bytes()
            .unwrap_or_default();
        let k = n_bytes.len();
        let digest = sha1(data);
        let t_len = SHA1_DIGEST_INFO.len() + digest.len();
        if k < t_len + 11 {
            return Err(SignError::Failed);
        }
        let mut em = Zeroizing::new(vec![0xffu8; k]);
        em[0] = 0;
        em[1] = 1;
        em[k - t_len - 1] = 0;
        em[k - t_len..k - digest.len()].copy_from_slice(&SHA1_DIGEST_INFO);
        em[k - digest.len()..].copy_from_slice(&digest);

        let bits = u32::try_from(k * 8).map_err(|_| SignError::Failed)?;
        let n = BoxedUint::from_be_slice(n_bytes, bits).map_err(|_| SignError::Failed)?;
        let n = Odd::new(n).into_option().ok_or(SignError::Failed)?;
        let d_bytes = self
            .components
            .private()
            .d()
            .as_positive_bytes()
            .unwrap_or_default();
        let d =
            Zeroizing::new(BoxedUint::from_be_slice(d_bytes, bits).map_err(|_| SignError::Failed)?);
        let m = BoxedUint::from_be_slice(&em, bits).map_err(|_| SignError::Failed)?;
        let params = BoxedMontyParams::new(n.clone());
        let s = BoxedMontyForm::new(m.clone(), &params).pow(&d).retrieve();

        // Check s^e == m with the public key before releasing s (guards against faults).
        let e_bytes = self
            .components
            .public()
            .e()
            .as_positive_bytes()
            .unwrap_or_default();
        let e = BoxedUint::from_be_slice(e_bytes, bits).map_err(|_| SignError::Failed)?;
        let check = BoxedMontyForm::new(s.clone(), &params).pow(&e).retrieve();
        if check != m {
            return Err(SignError::Failed);
        }
        let out = s.to_be_bytes();
        Ok(out[out.len() - k..].to_vec())
    }
}

fn sha1(data: &[u8]) -> Vec<u8> {
    // ring's SHA-1 is only for legacy use, which this is.
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

/// `d mod (prime - 1)`, computed in constant time.
fn crt_exponent(d: &[u8], prime: &[u8]) -> Result<Zeroizing<Vec<u8>>, SignError> {
    let bits = u32::try_from(d.len().max(prime.len()) * 8 + 64).map_err(|_| SignError::Failed)?;
    let d = Zeroizing::new(BoxedUint::from_be_slice(d, bits).map_err(|_| SignError::Failed)?);
    let p = BoxedUint::from_be_slice(prime, bits).map_err(|_| SignError::Failed)?;
    let p_minus_1 = p.wrapping_sub(BoxedUint::one_with_precision(bits));
    let modulus = NonZero::new(p_minus_1)
        .into_option()
        .ok_or(SignError::Rejected("RSA prime is zero or one"))?;
    let r = Zeroizing::new(d.rem(&modulus));
    let bytes = r.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    Ok(Zeroizing::new(bytes[first..].to_vec()))
}

fn modulus_bits(n: &[u8]) -> u32 {
    let Some(first) = n.iter().position(|b| *b != 0) else {
        return 0;
    };
    let bytes = u32::try_from(n.len() - first).unwrap_or(u32::MAX);
    bytes.saturating_mul(8) - n[first].leading_zeros()
}

fn rejection_reason(e: &ring::error::KeyRejected) -> &'static str {
    match e.to_string().as_str() {
        "TooLarge" => "RSA modulus above 4096 bits (not supported by the constant-time backend)",
        "TooSmall" => "RSA modulus or exponent too small (need 2048 bits and e >= 65537)",
        "InconsistentComponents" => "RSA key components are inconsistent",
        _ => "RSA key rejected",
    }
}
