//! FIDO security keys: asking an authenticator for an assertion. Three ways in, one per kind of
//! provider a key was added with (`sk-provider@openssh.com`):
//!
//! - a middleware library with OpenSSH's security-key API ([`middleware`], Unix), loaded only
//!   in a helper process under the provider allow-list (`library_helper`, the helper's end);
//! - `internal` on Unix: OpenSSH's own `ssh-sk-helper` ([`openssh_helper`]), as `ssh-agent`
//!   does, when it is installed;
//! - `internal` on Windows: `webauthn.dll` ([`webauthn`]; its request and response encodings
//!   are plain code, tested on every OS).
//!
//! [`SkProviders`] picks one for each key the agent is given. Nothing here logs key handles,
//! PINs or the data signed.

#[cfg(unix)]
pub mod library_helper;
#[cfg(unix)]
mod library_signer;
#[cfg(unix)]
pub mod middleware;
#[cfg(unix)]
pub mod openssh_helper;
mod providers;
pub mod webauthn;

#[cfg(unix)]
pub use library_signer::SK_SIGN_TIMEOUT;
pub use providers::SkProviders;

/// Why an authenticator gave no assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkError {
    /// The key needs a PIN (user verification) and none, or a wrong one, was given.
    PinRequired,
    /// No authenticator holding the key is attached.
    DeviceNotFound,
    /// The authenticator or library does not support what was asked.
    Unsupported,
    /// The library or helper refused the request (its error code).
    Failed(i32),
    /// The library could not be loaded or is not security-key middleware (why).
    Library(String),
    /// `internal` was asked for and nothing here provides it (why).
    NoInternalProvider(String),
    /// The answer was not a well-formed assertion.
    Malformed(&'static str),
    /// The helper process could not be run or talked to (why).
    Helper(String),
}

impl core::fmt::Display for SkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::PinRequired => f.write_str("the security key needs a PIN"),
            Self::DeviceNotFound => f.write_str("no security key holding this key is attached"),
            Self::Unsupported => f.write_str("the security key does not support this request"),
            Self::Failed(code) => write!(f, "the security key provider failed (error {code})"),
            Self::Library(why) => write!(f, "security key provider: {why}"),
            Self::NoInternalProvider(why) => write!(f, "no internal security key support: {why}"),
            Self::Malformed(why) => write!(f, "malformed security key answer: {why}"),
            Self::Helper(why) => write!(f, "security key helper: {why}"),
        }
    }
}

impl std::error::Error for SkError {}
