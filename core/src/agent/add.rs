//! Adding keys, and what each kind of add may change. The rule (docs/security.md, "Adding
//! keys"): only a request that proves possession of the private key may replace, loosen or
//! re-comment a key the agent already holds.
//!
//! - **Proven adds** carry the private key: `SSH_AGENTC_ADD_IDENTITY` and an unencrypted key
//!   file (`add-ppk`, `add-key-file@agentry`). As in OpenSSH they replace a held key's comment
//!   and constraints; the held key's encrypted form is kept only if it was verified (see
//!   [`KeySlot`]).
//! - **Unproven adds** carry an encrypted key file, whose header shows whatever public key its
//!   sender likes. For a key (or certificate) already held such an add changes nothing: it
//!   succeeds only when it repeats the held add exactly (same file, comment and constraints, as
//!   a configuration reload does) and is refused otherwise. A certificate added this way for a
//!   held key carries at least that key's constraints, and shares the key's decryption only when
//!   both came from the same file.
//!
//! Every add of something already held must also be allowed on the connection by the held
//! key's destination constraints (OpenSSH's `identity_permitted`), and no add may grow the
//! identities reply past what OpenSSH's clients accept ([`MAX_IDENTITIES_REPLY`]).

use super::destination;
use super::keystore::{Entry, Keystore};
use super::slot::KeySlot;
use super::{Agent, DeferredPublic};
use crate::keyfile::{KdfLimits, KeyFile, KeyFormat};
use crate::keys::{PrivateKey, SignError, SigningKey};
use crate::proto::{AddIdentity, Constraint, DestinationConstraint, Response};
use crate::session::Session;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The largest identities reply body OpenSSH's clients accept (`MAX_AGENT_REPLY_LEN`, 256 KiB):
/// an add that would make `SSH2_AGENT_IDENTITIES_ANSWER` longer is refused, so that every client
/// can still list the agent.
pub const MAX_IDENTITIES_REPLY: usize = 256 * 1024;

/// What a key may do, from its add-time constraints and the agent's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPolicy {
    /// When the key is forgotten.
    pub(crate) expires: Option<Instant>,
    /// Every use is confirmed (`ssh-add -c`).
    pub(crate) confirm: bool,
    /// Destination restrictions (`ssh-add -h`).
    pub(crate) destinations: Vec<DestinationConstraint>,
}

impl KeyPolicy {
    /// This policy made at least as strict as `key`'s (for a certificate of a held key): any
    /// confirmation, the earlier expiry, and the key's destinations. Two different non-empty
    /// destination lists cannot be combined into one, so they are refused.
    fn at_least(mut self, key: &Entry) -> Result<Self, AddError> {
        self.confirm |= key.confirm;
        self.expires = match (self.expires, key.expires) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if self.destinations.is_empty() {
            self.destinations = key.destinations.clone();
        } else if !key.destinations.is_empty() && self.destinations != key.destinations {
            return Err(AddError::ConflictsWithKey);
        }
        Ok(self)
    }
}

impl Agent {
    /// Adds a key directly (used by the platform for keys loaded at start), with the same rules
    /// as `SSH_AGENTC_ADD_ID_CONSTRAINED` on a local connection.
    pub fn add_key(
        &self,
        key: PrivateKey,
        comment: Vec<u8>,
        constraints: Vec<Constraint>,
    ) -> Result<(), AddError> {
        self.add_proven(&Session::default(), key, comment, constraints)
    }

    /// Adds a key held encrypted until its first use (deferred decryption): it is listed at once
    /// under `public` (the file's public key, or the one given for files that do not show it;
    /// or a certificate for the file's key) and decrypted with a passphrase from the prompter
    /// the first time a client signs with it. A certificate added after its key from the same
    /// file shares the key's decryption: one passphrase serves both. An encrypted file proves
    /// nothing, so for a key already held this changes nothing (see the module documentation).
    pub fn add_encrypted_key(
        &self,
        file: KeyFile,
        public: Option<DeferredPublic>,
        comment: Vec<u8>,
        constraints: Vec<Constraint>,
    ) -> Result<(), AddError> {
        self.add_unproven(&Session::default(), file, public, comment, constraints)
    }

    /// `SSH_AGENTC_ADD_IDENTITY` and `SSH_AGENTC_ADD_ID_CONSTRAINED`.
    pub(super) fn add_identity(&self, session: &Session, add: AddIdentity) -> Response {
        match self.add_proven(session, add.key, add.comment, add.constraints) {
            Ok(()) => Response::Success,
            Err(e) => {
                tracing::info!(target: "agentry::keys", error = %e, "key not added");
                Response::Failure
            }
        }
    }

    /// A key file sent whole (`add-ppk`, `add-key-file@agentry`): unencrypted files are added at
    /// once (they carry the private key); encrypted ones are listed now and decrypted on first
    /// use. `public_key`, when not empty, is what the key is to be listed under: the key itself
    /// or a certificate for it.
    pub(super) fn add_key_file(
        &self,
        session: &Session,
        bytes: &[u8],
        public_key: &[u8],
        comment: &[u8],
        constraints: Vec<Constraint>,
        ppk_only: bool,
    ) -> Result<(), AddError> {
        let file = KeyFile::parse(bytes).map_err(|e| AddError::KeyFile(e.to_string()))?;
        if ppk_only && file.format() != KeyFormat::Ppk {
            return Err(AddError::NotPpk);
        }
        let comment = if comment.is_empty() {
            file.comment().as_bytes().to_vec()
        } else {
            comment.to_vec()
        };
        let public = match public_key {
            [] => None,
            blob => Some(DeferredPublic::from_blob(blob).ok_or(AddError::MalformedPublicKey)?),
        };
        if file.is_encrypted() {
            return self.add_unproven(session, file, public, comment, constraints);
        }
        let (key, _) = file
            .decrypt(&[], &KdfLimits::default())
            .map_err(|e| AddError::KeyFile(e.to_string()))?;
        check_listed_as(public.as_ref(), &key.public_blob())?;
        let key = match public {
            Some(DeferredPublic::Certificate(cert)) => key
                .with_certificate(*cert)
                .map_err(|e| AddError::KeyFile(e.to_string()))?,
            _ => key,
        };
        self.add_proven(session, key, comment, constraints)
    }

    /// An add that carries the private key: replaces what is held for the same blob.
    fn add_proven(
        &self,
        session: &Session,
        key: PrivateKey,
        comment: Vec<u8>,
        constraints: Vec<Constraint>,
    ) -> Result<(), AddError> {
        if key.as_security_key().is_some() {
            return self.add_security_key(session, key, comment, constraints);
        }
        let policy = self.policy(constraints)?;
        let signing = SigningKey::new(&key).map_err(AddError::Key)?;
        let blob = key.public_blob();
        let mut keys = self.keys();
        let slot = match keys.get(&blob) {
            Some(held) => {
                self.permitted(&held, session)?;
                KeySlot::replacing(signing, &held.key)
            }
            None => KeySlot::clear(signing),
        };
        let entry = Entry {
            blob,
            comment,
            algorithm: key.algorithm_name(),
            fingerprint: key.fingerprint(),
            key: Arc::new(slot),
            expires: policy.expires,
            confirm: policy.confirm,
            destinations: policy.destinations,
        };
        self.insert(&mut keys, entry)
    }

    /// An add of an encrypted file: new keys only; a repeat of what is held changes nothing.
    fn add_unproven(
        &self,
        session: &Session,
        file: KeyFile,
        public: Option<DeferredPublic>,
        comment: Vec<u8>,
        constraints: Vec<Constraint>,
    ) -> Result<(), AddError> {
        if !file.is_encrypted() {
            return Err(AddError::NotEncrypted);
        }
        let public = match public {
            Some(public) => public,
            None => DeferredPublic::Key(
                file.public_key()
                    .cloned()
                    .ok_or(AddError::PublicKeyNeeded)?,
            ),
        };
        if let Some(shown) = file.public_key() {
            check_listed_as(Some(&public), &encode(shown)?)?;
        }
        if self.shared.prompter.is_none() {
            return Err(AddError::NoPrompter);
        }
        let mut policy = self.policy(constraints)?;
        let key = public.key();
        let key_blob = encode(key)?;
        let (blob, algorithm) = match &public {
            DeferredPublic::Key(k) => (key_blob.clone(), k.algorithm().as_str().to_owned()),
            DeferredPublic::Certificate(cert) => (
                encode(cert.as_ref())?,
                cert.algorithm().to_certificate_type(),
            ),
        };
        let mut keys = self.keys();
        // A certificate for a held key: at least the key's constraints, and the key's slot when
        // both come from the same file (one passphrase decrypts both).
        let mut slot = None;
        if blob != key_blob {
            if let Some(held_key) = keys.get(&key_blob) {
                self.permitted(&held_key, session)?;
                policy = policy.at_least(&held_key)?;
                if held_key.key.encrypted_digest() == Some(file.digest()) {
                    slot = Some(Arc::clone(&held_key.key));
                }
            }
        }
        if let Some(held) = keys.get(&blob) {
            self.permitted(&held, session)?;
            let repeat = held.key.encrypted_digest() == Some(file.digest())
                && held.comment == comment
                && held.confirm == policy.confirm
                && held.destinations == policy.destinations
                && held.expires.is_some() == policy.expires.is_some();
            return if repeat {
                tracing::debug!(target: "agentry::keys", fingerprint = %held.fingerprint, "encrypted key file added again: nothing changed");
                Ok(())
            } else {
                tracing::info!(target: "agentry::keys", fingerprint = %held.fingerprint, "an encrypted key file may not change a key already held");
                Err(AddError::AlreadyHeld)
            };
        }
        let entry = Entry {
            algorithm,
            fingerprint: key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
            blob,
            comment,
            key: slot.unwrap_or_else(|| Arc::new(KeySlot::encrypted(file))),
            expires: policy.expires,
            confirm: policy.confirm,
            destinations: policy.destinations,
        };
        self.insert(&mut keys, entry)
    }

    /// Inserts `entry` (replacing the entry with its blob, if any) unless the identities reply
    /// would then exceed [`MAX_IDENTITIES_REPLY`]; wakes the expiry timer for an earlier deadline.
    pub(super) fn insert(&self, keys: &mut Keystore, entry: Entry) -> Result<(), AddError> {
        if keys.identities_reply_len_with(&entry) > MAX_IDENTITIES_REPLY {
            return Err(AddError::TooManyKeys);
        }
        tracing::info!(target: "agentry::keys", algorithm = %entry.algorithm, fingerprint = %entry.fingerprint, encrypted = !entry.key.signs_without_passphrase(), external = entry.key.external_form().is_some(), "key added");
        if keys.insert(entry) {
            self.shared.expiry.deadline_moved_earlier();
        }
        self.changed();
        Ok(())
    }

    /// OpenSSH's `identity_permitted` for an add or remove of a held key on this connection.
    pub(super) fn permitted(&self, held: &Entry, session: &Session) -> Result<(), AddError> {
        destination::identity_permitted(held, session, None, self.shared.clock.unix_time())
            .map(drop)
            .map_err(|why| {
                tracing::info!(target: "agentry::keys", fingerprint = %held.fingerprint, reason = why, "change to a restricted key refused");
                AddError::NotPermitted
            })
    }

    /// Applies add-time constraints and defaults: expiry, confirm, destinations.
    pub(super) fn policy(&self, constraints: Vec<Constraint>) -> Result<KeyPolicy, AddError> {
        let mut policy = KeyPolicy {
            expires: None,
            confirm: false,
            destinations: Vec::new(),
        };
        for c in constraints {
            match c {
                Constraint::Lifetime(secs) => {
                    policy.expires = Some(self.now() + Duration::from_secs(u64::from(secs)));
                }
                Constraint::Confirm => policy.confirm = true,
                Constraint::RestrictDestination(d) => policy.destinations = d,
                Constraint::MaxSignatures(_) => {
                    return Err(AddError::Unsupported(
                        "max-signatures applies only to XMSS keys",
                    ))
                }
                Constraint::AssociatedCerts(_) => {
                    return Err(AddError::Unsupported(
                        "associated certificates apply only to smartcard keys",
                    ))
                }
                // A security key's add takes its provider out first (security_key.rs).
                Constraint::SkProvider(_) => {
                    return Err(AddError::Unsupported(
                        "an sk-provider applies only to security keys",
                    ))
                }
            }
        }
        if (policy.confirm || self.shared.options.confirm_all) && self.shared.prompter.is_none() {
            return Err(AddError::NoPrompter);
        }
        if policy.expires.is_none() {
            policy.expires = self.shared.options.default_lifetime.map(|d| self.now() + d);
        }
        Ok(policy)
    }
}

/// What a key file is to be listed under (`listed_as`, if given) must be the file's key or a
/// certificate for it.
fn check_listed_as(listed_as: Option<&DeferredPublic>, key_blob: &[u8]) -> Result<(), AddError> {
    match listed_as {
        Some(public) if encode(public.key())? != key_blob => Err(match public {
            DeferredPublic::Key(_) => AddError::PublicKeyMismatch,
            DeferredPublic::Certificate(_) => AddError::CertificateMismatch,
        }),
        _ => Ok(()),
    }
}

fn encode(value: &impl ssh_encoding::Encode) -> Result<Vec<u8>, AddError> {
    ssh_encoding::Encode::encode_vec(value).map_err(|_| AddError::MalformedPublicKey)
}

/// Why a key was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddError {
    /// The key cannot be used for signing.
    Key(SignError),
    /// The key file cannot be read (the reason, from the key-file reader).
    KeyFile(String),
    /// `add-ppk` was given a file that is not PPK.
    NotPpk,
    /// An encrypted add was given an unencrypted file (add its key directly).
    NotEncrypted,
    /// The file does not show its public key and none was given.
    PublicKeyNeeded,
    /// The public key or certificate given is malformed.
    MalformedPublicKey,
    /// The public key given is not the file's key.
    PublicKeyMismatch,
    /// The certificate given is not for the file's key.
    CertificateMismatch,
    /// Confirmation or deferred decryption needs a prompter, and none is configured.
    NoPrompter,
    /// A constraint agentry does not support for this key.
    Unsupported(&'static str),
    /// The key (or certificate) is held already, and an encrypted file may not change it.
    AlreadyHeld,
    /// A certificate's destination constraints differ from those of its held key.
    ConflictsWithKey,
    /// The key is destination-restricted and not usable on this connection.
    NotPermitted,
    /// The identities reply would exceed [`MAX_IDENTITIES_REPLY`].
    TooManyKeys,
    /// A PKCS#11 provider could not be loaded (or unloaded).
    Provider(super::ProviderError),
    /// The provider yielded no key the agent does not hold already.
    NothingAdded,
}

impl core::fmt::Display for AddError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Key(e) => write!(f, "{e}"),
            Self::KeyFile(why) => f.write_str(why),
            Self::NotPpk => f.write_str("add-ppk was given a key file that is not PPK"),
            Self::NotEncrypted => {
                f.write_str("the key file is not encrypted; add its key directly")
            }
            Self::PublicKeyNeeded => {
                f.write_str("the file does not show its public key; give the public key too")
            }
            Self::MalformedPublicKey => f.write_str("malformed public key or certificate"),
            Self::PublicKeyMismatch => {
                f.write_str("the public key given does not match the key file")
            }
            Self::CertificateMismatch => {
                f.write_str("the certificate is not for the key file's key")
            }
            Self::NoPrompter => f.write_str(
                "confirmation and encrypted keys need a prompter, and none is configured",
            ),
            Self::Unsupported(why) => f.write_str(why),
            Self::AlreadyHeld => f.write_str(
                "the key is held already; an encrypted key file cannot change it (remove it first)",
            ),
            Self::ConflictsWithKey => f.write_str(
                "the certificate's destination constraints differ from those of its key",
            ),
            Self::NotPermitted => {
                f.write_str("the key is restricted to destinations this connection is not bound to")
            }
            Self::Provider(e) => write!(f, "{e}"),
            Self::NothingAdded => f.write_str("the provider has no key the agent does not hold"),
            Self::TooManyKeys => write!(
                f,
                "the list of identities would exceed {MAX_IDENTITIES_REPLY} bytes"
            ),
        }
    }
}

impl std::error::Error for AddError {}
