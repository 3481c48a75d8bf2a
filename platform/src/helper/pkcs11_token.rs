//! The helper's end for PKCS#11 (`agentry helper pkcs11`): loads the module with `cryptoki`,
//! opens a session on every slot with a token, logs in with the PIN (once: a wrong PIN is
//! reported, never retried), and lists every RSA and ECDSA (P-256, P-384) public key object
//! and X.509 certificate object as an SSH public key, labelled with the object's `CKA_LABEL`.
//! Signing finds the private key with the same `CKA_ID` on the same token and signs with
//! `CKM_RSA_PKCS` over a DigestInfo (SHA-256, SHA-512, or SHA-1 when the agent allowed it) or
//! `CKM_ECDSA` over the curve's hash, re-encoding the raw `r || s` as an SSH signature. This
//! runs only in the helper process: the module never shares the agent's memory.

use super::der::{self, SpkiKey};
use agentry_core::proto::{HelperFailure, HelperKey, HelperReply, HelperRequest};
use agentry_core::proto::{SIGN_FLAG_RSA_SHA2_256, SIGN_FLAG_RSA_SHA2_512};
use agentry_core::wire::Writer;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::types::RawAuthPin;

/// A loaded module and the keys it yielded.
pub(super) struct Token {
    sessions: Vec<Session>,
    keys: Vec<TokenKey>,
    // Dropped last: sessions close before the module is finalised.
    _module: Pkcs11,
}

/// A key object as listed: its SSH blob, kind, `CKA_ID` and `CKA_LABEL`, and the index of the
/// session (token) it is on.
struct TokenKey {
    blob: Vec<u8>,
    kind: Kind,
    session: usize,
    id: Vec<u8>,
    label: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rsa,
    P256,
    P384,
}

/// State of the helper: nothing until the first request loads a module.
#[derive(Default)]
pub(super) struct Pkcs11Helper {
    token: Option<Token>,
}

impl Pkcs11Helper {
    /// Answers one request.
    pub(super) fn handle(&mut self, request: HelperRequest) -> HelperReply {
        match request {
            HelperRequest::LoadPkcs11 { .. } if self.token.is_some() => {
                HelperReply::failure(HelperFailure::Other, "module already loaded")
            }
            HelperRequest::LoadPkcs11 { module, pin } => match Token::load(&module, &pin) {
                Ok(token) => {
                    let keys = token
                        .keys
                        .iter()
                        .map(|k| HelperKey {
                            blob: k.blob.clone(),
                            comment: k.label.clone(),
                        })
                        .collect();
                    self.token = Some(token);
                    HelperReply::Keys(keys)
                }
                Err(e) => e,
            },
            HelperRequest::Sign {
                key_blob,
                data,
                flags,
            } => match &self.token {
                Some(token) => token.sign(&key_blob, &data, flags),
                None => HelperReply::failure(HelperFailure::Other, "no module loaded"),
            },
            _ => HelperReply::failure(HelperFailure::Other, "not a PKCS#11 request"),
        }
    }
}

fn failure(what: &str, e: &Error) -> HelperReply {
    let reason = match e {
        Error::Pkcs11(RvError::PinIncorrect, _) => HelperFailure::WrongPin,
        Error::Pkcs11(RvError::PinLocked, _) => HelperFailure::PinLocked,
        Error::Pkcs11(
            RvError::DeviceRemoved | RvError::TokenNotPresent | RvError::SessionHandleInvalid,
            _,
        ) => HelperFailure::TokenAbsent,
        _ => HelperFailure::Other,
    };
    HelperReply::failure(reason, format!("{what}: {e}"))
}

impl Token {
    fn load(module: &str, pin: &[u8]) -> Result<Self, HelperReply> {
        let pkcs11 = Pkcs11::new(module).map_err(|e| failure("loading the module", &e))?;
        pkcs11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| failure("C_Initialize", &e))?;
        let slots = pkcs11
            .get_slots_with_initialized_token()
            .map_err(|e| failure("C_GetSlotList", &e))?;
        let mut sessions = Vec::new();
        let mut keys: Vec<TokenKey> = Vec::new();
        for slot in slots {
            // A token that cannot be opened or listed is passed over; a PIN it refuses ends
            // the load (reported once, never retried).
            let session = match pkcs11.open_ro_session(slot) {
                Ok(session) => session,
                Err(e) => {
                    eprintln!("agentry helper: slot {slot}: C_OpenSession: {e}");
                    continue;
                }
            };
            let login_required = pkcs11
                .get_token_info(slot)
                .map(|info| info.login_required())
                .unwrap_or(true);
            if !pin.is_empty() && login_required {
                let raw = RawAuthPin::new(Box::new(pin.to_vec()));
                match session.login_with_raw(UserType::User, &raw) {
                    Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
                    Err(e) => return Err(failure("C_Login", &e)),
                }
            }
            let listed = match list_keys(&session) {
                Ok(listed) => listed,
                Err(e) => {
                    eprintln!("agentry helper: slot {slot}: listing objects: {e}");
                    continue;
                }
            };
            let index = sessions.len();
            for key in listed {
                if !keys.iter().any(|k| k.blob == key.blob) {
                    keys.push(TokenKey {
                        session: index,
                        ..key
                    });
                }
            }
            sessions.push(session);
        }
        Ok(Self {
            sessions,
            keys,
            _module: pkcs11,
        })
    }

    fn sign(&self, key_blob: &[u8], data: &[u8], flags: u32) -> HelperReply {
        let Some(key) = self.keys.iter().find(|k| k.blob == key_blob) else {
            return HelperReply::failure(HelperFailure::Other, "no such key on the token");
        };
        let session = &self.sessions[key.session];
        let template = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(key.id.clone()),
        ];
        let private = match session.find_objects(&template) {
            Ok(found) => match found.first() {
                Some(&handle) => handle,
                None => {
                    return HelperReply::failure(
                        HelperFailure::Other,
                        "no private key with the key's CKA_ID (is the token logged in?)",
                    )
                }
            },
            Err(e) => return failure("C_FindObjects", &e),
        };
        let (mechanism, input, name) = match key.kind {
            Kind::Rsa => {
                let (digest, prefix, name) = rsa_hash(flags);
                let mut input = prefix.to_vec();
                input.extend_from_slice(ring::digest::digest(digest, data).as_ref());
                (Mechanism::RsaPkcs, input, name)
            }
            Kind::P256 => (
                Mechanism::Ecdsa,
                ring::digest::digest(&ring::digest::SHA256, data)
                    .as_ref()
                    .to_vec(),
                "ecdsa-sha2-nistp256",
            ),
            Kind::P384 => (
                Mechanism::Ecdsa,
                ring::digest::digest(&ring::digest::SHA384, data)
                    .as_ref()
                    .to_vec(),
                "ecdsa-sha2-nistp384",
            ),
        };
        let raw = match session.sign(&mechanism, private, &input) {
            Ok(raw) => raw,
            Err(e) => return failure("C_Sign", &e),
        };
        let sig = match key.kind {
            Kind::Rsa => {
                let mut w = Writer::new();
                w.string(name.as_bytes()).string(&raw);
                w.into_bytes()
            }
            Kind::P256 | Kind::P384 => {
                if raw.len() % 2 != 0 || raw.is_empty() {
                    return HelperReply::failure(HelperFailure::Other, "malformed ECDSA signature");
                }
                agentry_core::keys::ecdsa_signature(name, &raw)
            }
        };
        HelperReply::Signature(sig)
    }
}

/// The digest, DigestInfo prefix and SSH name for an RSA signature with `flags` (SHA-1 when no
/// SHA-2 flag: the agent sends such a request only when its policy allows it).
fn rsa_hash(
    flags: u32,
) -> (
    &'static ring::digest::Algorithm,
    &'static [u8],
    &'static str,
) {
    const SHA1: &[u8] = &[
        0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
    ];
    const SHA256: &[u8] = &[
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    const SHA512: &[u8] = &[
        0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
        0x05, 0x00, 0x04, 0x40,
    ];
    if flags & SIGN_FLAG_RSA_SHA2_256 != 0 {
        (&ring::digest::SHA256, SHA256, "rsa-sha2-256")
    } else if flags & SIGN_FLAG_RSA_SHA2_512 != 0 {
        (&ring::digest::SHA512, SHA512, "rsa-sha2-512")
    } else {
        (&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, SHA1, "ssh-rsa")
    }
}

/// Every RSA and ECDSA public key object, then every X.509 certificate object, on one token
/// (session index 0: the caller sets it).
fn list_keys(session: &Session) -> Result<Vec<TokenKey>, Error> {
    let mut out = Vec::new();
    let public = session.find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY)])?;
    for object in public {
        let attrs = session.get_attributes(
            object,
            &[
                AttributeType::KeyType,
                AttributeType::Id,
                AttributeType::Label,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
                AttributeType::EcParams,
                AttributeType::EcPoint,
            ],
        )?;
        let (mut key_type, mut id, mut label) = (None, Vec::new(), Vec::new());
        let (mut n, mut e, mut params, mut point) = (None, None, None, None);
        for attr in attrs {
            match attr {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => label = v,
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                Attribute::EcParams(v) => params = Some(v),
                Attribute::EcPoint(v) => point = Some(der::ec_point(&v)),
                _ => {}
            }
        }
        let key = match key_type {
            Some(KeyType::RSA) => n.zip(e).map(|(n, e)| SpkiKey::Rsa { n, e }),
            Some(KeyType::EC) => params
                .zip(point.flatten())
                .map(|(curve, point)| SpkiKey::Ec { curve, point }),
            _ => None,
        };
        if let Some(listed) = key.and_then(|k| listed(&k, id, label)) {
            out.push(listed);
        }
    }
    let certs = session.find_objects(&[
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
    ])?;
    for object in certs {
        let attrs = session.get_attributes(
            object,
            &[
                AttributeType::Id,
                AttributeType::Label,
                AttributeType::Value,
            ],
        )?;
        let (mut id, mut label, mut value) = (Vec::new(), Vec::new(), Vec::new());
        for attr in attrs {
            match attr {
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => label = v,
                Attribute::Value(v) => value = v,
                _ => {}
            }
        }
        if let Some(listed) = der::certificate_key(&value).and_then(|k| listed(&k, id, label)) {
            out.push(listed);
        }
    }
    Ok(out)
}

/// The SSH public key blob for a token key, if it is a kind agentry signs with.
fn listed(key: &SpkiKey, id: Vec<u8>, label: Vec<u8>) -> Option<TokenKey> {
    let mut w = Writer::new();
    let kind = match key {
        SpkiKey::Rsa { n, e } => {
            let bits = n.iter().skip_while(|&&b| b == 0).count() * 8;
            if bits < 2048 {
                return None;
            }
            w.string(b"ssh-rsa").mpint(e).mpint(n);
            Kind::Rsa
        }
        SpkiKey::Ec { curve, point } => {
            let (kind, name, ident): (Kind, &[u8], &[u8]) = if curve == der::P256_OID {
                (Kind::P256, b"ecdsa-sha2-nistp256", b"nistp256")
            } else if curve == der::P384_OID {
                (Kind::P384, b"ecdsa-sha2-nistp384", b"nistp384")
            } else {
                return None;
            };
            w.string(name).string(ident).string(point);
            kind
        }
    };
    Some(TokenKey {
        blob: w.into_bytes(),
        kind,
        session: 0,
        id,
        label,
    })
}
