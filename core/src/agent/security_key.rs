//! Adding FIDO security keys (`sk-ssh-ed25519@openssh.com`, `sk-ecdsa-sha2-nistp256@openssh.com`
//! and their certificates), as OpenSSH's `process_add_identity` does: the key must come with its
//! provider (`sk-provider@openssh.com`: a middleware path, or `internal`), and a provider other
//! than `internal` may be named only on a connection that is not forwarded (no session-bind) and
//! only when the platform's allow-list admits it. Invariant: a security key is held only with a
//! signer that reaches its authenticator; the key handle is never logged.

use super::external::{ExternalSigner, ExternalSlot, ProviderError, SkUse};
use super::keystore::Entry;
use super::smartcard::{external_entry, is_remote};
use super::{AddError, Agent};
use crate::keys::{PrivateKey, SecurityKey};
use crate::proto::Constraint;
use crate::session::Session;
use std::sync::Arc;

/// The provider OpenSSH's tools name for the platform's own FIDO support.
pub const INTERNAL_PROVIDER: &str = "internal";

/// Reaches FIDO authenticators (the platform implements it: middleware libraries in a helper
/// process, OpenSSH's `ssh-sk-helper`, Windows' `webauthn.dll`).
pub trait SecurityKeyProviders: Send + Sync + core::fmt::Debug {
    /// A signer for `key` through `provider`: [`INTERNAL_PROVIDER`] (any case), or a library
    /// path the implementation resolves and checks against its allow-list. Quick: it loads
    /// nothing (the library is loaded at the first signature), but refuses what could never
    /// sign (a path outside the allow-list, no internal support here).
    fn signer(
        &self,
        provider: &str,
        key: &SecurityKey,
    ) -> Result<Arc<dyn ExternalSigner>, ProviderError>;
}

impl Agent {
    /// An `ADD_IDENTITY` of a security key: takes its provider out of `constraints`, checks it
    /// may be named from this connection, and holds the key with a signer through it. Like any
    /// proven add, it replaces what is held for the same blob if the connection may change it.
    pub(super) fn add_security_key(
        &self,
        session: &Session,
        key: PrivateKey,
        comment: Vec<u8>,
        mut constraints: Vec<Constraint>,
    ) -> Result<(), AddError> {
        let Some(sk) = key.as_security_key() else {
            return Err(AddError::Unsupported("not a security key"));
        };
        let providers = self
            .shared
            .options
            .security_keys
            .clone()
            .ok_or(AddError::Unsupported(
                "this agent has no security key support",
            ))?;
        let position = constraints
            .iter()
            .position(|c| matches!(c, Constraint::SkProvider(_)));
        let Some(Constraint::SkProvider(provider)) = position.map(|i| constraints.remove(i)) else {
            return Err(AddError::Unsupported(
                "a security key needs its provider (sk-provider@openssh.com; ssh-add sends it)",
            ));
        };
        if !provider.eq_ignore_ascii_case(INTERNAL_PROVIDER) && is_remote(session) {
            tracing::info!(target: "agentry::sk", provider = %crate::text::untrusted(&provider), "security key refused: a provider library may not be named over a forwarded connection");
            return Err(AddError::Unsupported(
                "a provider library may not be named over a forwarded connection",
            ));
        }
        let policy = self.policy(constraints)?;
        let signer = providers
            .signer(&provider, sk)
            .map_err(AddError::Provider)?;
        let slot = ExternalSlot {
            signer,
            pkcs11_provider: None,
            security_key: Some(SkUse {
                application: sk.application().to_owned(),
                needs_touch: sk.needs_touch(),
            }),
        };
        let entry = external_entry(key.public_blob(), comment, slot, &policy)?;
        let mut keys = self.keys();
        if let Some(held) = keys.get(&entry.blob) {
            self.permitted(&held, session)?;
        }
        self.insert(&mut keys, entry)
    }
}

/// Runs after every other check on a security key's signature (destinations, confirmation),
/// before its authenticator is asked: refuses a web-origin key's non-SSH data ([`websafe`])
/// and announces a signature that needs a touch. False when the signature is refused.
pub(super) fn may_ask_authenticator(entry: &Entry, sk: &SkUse, data: &[u8]) -> bool {
    if !websafe(&sk.application, &entry.blob, &entry.algorithm, data) {
        tracing::info!(target: "agentry::sk", fingerprint = %entry.fingerprint, application = %crate::text::untrusted(&sk.application), "web-origin security key asked to sign something that is not an SSH message; refused");
        return false;
    }
    if sk.needs_touch {
        tracing::info!(target: "agentry::sk", fingerprint = %entry.fingerprint, algorithm = %entry.algorithm, "touch the security key to sign");
    }
    true
}

/// OpenSSH's `check_websafe_message_contents`: a security key whose application is not `ssh:…`
/// (a web origin's key) signs only what SSH signs — a user-authentication request for this
/// key, or an `SSHSIG` signature request — never a web challenge.
pub(super) fn websafe(application: &str, key_blob: &[u8], algorithm: &str, data: &[u8]) -> bool {
    application.starts_with("ssh:")
        || super::destination::parse_userauth(data, key_blob, algorithm).is_some()
        || is_sshsig_request(data)
}

/// `"SSHSIG" || string namespace || string reserved || string hash_algorithm || string H(msg)`,
/// nothing after (OpenSSH's `parse_sshsig_request`).
fn is_sshsig_request(data: &[u8]) -> bool {
    let Some(rest) = data.strip_prefix(b"SSHSIG") else {
        return false;
    };
    let mut r = crate::wire::Reader::new(rest);
    (0..4).all(|_| r.string().is_ok()) && r.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Writer;

    #[test]
    fn web_origin_keys_sign_only_ssh_messages() {
        let blob = b"key blob";
        let alg = "sk-ssh-ed25519@openssh.com";
        let mut sshsig = Writer::new();
        sshsig
            .raw(b"SSHSIG")
            .string(b"file")
            .string(b"")
            .string(b"sha512")
            .string(&[1; 64]);
        let sshsig = sshsig.into_bytes();
        let mut userauth = Writer::new();
        userauth
            .string(&[9; 32])
            .u8(50)
            .string(b"user")
            .string(b"ssh-connection")
            .string(b"publickey")
            .u8(1)
            .string(alg.as_bytes())
            .string(blob);
        let userauth = userauth.into_bytes();
        let challenge = b"{\"type\":\"webauthn.get\",\"challenge\":\"...\"}";
        assert!(websafe("ssh:", blob, alg, challenge));
        assert!(websafe("ssh:anything", blob, alg, challenge));
        assert!(websafe("https://example.com", blob, alg, &sshsig));
        assert!(websafe("https://example.com", blob, alg, &userauth));
        assert!(!websafe("https://example.com", blob, alg, challenge));
        assert!(!websafe(
            "https://example.com",
            b"other key",
            alg,
            &userauth
        ));
        let mut trailing = sshsig.clone();
        trailing.push(0);
        assert!(!websafe("https://example.com", blob, alg, &trailing));
    }
}
