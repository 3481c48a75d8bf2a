//! Why a key file could not be read, precise enough for one clear line to the user.

/// Why a key file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Not a private key in any format agentry reads.
    NotAKey,
    /// A public key (or certificate) was given where a private key is needed.
    PublicKeyOnly,
    /// The file ends early.
    Truncated,
    /// The file is damaged: the reason names the field.
    Malformed(&'static str),
    /// The passphrase is wrong (or the file's integrity check fails).
    WrongPassphrase,
    /// The file is encrypted with a cipher agentry does not support.
    UnsupportedCipher(String),
    /// The file uses a key-derivation function agentry does not support.
    UnsupportedKdf(String),
    /// The file asks for more key-derivation work than [`super::KdfLimits`] allows.
    KdfLimit(String),
    /// The key type is not one agentry can sign with.
    UnsupportedKey(String),
}

impl core::fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotAKey => f.write_str("not a private key file (OpenSSH, PuTTY PPK or PEM)"),
            Self::PublicKeyOnly => f.write_str("this is a public key; a private key is needed"),
            Self::Truncated => f.write_str("the file is truncated"),
            Self::Malformed(what) => write!(f, "malformed key file: {what}"),
            Self::WrongPassphrase => f.write_str("incorrect passphrase"),
            Self::UnsupportedCipher(c) => write!(f, "unsupported cipher {c:?}"),
            Self::UnsupportedKdf(k) => write!(f, "unsupported key derivation {k:?}"),
            Self::KdfLimit(what) => write!(f, "key derivation parameters over the limit: {what}"),
            Self::UnsupportedKey(k) => write!(f, "unsupported key type {k:?}"),
        }
    }
}

impl std::error::Error for KeyFileError {}
