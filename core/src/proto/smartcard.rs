//! The smartcard (PKCS#11) messages: `SSH_AGENTC_ADD_SMARTCARD_KEY` (20),
//! `SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED` (26) and `SSH_AGENTC_REMOVE_SMARTCARD_KEY` (21),
//! as `ssh-add -s` / `-e` send them. Each is a type with `decode` (the fields after the message
//! number) and `encode` (the whole body); the PIN is kept in a zeroizing buffer and never shown
//! by `Debug`. The provider must be UTF-8 without NUL bytes (OpenSSH reads a C string).

use super::constraint::Constraint;
use super::msg;
use crate::wire::{Reader, WireError, Writer};
use zeroize::Zeroizing;

/// `SSH_AGENTC_ADD_SMARTCARD_KEY` and `SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmartcardAdd {
    /// The provider library's path, as the client gave it.
    pub provider: String,
    /// The token's user PIN (may be empty).
    pub pin: Zeroizing<Vec<u8>>,
    /// Constraints given to every key the provider yields; empty for message 20.
    pub constraints: Vec<Constraint>,
    /// True when the message was `ADD_SMARTCARD_KEY_CONSTRAINED` (even with no constraints).
    pub constrained: bool,
}

/// `SSH_AGENTC_REMOVE_SMARTCARD_KEY`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmartcardRemove {
    /// The provider library's path, as the client gave it.
    pub provider: String,
    /// Sent by `ssh-add -e` (empty) and ignored, as OpenSSH ignores it.
    pub pin: Zeroizing<Vec<u8>>,
}

fn provider(r: &mut Reader<'_>) -> Result<String, WireError> {
    let provider = r.utf8("provider path")?;
    if provider.contains('\0') {
        return Err(WireError::Invalid("provider path"));
    }
    Ok(provider.to_owned())
}

impl SmartcardAdd {
    /// Reads the fields after the message number (`constrained`: it was message 26).
    pub(crate) fn decode(r: &mut Reader<'_>, constrained: bool) -> Result<Self, WireError> {
        let provider = provider(r)?;
        let pin = Zeroizing::new(r.string()?.to_vec());
        let constraints = if constrained {
            Constraint::decode_all(r)?
        } else {
            Vec::new()
        };
        Ok(Self {
            provider,
            pin,
            constraints,
            constrained,
        })
    }

    /// Writes the whole message body.
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(if self.constrained {
            msg::ADD_SMARTCARD_KEY_CONSTRAINED
        } else {
            msg::ADD_SMARTCARD_KEY
        })
        .string(self.provider.as_bytes())
        .string(&self.pin);
        self.constraints.iter().for_each(|c| c.encode(w));
    }
}

impl SmartcardRemove {
    /// Reads the fields after the message number.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            provider: provider(r)?,
            pin: Zeroizing::new(r.string()?.to_vec()),
        })
    }

    /// Writes the whole message body.
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(msg::REMOVE_SMARTCARD_KEY)
            .string(self.provider.as_bytes())
            .string(&self.pin);
    }
}

impl core::fmt::Debug for SmartcardAdd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmartcardAdd")
            .field("provider", &self.provider)
            .field("pin_len", &self.pin.len())
            .field("constraints", &self.constraints)
            .finish()
    }
}

impl core::fmt::Debug for SmartcardRemove {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmartcardRemove")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::proto::{Constraint, Request};

    /// What `ssh-add -s /usr/lib/softhsm/libsofthsm2.so -c -t 60` sends with PIN 1234.
    fn ssh_add_s_bytes() -> Vec<u8> {
        let mut b = vec![26];
        let provider = b"/usr/lib/softhsm/libsofthsm2.so";
        b.extend((provider.len() as u32).to_be_bytes());
        b.extend(provider);
        b.extend(4u32.to_be_bytes());
        b.extend(b"1234");
        b.extend([1, 0, 0, 0, 60, 2]);
        b
    }

    #[test]
    fn add_round_trips() {
        let bytes = ssh_add_s_bytes();
        let Ok(Request::AddSmartcardKey(add)) = Request::decode(&bytes) else {
            panic!("not decoded as a smartcard add");
        };
        assert_eq!(add.provider, "/usr/lib/softhsm/libsofthsm2.so");
        assert_eq!(add.pin.as_slice(), b"1234");
        assert_eq!(
            add.constraints,
            vec![Constraint::Lifetime(60), Constraint::Confirm]
        );
        assert!(!format!("{add:?}").contains("1234"));
        assert_eq!(
            Request::AddSmartcardKey(add).encode().as_slice(),
            bytes.as_slice()
        );
    }

    #[test]
    fn remove_round_trips_and_unconstrained_add_takes_no_constraints() {
        let mut remove = vec![21, 0, 0, 0, 3];
        remove.extend(b"/x.");
        remove.extend(0u32.to_be_bytes());
        let Ok(req @ Request::RemoveSmartcardKey(_)) = Request::decode(&remove) else {
            panic!("not decoded as a smartcard remove");
        };
        assert_eq!(req.encode().as_slice(), remove.as_slice());
        let mut add = remove.clone();
        add[0] = 20;
        assert!(matches!(
            Request::decode(&add),
            Ok(Request::AddSmartcardKey(_))
        ));
        add.push(2);
        assert!(
            Request::decode(&add).is_err(),
            "message 20 has no constraints"
        );
    }

    #[test]
    fn a_provider_with_nul_or_bad_utf8_is_refused() {
        for provider in [&b"/usr/lib/a\0b"[..], &[0xff, 0xfe][..]] {
            let mut b = vec![20];
            b.extend((provider.len() as u32).to_be_bytes());
            b.extend(provider);
            b.extend(0u32.to_be_bytes());
            assert!(Request::decode(&b).is_err());
        }
    }
}
