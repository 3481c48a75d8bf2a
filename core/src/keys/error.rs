//! Why a key could not be prepared for signing, or a signature not made. Its own module so
//! that the signer and the RSA implementation it calls share it without depending on each other.

/// Why a key could not be prepared or a signature not made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The key type or size is not one agentry signs with.
    Unsupported(&'static str),
    /// The key's components are inconsistent or out of range.
    Rejected(&'static str),
    /// A legacy `ssh-rsa` (SHA-1) signature was asked for and the agent does not allow them.
    LegacySha1Refused,
    /// The cryptographic operation failed.
    Failed,
}

impl core::fmt::Display for SignError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unsupported(why) | Self::Rejected(why) => f.write_str(why),
            Self::LegacySha1Refused => f.write_str(
                "legacy ssh-rsa (SHA-1) signature refused; set allow_ssh_rsa_sha1 to permit it",
            ),
            Self::Failed => f.write_str("signing failed"),
        }
    }
}

impl std::error::Error for SignError {}
