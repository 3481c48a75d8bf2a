//! The DER private keys inside PEM armour, turned into agent keys: PKCS#1 `RSAPrivateKey`, SEC1
//! `ECPrivateKey` (named curves P-256/384/521) and PKCS#8 `PrivateKeyInfo` wrapping either or an
//! Ed25519 seed. ECDSA public points are recomputed from the scalar and must match any public
//! key the file carries; RSA components are copied as they are (ring checks them on use).

use super::DerKind;
use crate::keyfile::KeyFileError;
use crate::keys::PrivateKey;
use der::asn1::{ObjectIdentifier, OctetStringRef};
use der::Decode;
use ssh_key::private::{EcdsaKeypair, Ed25519Keypair, KeypairData, RsaKeypair, RsaPrivateKey};
use ssh_key::public::RsaPublicKey;
use ssh_key::Mpint;
use zeroize::Zeroizing;

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// Decodes `der` as `kind`. When it was just decrypted (`decrypted`), DER that does not parse
/// means the passphrase was wrong (CBC padding matches by chance 1 time in 256).
pub(super) fn decode(
    kind: DerKind,
    der: &[u8],
    decrypted: bool,
) -> Result<PrivateKey, KeyFileError> {
    let bad = || match decrypted {
        true => KeyFileError::WrongPassphrase,
        false => KeyFileError::Malformed("DER"),
    };
    match kind {
        DerKind::Pkcs1 => rsa(der),
        DerKind::Sec1 => ec(der, None),
        DerKind::Pkcs8 => pkcs8(der),
    }
    .map_err(|e| e.unwrap_or_else(bad))
}

/// A decoding failure: `None` for DER that does not parse (the caller decides what that
/// means), `Some` for a definite answer (unsupported key, inconsistent key).
type Failure = Option<KeyFileError>;

fn pkcs8(der: &[u8]) -> Result<PrivateKey, Failure> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|_| None)?;
    let inner = info.private_key.as_bytes();
    let oid = info.algorithm.oid;
    if oid == RSA {
        rsa(inner)
    } else if oid == EC {
        let curve = info.algorithm.parameters_oid().map_err(|_| None)?;
        ec(inner, Some(curve))
    } else if oid == ED25519 {
        let seed = <&OctetStringRef>::from_der(inner).map_err(|_| None)?;
        let seed: &[u8; 32] = seed.as_bytes().try_into().map_err(|_| None)?;
        let keypair = Ed25519Keypair::from_seed(seed);
        if let Some(public) = &info.public_key {
            if public.raw_bytes() != keypair.public.as_ref() {
                return Err(mismatch());
            }
        }
        wrap(KeypairData::Ed25519(keypair))
    } else {
        let name = match oid.to_string().as_str() {
            "1.2.840.10040.4.1" => "ssh-dss".to_owned(),
            "1.3.101.113" => "Ed448".to_owned(),
            other => format!("PKCS#8 algorithm {other}"),
        };
        Err(Some(KeyFileError::UnsupportedKey(name)))
    }
}

fn rsa(der: &[u8]) -> Result<PrivateKey, Failure> {
    let k = pkcs1::RsaPrivateKeyRef::from_der(der).map_err(|_| None)?;
    if k.other_prime_infos.is_some() {
        return Err(Some(KeyFileError::UnsupportedKey("multi-prime RSA".into())));
    }
    let int = |u: pkcs1::UintRef<'_>| Mpint::from_positive_bytes(u.as_bytes());
    let malformed = |_| Some(KeyFileError::Malformed("RSA key components"));
    let public = RsaPublicKey::new(int(k.public_exponent), int(k.modulus)).map_err(malformed)?;
    let private = RsaPrivateKey::new(
        int(k.private_exponent),
        int(k.coefficient),
        int(k.prime1),
        int(k.prime2),
    )
    .map_err(malformed)?;
    wrap(KeypairData::Rsa(
        RsaKeypair::new(public, private).map_err(malformed)?,
    ))
}

/// A SEC1 key; `outer_curve` is the curve named by an enclosing PKCS#8 structure.
fn ec(der: &[u8], outer_curve: Option<ObjectIdentifier>) -> Result<PrivateKey, Failure> {
    let k = sec1::EcPrivateKey::from_der(der).map_err(|_| None)?;
    let inner_curve = k.parameters.and_then(|p| p.named_curve());
    let curve = match (outer_curve, inner_curve) {
        (Some(a), Some(b)) if a != b => {
            return Err(Some(KeyFileError::Malformed(
                "EC curve named twice, differently",
            )))
        }
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => return Err(Some(KeyFileError::Malformed("EC key without its curve"))),
    };
    let keypair = if curve == P256 {
        ecdsa_p256(k.private_key, k.public_key)?
    } else if curve == P384 {
        ecdsa_p384(k.private_key, k.public_key)?
    } else if curve == P521 {
        ecdsa_p521(k.private_key, k.public_key)?
    } else {
        return Err(Some(KeyFileError::UnsupportedKey(format!(
            "EC curve {curve}"
        ))));
    };
    wrap(KeypairData::Ecdsa(keypair))
}

macro_rules! ecdsa_curve {
    ($name:ident, $krate:ident, $width:expr, $variant:ident) => {
        fn $name(scalar: &[u8], public: Option<&[u8]>) -> Result<EcdsaKeypair, Failure> {
            let padded = left_pad(scalar, $width)?;
            let secret = $krate::SecretKey::from_slice(&padded)
                .map_err(|_| Some(KeyFileError::Malformed("EC private scalar")))?;
            let point = secret.public_key();
            if let Some(bytes) = public {
                let given = $krate::PublicKey::from_sec1_bytes(bytes).map_err(|_| mismatch())?;
                if given != point {
                    return Err(mismatch());
                }
            }
            Ok(EcdsaKeypair::$variant {
                public: point.into(),
                private: secret.into(),
            })
        }
    };
}

ecdsa_curve!(ecdsa_p256, p256, 32, NistP256);
ecdsa_curve!(ecdsa_p384, p384, 48, NistP384);
ecdsa_curve!(ecdsa_p521, p521, 66, NistP521);

/// The scalar left-padded to the curve width (some encoders drop leading zero bytes).
fn left_pad(scalar: &[u8], width: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let first = scalar.iter().position(|b| *b != 0).unwrap_or(scalar.len());
    let magnitude = &scalar[first..];
    if magnitude.len() > width {
        return Err(Some(KeyFileError::Malformed("EC private scalar too long")));
    }
    let mut padded = Zeroizing::new(vec![0u8; width]);
    padded[width - magnitude.len()..].copy_from_slice(magnitude);
    Ok(padded)
}

fn mismatch() -> Failure {
    Some(KeyFileError::Malformed(
        "public key does not match the private key",
    ))
}

fn wrap(keypair: KeypairData) -> Result<PrivateKey, Failure> {
    let name = keypair
        .algorithm()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    PrivateKey::new(keypair, None).map_err(|_| Some(KeyFileError::UnsupportedKey(name)))
}
