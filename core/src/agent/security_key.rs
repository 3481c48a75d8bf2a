//! Adding FIDO security keys (`sk-ssh-ed25519@openssh.com`, `sk-ecdsa-sha2-nistp256@openssh.com`
//! and their certificates), as OpenSSH's `process_add_identity` does: the key must come with its
//! provider (`sk-provider@openssh.com`: a middleware path, or `internal`), and a provider other
//! than `internal` may be named only on a connection that is not forwarded (no session-bind) and
//! only when the platform's allow-list admits it. Invariant: a security key is held only with a
//! signer that reaches its authenticator; the key handle is never logged.

use super::add::AddError;
use super::Agent;
use crate::keys::PrivateKey;
use crate::proto::Constraint;
use crate::session::Session;

/// The provider OpenSSH's tools name for the platform's own FIDO support.
pub(super) const INTERNAL_PROVIDER: &str = "internal";

impl Agent {
    /// An `ADD_IDENTITY` of a security key: takes its provider out of `constraints`, checks it
    /// may be used from this connection, and holds the key with a signer through it.
    pub(super) fn add_security_key(
        &self,
        session: &Session,
        key: PrivateKey,
        comment: Vec<u8>,
        mut constraints: Vec<Constraint>,
    ) -> Result<(), AddError> {
        let position = constraints
            .iter()
            .position(|c| matches!(c, Constraint::SkProvider(_)));
        let Some(Constraint::SkProvider(provider)) = position.map(|i| constraints.remove(i)) else {
            return Err(AddError::Unsupported(
                "a security key needs its provider (sk-provider@openssh.com; ssh-add sends it)",
            ));
        };
        let internal = provider.eq_ignore_ascii_case(INTERNAL_PROVIDER);
        if !internal && !session.binds().is_empty() {
            tracing::info!(target: "agentry::keys", "a security key provider may not be named over a forwarded connection");
            return Err(AddError::Unsupported(
                "a security key provider may not be named over a forwarded connection",
            ));
        }
        let _ = (key, comment, self.policy(constraints)?);
        Err(AddError::Unsupported(
            "this agent has no security key support",
        ))
    }
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
        assert!(!websafe("https://example.com", b"other key", alg, &userauth));
        let mut trailing = sshsig.clone();
        trailing.push(0);
        assert!(!websafe("https://example.com", blob, alg, &trailing));
    }
}
