//! Keys whose private half lives outside the agent: on a PKCS#11 token (loaded by
//! `SSH_AGENTC_ADD_SMARTCARD_KEY`) or a FIDO authenticator. The core does no I/O, so it reaches
//! them through traits the platform implements: an [`ExternalSigner`] per key, and
//! [`TokenProviders`] to load and unload PKCS#11 providers. Both return boxed futures the agent
//! awaits with no lock held, so a slow token delays only the requests for its own keys.
//! Invariant: an external key is listed, constrained, locked and removed like any other; only
//! the signature itself is asked of its signer, after every check a held key's signature passes.

use crate::keys::SignError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A boxed future as the platform's signers and providers return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What an external signer is asked to sign.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExternalSignRequest {
    /// The data to sign (never logged).
    pub data: Vec<u8>,
    /// `SSH_AGENT_RSA_SHA2_*` flags, as the client sent them.
    pub flags: u32,
    /// The agent's policy: a legacy `ssh-rsa` (SHA-1) signature may be made when no SHA-2
    /// flag is set. When false, an RSA signer must refuse such a request
    /// ([`SignError::LegacySha1Refused`]), as held RSA keys do.
    pub allow_sha1: bool,
}

impl ExternalSignRequest {
    /// A request to sign `data` with the client's `flags` under the agent's SHA-1 policy.
    pub fn new(data: Vec<u8>, flags: u32, allow_sha1: bool) -> Self {
        Self {
            data,
            flags,
            allow_sha1,
        }
    }
}

impl core::fmt::Debug for ExternalSignRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ExternalSignRequest")
            .field("data_len", &self.data.len())
            .field("flags", &self.flags)
            .field("allow_sha1", &self.allow_sha1)
            .finish()
    }
}

/// Makes signatures with a key held outside the agent. The signature comes back SSH-encoded
/// (`string algorithm || string blob`), as [`crate::keys::SigningKey::sign`] makes them; the
/// agent checks it against the key before it answers (a faulty provider cannot make the agent
/// send a signature that does not verify).
pub trait ExternalSigner: Send + Sync + core::fmt::Debug {
    /// Signs; the future must end (with an error if need be) in bounded time.
    fn sign(&self, request: ExternalSignRequest) -> BoxFuture<Result<Vec<u8>, SignError>>;
}

/// One key a provider yields: its public blob (a key or a certificate), comment and signer.
#[derive(Debug, Clone)]
pub struct ExternalKey {
    /// Public key or certificate blob, as listed.
    pub blob: Vec<u8>,
    /// Comment (the token object's label; the agent uses the provider's path when empty).
    pub comment: Vec<u8>,
    /// Signs with the key.
    pub signer: Arc<dyn ExternalSigner>,
}

/// A provider loaded: its resolved path (what keys are tagged with, and what
/// `REMOVE_SMARTCARD_KEY` matches) and the keys it yields.
#[derive(Debug)]
pub struct LoadedProvider {
    /// The resolved path.
    pub provider: String,
    /// Every key and certificate found on the provider's tokens.
    pub keys: Vec<ExternalKey>,
    /// True when the provider was loaded before and its helper restarted now: keys the agent
    /// still holds from it count as added again.
    pub restarted: bool,
}

/// Why a provider was not loaded or unloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderError {
    /// The path does not resolve (`realpath` failed): the reason.
    Unresolvable(String),
    /// The resolved path is outside the allow-list.
    NotAllowed(String),
    /// The provider is loaded already and its helper runs.
    AlreadyLoaded(String),
    /// The provider was not loaded.
    NotLoaded(String),
    /// The token refused the PIN (no retry: the token counts tries).
    WrongPin(String),
    /// The provider or its helper process failed: the reason.
    Failed(String),
}

impl core::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unresolvable(why) => write!(f, "provider path does not resolve: {why}"),
            Self::NotAllowed(path) => write!(f, "provider {path} is not in the allow-list (-P)"),
            Self::AlreadyLoaded(path) => write!(f, "provider {path} is loaded already"),
            Self::NotLoaded(path) => write!(f, "provider {path} is not loaded"),
            Self::WrongPin(path) => write!(f, "the token in {path} refused the PIN"),
            Self::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ProviderError {}

/// Loads and unloads PKCS#11 providers (the platform runs each in a helper process).
pub trait TokenProviders: Send + Sync + core::fmt::Debug {
    /// Resolves `provider`, checks it against the allow-list, loads it (logging in with `pin`
    /// when it is not empty) and lists its keys. Ends in bounded time.
    fn add(
        &self,
        provider: &str,
        pin: Zeroizing<Vec<u8>>,
    ) -> BoxFuture<Result<LoadedProvider, ProviderError>>;

    /// Resolves `provider` and unloads it; `Ok` with the resolved path if it was loaded. The
    /// agent drops the provider's keys whatever the outcome, when the path resolves.
    fn remove(&self, provider: &str) -> BoxFuture<Result<String, ProviderError>>;
}

/// How a held key signs when its private half is elsewhere.
#[derive(Debug, Clone)]
pub(crate) struct ExternalSlot {
    pub(crate) signer: Arc<dyn ExternalSigner>,
    /// The PKCS#11 provider (resolved path) the key came from; `None` for keys that did not
    /// come from `ADD_SMARTCARD_KEY` (they are not touched by `REMOVE_SMARTCARD_KEY`).
    pub(crate) pkcs11_provider: Option<Arc<str>>,
    /// Set for a FIDO security key: what the agent checks before asking its authenticator.
    pub(crate) security_key: Option<SkUse>,
}

/// What the agent checks before it asks a security key's authenticator for a signature.
#[derive(Debug, Clone)]
pub(crate) struct SkUse {
    /// The key's FIDO application (`ssh:` unless chosen otherwise).
    pub(crate) application: String,
    /// The key's signatures need the user's touch.
    pub(crate) needs_touch: bool,
}
