//! What can go wrong with the OS keyring, one variant per cause the user can act on; every
//! variant about one entry names it, so one line tells the user which key or passphrase is bad.

/// A keyring failure. Entries are shown as `agentry/NAME` (service `agentry`, user name `NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringError {
    /// No keyring answers: on Linux, no Secret Service on the session bus.
    Unavailable {
        /// The platform's own message.
        detail: String,
    },
    /// The keyring refused access to an entry (typically: it is locked).
    Denied {
        /// The entry.
        entry: String,
        /// The platform's own message.
        detail: String,
    },
    /// The entry does not exist.
    Missing {
        /// The entry.
        entry: String,
    },
    /// The entry exists but does not hold what agentry stores there.
    Corrupt {
        /// The entry.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An entry of that name already exists (import does not overwrite).
    Exists {
        /// The entry.
        entry: String,
    },
    /// The name cannot be a keyring entry name.
    InvalidName {
        /// The name as given.
        name: String,
        /// Why not.
        reason: &'static str,
    },
    /// The key is too large to store even split across entries.
    TooLarge {
        /// The entry.
        entry: String,
        /// The encoded size in bytes.
        size: usize,
    },
    /// Any other failure of the platform's store.
    Platform {
        /// The entry.
        entry: String,
        /// The platform's own message.
        detail: String,
    },
}

impl core::fmt::Display for KeyringError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unavailable { detail } => {
                if cfg!(any(windows, target_os = "macos")) {
                    write!(f, "the OS keyring is not available ({detail})")
                } else {
                    write!(
                        f,
                        "no Secret Service on the session bus: is gnome-keyring running? ({detail})"
                    )
                }
            }
            Self::Denied { entry, detail } => write!(
                f,
                "keyring entry agentry/{entry}: access refused, is the keyring locked? ({detail})"
            ),
            Self::Missing { entry } => write!(f, "keyring entry agentry/{entry} does not exist"),
            Self::Corrupt { entry, reason } => {
                write!(f, "keyring entry agentry/{entry} is corrupt: {reason}")
            }
            Self::Exists { entry } => write!(
                f,
                "keyring entry agentry/{entry} already exists (remove it first)"
            ),
            Self::InvalidName { name, reason } => {
                write!(f, "{name:?} cannot name a keyring entry: {reason}")
            }
            Self::TooLarge { entry, size } => write!(
                f,
                "keyring entry agentry/{entry}: {size} bytes is too large to store"
            ),
            Self::Platform { entry, detail } => {
                write!(f, "keyring entry agentry/{entry}: {detail}")
            }
        }
    }
}

impl std::error::Error for KeyringError {}
