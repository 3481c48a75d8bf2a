//! Where keyring entries are kept: [`OsBackend`] over the `keyring` crate (Secret Service,
//! Credential Manager, Keychain), and [`MemoryBackend`], an in-process map with the same size
//! limit for unit tests. Both store bytes under a user name in service `agentry`.

use super::KeyringError;
use std::collections::HashMap;
use std::sync::Mutex;
use zeroize::Zeroizing;

/// The service name every agentry entry is stored under.
pub const SERVICE: &str = "agentry";

/// The most bytes one entry holds: a Windows credential's blob limit
/// (`CRED_MAX_CREDENTIAL_BLOB_SIZE`, 5 × 512). Every platform uses it, so the stored layout is
/// the same everywhere.
pub const MAX_ENTRY_BYTES: usize = 2560;

/// A place to keep named byte strings.
pub trait Backend: Send + Sync + core::fmt::Debug {
    /// The entry's bytes, or `None` when it does not exist.
    fn get(&self, entry: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError>;
    /// Creates or replaces the entry.
    fn set(&self, entry: &str, value: &[u8]) -> Result<(), KeyringError>;
    /// Deletes the entry; `false` when it did not exist.
    fn delete(&self, entry: &str) -> Result<bool, KeyringError>;
}

/// The operating system's keyring, through the `keyring` crate.
#[derive(Debug, Clone)]
pub struct OsBackend {
    service: String,
}

impl Default for OsBackend {
    fn default() -> Self {
        Self::with_service(SERVICE)
    }
}

impl OsBackend {
    /// Entries under another service name than [`SERVICE`] (tests keep out of the user's).
    pub fn with_service(service: &str) -> Self {
        Self {
            service: service.to_owned(),
        }
    }

    fn entry(&self, name: &str) -> Result<::keyring::Entry, KeyringError> {
        ::keyring::Entry::new(&self.service, name).map_err(|e| map_error(name, e))
    }
}

impl Backend for OsBackend {
    fn get(&self, entry: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
        match self.entry(entry)?.get_secret() {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(::keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(entry, e)),
        }
    }

    fn set(&self, entry: &str, value: &[u8]) -> Result<(), KeyringError> {
        if value.len() > MAX_ENTRY_BYTES {
            return Err(KeyringError::TooLarge {
                entry: entry.to_owned(),
                size: value.len(),
            });
        }
        self.entry(entry)?
            .set_secret(value)
            .map_err(|e| map_error(entry, e))
    }

    fn delete(&self, entry: &str) -> Result<bool, KeyringError> {
        match self.entry(entry)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(::keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_error(entry, e)),
        }
    }
}

/// The `keyring` crate's error for `entry`, as ours.
fn map_error(entry: &str, e: ::keyring::Error) -> KeyringError {
    let entry = entry.to_owned();
    match e {
        ::keyring::Error::NoEntry => KeyringError::Missing { entry },
        ::keyring::Error::BadEncoding(_) => KeyringError::Corrupt {
            entry,
            reason: "not UTF-8".into(),
        },
        ::keyring::Error::NoStorageAccess(inner) => {
            let detail = inner.to_string();
            if no_service(&detail) {
                KeyringError::Unavailable { detail }
            } else {
                KeyringError::Denied { entry, detail }
            }
        }
        ::keyring::Error::PlatformFailure(inner) => {
            let detail = inner.to_string();
            if no_service(&detail) {
                KeyringError::Unavailable { detail }
            } else {
                KeyringError::Platform { entry, detail }
            }
        }
        ::keyring::Error::Ambiguous(found) => KeyringError::Corrupt {
            entry,
            reason: format!("{} items match it", found.len()),
        },
        other => KeyringError::Platform {
            entry,
            detail: other.to_string(),
        },
    }
}

/// True when a D-Bus error says there is no session bus or no Secret Service on it.
fn no_service(detail: &str) -> bool {
    [
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NotSupported",
        "org.freedesktop.DBus.Error.NoServer",
        "org.freedesktop.DBus.Error.FileNotFound",
        "org.freedesktop.DBus.Error.Spawn",
        "DBUS_SESSION_BUS_ADDRESS",
        "Failed to connect to socket",
        "autolaunch",
    ]
    .iter()
    .any(|needle| detail.contains(needle))
}

/// An in-process keyring with the OS backend's size limit, for tests.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    entries: Mutex<HashMap<String, Zeroizing<Vec<u8>>>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The names of the entries it holds, sorted.
    pub fn entry_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().keys().cloned().collect();
        names.sort();
        names
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Zeroizing<Vec<u8>>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Backend for MemoryBackend {
    fn get(&self, entry: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
        Ok(self.lock().get(entry).cloned())
    }

    fn set(&self, entry: &str, value: &[u8]) -> Result<(), KeyringError> {
        if value.len() > MAX_ENTRY_BYTES {
            return Err(KeyringError::TooLarge {
                entry: entry.to_owned(),
                size: value.len(),
            });
        }
        self.lock()
            .insert(entry.to_owned(), Zeroizing::new(value.to_vec()));
        Ok(())
    }

    fn delete(&self, entry: &str) -> Result<bool, KeyringError> {
        Ok(self.lock().remove(entry).is_some())
    }
}

/// A shared backend (a test keeps one handle to look inside, the store another).
impl<B: Backend + ?Sized> Backend for std::sync::Arc<B> {
    fn get(&self, entry: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
        (**self).get(entry)
    }

    fn set(&self, entry: &str, value: &[u8]) -> Result<(), KeyringError> {
        (**self).set(entry, value)
    }

    fn delete(&self, entry: &str) -> Result<bool, KeyringError> {
        (**self).delete(entry)
    }
}
