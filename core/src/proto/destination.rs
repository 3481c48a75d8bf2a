//! `restrict-destination-v00@openssh.com` constraints (`ssh-add -h`): each constraint names a
//! hop the key may be used from and the hop it may be used to, with the host keys that identify
//! them. Layout and validity rules follow OpenSSH's `parse_dest_constraint{,_hop}`.

use crate::wire::{Reader, WireError, Writer};

/// Longest user or host name accepted in a hop (`ssh-add` never sends more than a few dozen).
pub const MAX_USERNAME_LEN: usize = 256;
/// Most host keys accepted in one hop.
pub const MAX_HOP_KEYS: usize = 1024;

/// A host key that identifies a hop, or a CA that signs its host certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopKey {
    /// The public key blob.
    pub key_blob: Vec<u8>,
    /// True when the key is a certificate authority (`@cert-authority` in known_hosts).
    pub is_ca: bool,
}

/// One end of a destination constraint. Empty `hostname` and no keys on a `from` hop mean "the
/// machine the agent runs on".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hop {
    /// User name; must be empty on a `from` hop; on a `to` hop, empty means any user.
    pub user: String,
    /// Host name as the user wrote it (for display; keys decide).
    pub hostname: String,
    /// Host keys that identify this hop.
    pub keys: Vec<HopKey>,
}

/// One permitted step: from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationConstraint {
    /// Where the request may come from.
    pub from: Hop,
    /// Where the key may be used.
    pub to: Hop,
}

impl Hop {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let user = bounded_name(r, "hop user name")?;
        let hostname = bounded_name(r, "hop host name")?;
        r.string()?; // reserved
        let mut keys = Vec::new();
        while !r.is_empty() {
            if keys.len() >= MAX_HOP_KEYS {
                return Err(WireError::TooLarge("host keys in one hop"));
            }
            let key_blob = r.string()?.to_vec();
            let is_ca = r.bool()?;
            keys.push(HopKey { key_blob, is_ca });
        }
        Ok(Self {
            user,
            hostname,
            keys,
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.string(self.user.as_bytes())
            .string(self.hostname.as_bytes())
            .string(&[]);
        for key in &self.keys {
            w.string(&key.key_blob).bool(key.is_ca);
        }
    }
}

fn bounded_name(r: &mut Reader<'_>, what: &'static str) -> Result<String, WireError> {
    let raw = r.string()?;
    if raw.len() > MAX_USERNAME_LEN {
        return Err(WireError::TooLarge(what));
    }
    let s = core::str::from_utf8(raw).map_err(|_| WireError::Invalid(what))?;
    if s.contains('\0') {
        return Err(WireError::Invalid(what));
    }
    Ok(s.to_owned())
}

impl DestinationConstraint {
    /// Decodes one constraint (a `string` holding from-hop, to-hop and a reserved string) and
    /// applies OpenSSH's validity rules.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let mut c = r.nested()?;
        let from = Hop::decode(&mut c.nested()?)?;
        let to = Hop::decode(&mut c.nested()?)?;
        c.string()?; // reserved
        c.finish()?;
        if !from.user.is_empty() {
            return Err(WireError::Invalid("destination constraint: from-hop user"));
        }
        if from.hostname.is_empty() != from.keys.is_empty() {
            return Err(WireError::Invalid(
                "destination constraint: from-hop host without keys",
            ));
        }
        if to.hostname.is_empty() || to.keys.is_empty() {
            return Err(WireError::Invalid(
                "destination constraint: to-hop without host or keys",
            ));
        }
        Ok(Self { from, to })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.nested(|c| {
            c.nested(|h| self.from.encode(h));
            c.nested(|h| self.to.encode(h));
            c.string(&[]);
        });
    }
}
