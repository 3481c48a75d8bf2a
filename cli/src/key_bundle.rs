//! A key as `ssh-add` adds it: the key and, when `FILE-cert.pub` lies next to its file, the
//! certificate too, under one comment and one set of constraints, held either in cleartext or
//! (`agentry add --encrypted`, encrypted config keys) as the encrypted file. [`KeyBundle::add_to`]
//! is the one place that adds the key first and then its certificate (so an encrypted pair
//! shares one decryption), to anything that [`AddsKeys`]: agentry's client for `agentry add`,
//! or the in-process agent for the keys the configuration file names.

use crate::client::Client;
use crate::private_files::HeldFile;
use crate::Failure;
use agentry_core::keyfile::KeyFormat;
use agentry_core::keys::PrivateKey;
use agentry_core::proto::{AddIdentity, Constraint, Extension, Request, Response};
use agentry_core::{Agent, DeferredPublic};
use ssh_encoding::Encode;
use ssh_key::Certificate;
use std::path::{Path, PathBuf};

/// The key's private half, as it is sent.
pub(crate) enum Form {
    /// Decrypted (or never encrypted): sent as the key.
    Clear(PrivateKey),
    /// Held encrypted by the agent until its first use: sent as the file.
    Encrypted(Box<HeldFile>),
}

/// One key with its certificate, if any.
pub(crate) struct KeyBundle {
    pub(crate) form: Form,
    pub(crate) comment: Vec<u8>,
    /// `FILE-cert.pub`, when it lies next to the key file and certifies this key.
    pub(crate) certificate: Option<(PathBuf, Certificate)>,
}

/// What was just added, or failed to be.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Piece<'a> {
    /// The key itself.
    Key,
    /// The certificate, from this file.
    Certificate(&'a Path, &'a Certificate),
}

/// Something keys are added to: the agent over the protocol, or the agent in this process.
pub(crate) trait AddsKeys {
    type Error;

    /// Adds a decrypted key.
    fn add_clear(
        &mut self,
        key: PrivateKey,
        comment: &[u8],
        constraints: &[Constraint],
    ) -> Result<(), Self::Error>;

    /// Adds a key held encrypted, listed under `listed_as` (the file's own public key when
    /// `None`).
    fn add_encrypted(
        &mut self,
        held: &HeldFile,
        listed_as: Option<DeferredPublic>,
        comment: &[u8],
        constraints: &[Constraint],
    ) -> Result<(), Self::Error>;

    /// The error for a certificate that cannot be joined to its key.
    fn certificate_error(path: &Path, why: String) -> Self::Error;
}

impl KeyBundle {
    /// Adds the key, then its certificate; `added` hears of each piece once it is in. On failure
    /// says which piece failed.
    pub(crate) fn add_to<A: AddsKeys>(
        self,
        to: &mut A,
        constraints: &[Constraint],
        mut added: impl FnMut(Piece<'_>),
    ) -> Result<(), (Option<PathBuf>, A::Error)> {
        let Self {
            form,
            comment,
            certificate,
        } = self;
        match form {
            Form::Clear(key) => {
                let plain = key.clone();
                to.add_clear(key, &comment, constraints)
                    .map_err(|e| (None, e))?;
                added(Piece::Key);
                if let Some((path, cert)) = certificate {
                    let certified = plain.with_certificate(cert.clone()).map_err(|e| {
                        (
                            Some(path.clone()),
                            A::certificate_error(&path, e.to_string()),
                        )
                    })?;
                    to.add_clear(certified, &comment, constraints)
                        .map_err(|e| (Some(path.clone()), e))?;
                    added(Piece::Certificate(&path, &cert));
                }
            }
            Form::Encrypted(held) => {
                let listed_as = held.public.clone().map(DeferredPublic::Key);
                to.add_encrypted(&held, listed_as, &comment, constraints)
                    .map_err(|e| (None, e))?;
                added(Piece::Key);
                if let Some((path, cert)) = certificate {
                    let listed_as = DeferredPublic::Certificate(Box::new(cert.clone()));
                    to.add_encrypted(&held, Some(listed_as), &comment, constraints)
                        .map_err(|e| (Some(path.clone()), e))?;
                    added(Piece::Certificate(&path, &cert));
                }
            }
        }
        Ok(())
    }
}

/// `constraints`, with the provider a security key signs through when it is one (as `ssh-add`:
/// `SSH_SK_PROVIDER`, else `internal`), placed where `ssh-add` puts it (before a destination
/// restriction).
fn with_sk_provider(key: &PrivateKey, constraints: &[Constraint]) -> Vec<Constraint> {
    let mut constraints = constraints.to_vec();
    let has_provider = constraints
        .iter()
        .any(|c| matches!(c, Constraint::SkProvider(_)));
    if key.as_security_key().is_some() && !has_provider {
        let provider = std::env::var("SSH_SK_PROVIDER")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "internal".to_owned());
        let at = constraints
            .iter()
            .position(|c| matches!(c, Constraint::RestrictDestination(_)))
            .unwrap_or(constraints.len());
        constraints.insert(at, Constraint::SkProvider(provider));
    }
    constraints
}

/// The agent in this process (keys from the configuration file, loaded at start).
impl AddsKeys for &Agent {
    type Error = String;

    fn add_clear(
        &mut self,
        key: PrivateKey,
        comment: &[u8],
        constraints: &[Constraint],
    ) -> Result<(), String> {
        let constraints = with_sk_provider(&key, constraints);
        self.add_key(key, comment.to_vec(), constraints)
            .map_err(|e| e.to_string())
    }

    fn add_encrypted(
        &mut self,
        held: &HeldFile,
        listed_as: Option<DeferredPublic>,
        comment: &[u8],
        constraints: &[Constraint],
    ) -> Result<(), String> {
        self.add_encrypted_key(
            held.file.clone(),
            listed_as,
            comment.to_vec(),
            constraints.to_vec(),
        )
        .map_err(|e| e.to_string())
    }

    fn certificate_error(path: &Path, why: String) -> String {
        format!("{}: {why}", path.display())
    }
}

/// The agent over the protocol (`agentry add`): `SSH_AGENTC_ADD_ID_CONSTRAINED` for decrypted
/// keys; PuTTY's `add-ppk` for an encrypted PPK listed as itself, else `add-key-file@agentry`.
/// A refusal is [`Failure::Refused`], for the command to say why.
pub(crate) struct OverProtocol<'a>(pub(crate) &'a mut Client);

impl AddsKeys for OverProtocol<'_> {
    type Error = Failure;

    fn add_clear(
        &mut self,
        key: PrivateKey,
        comment: &[u8],
        constraints: &[Constraint],
    ) -> Result<(), Failure> {
        match self
            .0
            .request(&add_clear_request(key, comment, constraints))?
        {
            Response::Success => Ok(()),
            _ => Err(Failure::Refused),
        }
    }

    fn add_encrypted(
        &mut self,
        held: &HeldFile,
        listed_as: Option<DeferredPublic>,
        comment: &[u8],
        constraints: &[Constraint],
    ) -> Result<(), Failure> {
        let request = add_encrypted_request(held, listed_as.as_ref(), comment, constraints)
            .map_err(Failure::new)?;
        match self.0.request(&request)? {
            Response::Success => Ok(()),
            _ => Err(Failure::Refused),
        }
    }

    fn certificate_error(path: &Path, why: String) -> Failure {
        Failure::new(format!("{}: {why}", path.display()))
    }
}

/// `SSH_AGENTC_ADD_ID_CONSTRAINED` (or plain `ADD_IDENTITY`) for a decrypted key.
pub(crate) fn add_clear_request(
    key: PrivateKey,
    comment: &[u8],
    constraints: &[Constraint],
) -> Request {
    let constraints = with_sk_provider(&key, constraints);
    Request::AddIdentity(Box::new(AddIdentity {
        key,
        comment: comment.to_vec(),
        constrained: !constraints.is_empty(),
        constraints,
    }))
}

/// PuTTY's `add-ppk` for an encrypted PPK listed as itself, else `add-key-file@agentry`.
pub(crate) fn add_encrypted_request(
    held: &HeldFile,
    listed_as: Option<&DeferredPublic>,
    comment: &[u8],
    constraints: &[Constraint],
) -> Result<Request, String> {
    let public_key = match listed_as {
        Some(DeferredPublic::Key(key)) => key.encode_vec().ok(),
        Some(DeferredPublic::Certificate(cert)) => {
            Some(cert.encode_vec().map_err(|e| format!("certificate: {e}"))?)
        }
        _ => None,
    };
    let is_certificate = matches!(listed_as, Some(DeferredPublic::Certificate(_)));
    let extension = if held.file.format() == KeyFormat::Ppk && !is_certificate {
        Extension::AddPpk {
            ppk: held.bytes.clone(),
            constraints: constraints.to_vec(),
        }
    } else {
        Extension::AddKeyFile {
            file: held.bytes.clone(),
            public_key: public_key.unwrap_or_default(),
            comment: comment.to_vec(),
            constraints: constraints.to_vec(),
        }
    };
    Ok(Request::Extension(extension))
}
