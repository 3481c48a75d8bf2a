//! The private blob of a PPK file, turned into a [`PrivateKey`] together with the public blob
//! from the file's `Public-Lines`: `ssh-rsa` is `mpint d, p, q, iqmp`; `ssh-ed25519` a string
//! holding the 32-byte seed little-endian (older PuTTY wrote it minimal, so it may be shorter:
//! the missing high bytes are zero); `ecdsa-sha2-*` an `mpint` scalar, left-padded here to the
//! field width. What follows the fields is padding. The result must pass
//! [`SigningKey::new`]'s check that the private half belongs to the public one.

use super::super::KeyFileError;
use crate::keys::{PrivateKey, SignError, SigningKey};
use crate::wire::Reader;
use ssh_encoding::Mpint;
use ssh_key::private::{
    EcdsaKeypair, EcdsaPrivateKey, Ed25519Keypair, Ed25519PrivateKey, KeypairData, RsaKeypair,
    RsaPrivateKey,
};
use ssh_key::public::{EcdsaPublicKey, KeyData};
use zeroize::Zeroizing;

const BAD: KeyFileError = KeyFileError::Malformed("private key fields");

/// Builds the key from `public` and the decrypted, authenticated private blob.
pub(super) fn private_key(public: &KeyData, private: &[u8]) -> Result<PrivateKey, KeyFileError> {
    let mut r = Reader::new(private);
    let mut field = || r.string().map_err(|_| BAD);
    let keypair = match public {
        KeyData::Ed25519(pk) => {
            let le = field()?;
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.get_mut(..le.len()).ok_or(BAD)?.copy_from_slice(le);
            KeypairData::Ed25519(Ed25519Keypair {
                public: *pk,
                private: Ed25519PrivateKey::from_bytes(&seed),
            })
        }
        KeyData::Ecdsa(pk) => {
            let scalar = field()?;
            KeypairData::Ecdsa(match pk {
                EcdsaPublicKey::NistP256(public) => EcdsaKeypair::NistP256 {
                    public: *public,
                    private: EcdsaPrivateKey::from(*padded::<32>(scalar)?),
                },
                EcdsaPublicKey::NistP384(public) => EcdsaKeypair::NistP384 {
                    public: *public,
                    private: EcdsaPrivateKey::from(*padded::<48>(scalar)?),
                },
                EcdsaPublicKey::NistP521(public) => EcdsaKeypair::NistP521 {
                    public: *public,
                    private: EcdsaPrivateKey::from(*padded::<66>(scalar)?),
                },
            })
        }
        KeyData::Rsa(pk) => {
            let mut mpint = || Mpint::from_bytes(field()?).map_err(|_| BAD);
            let (d, p, q, iqmp) = (mpint()?, mpint()?, mpint()?, mpint()?);
            let private = RsaPrivateKey::new(d, iqmp, p, q).map_err(|_| BAD)?;
            KeypairData::Rsa(RsaKeypair::new(pk.clone(), private).map_err(|_| BAD)?)
        }
        other => {
            let name = other.algorithm().as_str().to_owned();
            return Err(KeyFileError::UnsupportedKey(name));
        }
    };
    let key = PrivateKey::new(keypair, None)
        .map_err(|_| KeyFileError::UnsupportedKey(public.algorithm().as_str().to_owned()))?;
    match SigningKey::new(&key) {
        Ok(_) => Ok(key),
        Err(SignError::Unsupported(why)) => Err(KeyFileError::UnsupportedKey(why.to_owned())),
        Err(_) => Err(KeyFileError::Malformed(
            "the private key does not belong to the public key",
        )),
    }
}

/// An `mpint` magnitude (leading zeros dropped) left-padded to `N` bytes.
fn padded<const N: usize>(mpint: &[u8]) -> Result<Zeroizing<[u8; N]>, KeyFileError> {
    let first = mpint.iter().position(|b| *b != 0).unwrap_or(mpint.len());
    let magnitude = &mpint[first..];
    let mut out = Zeroizing::new([0u8; N]);
    let start = N.checked_sub(magnitude.len()).ok_or(BAD)?;
    out[start..].copy_from_slice(magnitude);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Writer;
    use ssh_key::public::Ed25519PublicKey;

    fn strings(fields: &[&[u8]]) -> Vec<u8> {
        let mut w = Writer::new();
        for f in fields {
            w.string(f);
        }
        w.into_bytes()
    }

    /// Older PuTTY wrote the Ed25519 seed as a minimal little-endian integer: a seed whose last
    /// byte is zero arrives as 31 bytes.
    #[test]
    fn short_ed25519_seed_is_zero_extended() {
        let mut seed = [7u8; 32];
        seed[31] = 0;
        let pk = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let public = KeyData::Ed25519(Ed25519PublicKey(pk.to_bytes()));
        let key = private_key(&public, &strings(&[&seed[..31]])).unwrap();
        assert_eq!(
            key.public_blob(),
            ssh_encoding::Encode::encode_vec(&public).unwrap()
        );
        // Padding after the field is ignored; a wrong or over-long seed is refused.
        assert!(private_key(&public, &strings(&[&seed[..31], b"pad"])).is_ok());
        assert!(private_key(&public, &strings(&[&[7u8; 32]])).is_err());
        assert!(private_key(&public, &strings(&[&[7u8; 33]])).is_err());
        assert!(private_key(&public, &[0, 0, 0]).is_err());
    }

    #[test]
    fn short_ecdsa_scalar_is_left_padded() {
        let mut scalar = [0x42u8; 32];
        scalar[0] = 0;
        let sk = p256::ecdsa::SigningKey::from_slice(&scalar).unwrap();
        let point = sk.verifying_key().to_sec1_bytes();
        let public = KeyData::Ecdsa(EcdsaPublicKey::from_sec1_bytes(&point).unwrap());
        let key = private_key(&public, &strings(&[&scalar[1..]])).unwrap();
        assert_eq!(
            key.public_blob(),
            ssh_encoding::Encode::encode_vec(&public).unwrap()
        );
        assert!(private_key(&public, &strings(&[&[0x42u8; 33]])).is_err());
        assert!(private_key(&public, &strings(&[&[0x43u8; 32]])).is_err());
    }
}
