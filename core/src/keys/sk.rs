//! FIDO security keys (`sk-ssh-ed25519@openssh.com`, `sk-ecdsa-sha2-nistp256@openssh.com`): what
//! the agent holds for one ([`SecurityKey`]: the public key with its application string, the
//! key's flags and the authenticator's key handle), and the signature OpenSSH makes from an
//! authenticator's assertion ([`SkAssertion::ssh_signature`]). The private key never leaves the
//! authenticator; the key handle is what lets the authenticator find (or unwrap) it, so it is
//! held in zeroizing buffers and never printed. Layouts are OpenSSH's (`sshkey.c`,
//! `ssh-ed25519-sk.c`, `ssh-ecdsa-sk.c`, `ssh-sk.c`; PROTOCOL.u2f).

use super::error::SignError;
use crate::wire::{Reader, WireError, Writer};
use ssh_encoding::{Decode, Encode};
use ssh_key::public::KeyData;
use zeroize::Zeroizing;

/// The key's signatures need the user's touch (`SSH_SK_USER_PRESENCE_REQD`); a key made with
/// `-O no-touch-required` lacks it.
pub const SK_USER_PRESENCE_REQD: u8 = 0x01;
/// The key's signatures need a PIN or biometric (`SSH_SK_USER_VERIFICATION_REQD`).
pub const SK_USER_VERIFICATION_REQD: u8 = 0x04;

const ED25519_SK: &str = "sk-ssh-ed25519@openssh.com";
const ECDSA_SK: &str = "sk-ecdsa-sha2-nistp256@openssh.com";

/// Which signature algorithm an authenticator is asked for (the security-key API's `alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkAlgorithm {
    /// ECDSA P-256 with SHA-256 (`SSH_SK_ECDSA`, 0).
    EcdsaP256,
    /// Ed25519 (`SSH_SK_ED25519`, 1).
    Ed25519,
}

impl SkAlgorithm {
    /// The value the security-key API's `sk_sign` takes.
    pub fn api_value(self) -> u32 {
        match self {
            Self::EcdsaP256 => 0,
            Self::Ed25519 => 1,
        }
    }

    /// The SSH key type name.
    pub fn ssh_name(self) -> &'static str {
        match self {
            Self::EcdsaP256 => ECDSA_SK,
            Self::Ed25519 => ED25519_SK,
        }
    }
}

/// A key held on a FIDO authenticator: everything the agent needs to ask it for a signature.
#[derive(Clone, PartialEq, Eq)]
pub struct SecurityKey {
    public: KeyData,
    flags: u8,
    key_handle: Zeroizing<Vec<u8>>,
    reserved: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for SecurityKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The key handle is never printed.
        f.debug_struct("SecurityKey")
            .field("algorithm", &self.algorithm())
            .field("application", &self.application())
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl SecurityKey {
    /// True for the security-key type names (plain, not certificates).
    pub fn is_sk_name(name: &str) -> bool {
        name == ED25519_SK || name == ECDSA_SK
    }

    /// Decodes a plain sk key's fields after its type name `name` (already read): the public
    /// fields, then `string application || byte flags || string key_handle || string reserved`.
    pub(crate) fn decode_plain(name: &str, r: &mut Reader<'_>) -> Result<Self, WireError> {
        let mut public = Writer::new();
        public.string(name.as_bytes());
        match name {
            ED25519_SK => {
                public.string(r.string()?);
            }
            ECDSA_SK => {
                public.string(r.string()?).string(r.string()?);
            }
            _ => return Err(WireError::Invalid("unsupported key type")),
        }
        Self::decode_private_fields(public, r)
    }

    /// Decodes the private fields that follow a security-key certificate whose certified key is
    /// `certified`: for Ed25519 the public key again (it must match), then the application (it
    /// must match the certificate's), flags, key handle and reserved field, as OpenSSH's
    /// `sshkey_private_deserialize` reads them.
    pub(crate) fn decode_after_cert(
        certified: &KeyData,
        r: &mut Reader<'_>,
    ) -> Result<Self, WireError> {
        let mut public = Writer::new();
        match certified {
            KeyData::SkEd25519(k) => {
                let pk = r.string()?;
                if pk != k.public_key().0.as_slice() {
                    return Err(WireError::Invalid(
                        "certificate does not match its private key",
                    ));
                }
                public.string(ED25519_SK.as_bytes()).string(pk);
            }
            KeyData::SkEcdsaSha2NistP256(k) => {
                public
                    .string(ECDSA_SK.as_bytes())
                    .string(b"nistp256")
                    .string(k.ec_point().as_bytes());
            }
            _ => return Err(WireError::Invalid("unsupported certificate key type")),
        }
        let key = Self::decode_private_fields(public, r)?;
        if key.public != *certified {
            return Err(WireError::Invalid(
                "certificate does not match its private key",
            ));
        }
        Ok(key)
    }

    /// Reads `string application || byte flags || string key_handle || string reserved`, the
    /// application completing `public` (the public blob so far, without it).
    fn decode_private_fields(mut public: Writer, r: &mut Reader<'_>) -> Result<Self, WireError> {
        let application = r.string()?;
        if application.is_empty() || application.contains(&0) {
            return Err(WireError::Invalid("security key application"));
        }
        public.string(application);
        let blob = public.into_bytes();
        let public = KeyData::decode(&mut blob.as_slice())
            .map_err(|_| WireError::Invalid("malformed security key"))?;
        let flags = r.u8()?;
        let key_handle = Zeroizing::new(r.string()?.to_vec());
        let reserved = Zeroizing::new(r.string()?.to_vec());
        Ok(Self {
            public,
            flags,
            key_handle,
            reserved,
        })
    }

    /// Writes the private fields that follow the type name (plain) or the certificate
    /// (`after_cert`), inverse of the decoders above.
    pub(crate) fn encode_private(&self, w: &mut Writer, after_cert: bool) {
        match &self.public {
            KeyData::SkEd25519(k) => {
                w.string(&k.public_key().0);
            }
            KeyData::SkEcdsaSha2NistP256(k) if !after_cert => {
                w.string(b"nistp256").string(k.ec_point().as_bytes());
            }
            _ => {}
        }
        w.string(self.application().as_bytes())
            .u8(self.flags)
            .string(&self.key_handle)
            .string(&self.reserved);
    }

    /// The plain private-key encoding (type name and fields), as OpenSSH's
    /// `sshkey_private_serialize` writes it for `ssh-sk-helper`.
    pub fn private_blob(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new();
        w.string(self.algorithm().ssh_name().as_bytes());
        self.encode_private(&mut w, false);
        Zeroizing::new(w.into_bytes())
    }

    /// The public key (with its application).
    pub fn public(&self) -> &KeyData {
        &self.public
    }

    /// The public key blob.
    pub fn public_blob(&self) -> Vec<u8> {
        self.public.encode_vec().unwrap_or_default()
    }

    /// SHA-256 fingerprint of the public key, as `ssh-add -l` prints it.
    pub fn fingerprint(&self) -> String {
        self.public
            .fingerprint(ssh_key::HashAlg::Sha256)
            .to_string()
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> SkAlgorithm {
        match self.public {
            KeyData::SkEd25519(_) => SkAlgorithm::Ed25519,
            _ => SkAlgorithm::EcdsaP256,
        }
    }

    /// The FIDO application (relying party) string, `ssh:` unless chosen otherwise.
    pub fn application(&self) -> &str {
        match &self.public {
            KeyData::SkEd25519(k) => k.application(),
            KeyData::SkEcdsaSha2NistP256(k) => k.application(),
            _ => "",
        }
    }

    /// The key's flags (`SSH_SK_*`), passed to the authenticator with every signature.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// True when a signature needs the user to touch the authenticator.
    pub fn needs_touch(&self) -> bool {
        self.flags & SK_USER_PRESENCE_REQD != 0
    }

    /// The authenticator's key handle (credential id). Secret-ish: never log it.
    pub fn key_handle(&self) -> &[u8] {
        &self.key_handle
    }
}

/// What an authenticator returns for one signature (the security-key API's
/// `sk_sign_response`): its flags and counter, and the signature (`sig_r` alone for Ed25519,
/// `r` and `s` as big-endian integers for ECDSA).
#[derive(Clone, PartialEq, Eq)]
pub struct SkAssertion {
    /// The authenticator's flags for this signature (user present, verified, …).
    pub flags: u8,
    /// The authenticator's signature counter.
    pub counter: u32,
    /// Ed25519: the 64-byte signature; ECDSA: `r`.
    pub sig_r: Vec<u8>,
    /// ECDSA: `s`; empty for Ed25519.
    pub sig_s: Vec<u8>,
}

impl core::fmt::Debug for SkAssertion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SkAssertion")
            .field("flags", &self.flags)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl SkAssertion {
    /// OpenSSH's signature for `alg` (`ssh-sk.c`): `string name || string sig || byte flags ||
    /// uint32 counter`, where `sig` is the Ed25519 signature or `mpint r || mpint s`.
    pub fn ssh_signature(&self, alg: SkAlgorithm) -> Result<Vec<u8>, SignError> {
        let mut w = Writer::with_capacity(128);
        w.string(alg.ssh_name().as_bytes());
        match alg {
            SkAlgorithm::Ed25519 => {
                if self.sig_r.len() != 64 || !self.sig_s.is_empty() {
                    return Err(SignError::Rejected(
                        "authenticator returned a malformed Ed25519 signature",
                    ));
                }
                w.string(&self.sig_r);
            }
            SkAlgorithm::EcdsaP256 => {
                let (r, s) = (trim(&self.sig_r), trim(&self.sig_s));
                if r.is_empty() || s.is_empty() || r.len() > 32 || s.len() > 32 {
                    return Err(SignError::Rejected(
                        "authenticator returned a malformed ECDSA signature",
                    ));
                }
                w.nested(|inner| {
                    inner.mpint(r).mpint(s);
                });
            }
        }
        w.u8(self.flags).u32(self.counter);
        Ok(w.into_bytes())
    }
}

fn trim(magnitude: &[u8]) -> &[u8] {
    let first = magnitude
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(magnitude.len());
    &magnitude[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed25519_wire(application: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        w.string(&[7u8; 32])
            .string(application)
            .u8(SK_USER_PRESENCE_REQD)
            .string(b"handle")
            .string(b"");
        w.into_bytes()
    }

    #[test]
    fn ed25519_sk_round_trips_and_hides_its_handle() {
        let bytes = ed25519_wire(b"ssh:");
        let mut r = Reader::new(&bytes);
        let key = SecurityKey::decode_plain(ED25519_SK, &mut r).unwrap();
        assert!(r.is_empty());
        assert_eq!(key.application(), "ssh:");
        assert!(key.needs_touch());
        assert_eq!(key.key_handle(), b"handle");
        assert_eq!(key.algorithm(), SkAlgorithm::Ed25519);
        let mut again = Writer::new();
        key.encode_private(&mut again, false);
        assert_eq!(again.into_bytes(), bytes);
        assert!(!format!("{key:?}").contains("handle\""));
        assert!(!format!("{key:?}").contains("104, 97"));
    }

    #[test]
    fn empty_or_nul_application_is_refused() {
        for app in [&b""[..], b"ssh:\0x"] {
            let bytes = ed25519_wire(app);
            assert!(SecurityKey::decode_plain(ED25519_SK, &mut Reader::new(&bytes)).is_err());
        }
    }

    #[test]
    fn signatures_take_openssh_layout() {
        let ed = SkAssertion {
            flags: 1,
            counter: 0x0102_0304,
            sig_r: vec![9; 64],
            sig_s: Vec::new(),
        };
        let sig = ed.ssh_signature(SkAlgorithm::Ed25519).unwrap();
        let mut r = Reader::new(&sig);
        assert_eq!(r.string().unwrap(), ED25519_SK.as_bytes());
        assert_eq!(r.string().unwrap(), &[9; 64][..]);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u32().unwrap(), 0x0102_0304);
        assert!(r.is_empty());

        let ec = SkAssertion {
            flags: 5,
            counter: 7,
            sig_r: [&[0u8][..], &[0x80; 31]].concat(),
            sig_s: vec![1; 32],
        };
        let sig = ec.ssh_signature(SkAlgorithm::EcdsaP256).unwrap();
        let mut r = Reader::new(&sig);
        assert_eq!(r.string().unwrap(), ECDSA_SK.as_bytes());
        let mut inner = r.nested().unwrap();
        assert_eq!(inner.string().unwrap(), [&[0u8][..], &[0x80; 31]].concat());
        assert_eq!(inner.string().unwrap(), &[1; 32][..]);
        assert!(inner.is_empty());
        assert_eq!((r.u8().unwrap(), r.u32().unwrap()), (5, 7));

        let short = SkAssertion {
            sig_r: vec![1; 63],
            ..ed
        };
        assert!(short.ssh_signature(SkAlgorithm::Ed25519).is_err());
    }
}
