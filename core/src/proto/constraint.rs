//! Key constraints carried by `SSH_AGENTC_ADD_ID_CONSTRAINED` (and PuTTY's `add-ppk`):
//! lifetime, confirm, max-signatures and the extension constraints OpenSSH defines (destination
//! restrictions, associated certificates, a security key's provider).

use super::destination::DestinationConstraint;
use crate::wire::{Reader, WireError, Writer};

/// Most destination constraints on one key (OpenSSH's `AGENT_MAX_DEST_CONSTRAINTS`).
pub const MAX_DEST_CONSTRAINTS: usize = 1024;
/// Most associated certificates on one key (OpenSSH's `AGENT_MAX_EXT_CERTS`).
pub const MAX_EXT_CERTS: usize = 1024;

const LIFETIME: u8 = 1;
const CONFIRM: u8 = 2;
const MAXSIGN: u8 = 3;
const EXTENSION: u8 = 255;
const RESTRICT_DESTINATION: &str = "restrict-destination-v00@openssh.com";
const ASSOCIATED_CERTS: &str = "associated-certs-v00@openssh.com";
const SK_PROVIDER: &str = "sk-provider@openssh.com";

/// Certificates a smartcard-style key may be used with (`associated-certs-v00@openssh.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociatedCerts {
    /// Only the certificates, not the plain key, are to be listed.
    pub certs_only: bool,
    /// Certificate blobs.
    pub certs: Vec<Vec<u8>>,
}

/// One key constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Constraint {
    /// The key is forgotten this many seconds after it was added.
    Lifetime(u32),
    /// Every use must be confirmed by the user.
    Confirm,
    /// XMSS signature budget; agentry holds no XMSS keys and refuses it.
    MaxSignatures(u32),
    /// Where the key may be used (`ssh-add -h`).
    RestrictDestination(Vec<DestinationConstraint>),
    /// Certificates associated with the key.
    AssociatedCerts(AssociatedCerts),
    /// The middleware library (a path, or `internal`) through which a FIDO security key signs
    /// (`sk-provider@openssh.com`; `ssh-add` sends it for every security key).
    SkProvider(String),
}

impl Constraint {
    /// Decodes constraints until the reader is empty.
    pub(crate) fn decode_all(r: &mut Reader<'_>) -> Result<Vec<Self>, WireError> {
        let mut out = Vec::new();
        while !r.is_empty() {
            let c = Self::decode(r)?;
            let duplicate = out
                .iter()
                .any(|o: &Self| core::mem::discriminant(o) == core::mem::discriminant(&c));
            if duplicate {
                return Err(WireError::Invalid("repeated constraint"));
            }
            out.push(c);
        }
        Ok(out)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match r.u8()? {
            LIFETIME => Ok(Self::Lifetime(r.u32()?)),
            CONFIRM => Ok(Self::Confirm),
            MAXSIGN => Ok(Self::MaxSignatures(r.u32()?)),
            EXTENSION => match r.utf8("constraint extension name")? {
                RESTRICT_DESTINATION => {
                    let mut list = r.nested()?;
                    let mut dests = Vec::new();
                    while !list.is_empty() {
                        if dests.len() >= MAX_DEST_CONSTRAINTS {
                            return Err(WireError::TooLarge("destination constraints"));
                        }
                        dests.push(DestinationConstraint::decode(&mut list)?);
                    }
                    Ok(Self::RestrictDestination(dests))
                }
                ASSOCIATED_CERTS => {
                    let certs_only = r.bool()?;
                    let mut list = r.nested()?;
                    let mut certs = Vec::new();
                    while !list.is_empty() {
                        if certs.len() >= MAX_EXT_CERTS {
                            return Err(WireError::TooLarge("associated certificates"));
                        }
                        certs.push(list.string()?.to_vec());
                    }
                    Ok(Self::AssociatedCerts(AssociatedCerts { certs_only, certs }))
                }
                SK_PROVIDER => {
                    let provider = r.utf8("security key provider")?;
                    if provider.contains('\0') {
                        return Err(WireError::Invalid("security key provider"));
                    }
                    Ok(Self::SkProvider(provider.to_owned()))
                }
                _ => Err(WireError::Invalid("unsupported constraint extension")),
            },
            _ => Err(WireError::Invalid("unknown constraint type")),
        }
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        match self {
            Self::Lifetime(secs) => {
                w.u8(LIFETIME).u32(*secs);
            }
            Self::Confirm => {
                w.u8(CONFIRM);
            }
            Self::MaxSignatures(n) => {
                w.u8(MAXSIGN).u32(*n);
            }
            Self::RestrictDestination(dests) => {
                w.u8(EXTENSION)
                    .string(RESTRICT_DESTINATION.as_bytes())
                    .nested(|list| dests.iter().for_each(|d| d.encode(list)));
            }
            Self::SkProvider(provider) => {
                w.u8(EXTENSION)
                    .string(SK_PROVIDER.as_bytes())
                    .string(provider.as_bytes());
            }
            Self::AssociatedCerts(a) => {
                w.u8(EXTENSION)
                    .string(ASSOCIATED_CERTS.as_bytes())
                    .bool(a.certs_only)
                    .nested(|list| {
                        for c in &a.certs {
                            list.string(c);
                        }
                    });
            }
        }
    }
}
