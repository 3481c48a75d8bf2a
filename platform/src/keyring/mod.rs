//! agentry's keys and remembered passphrases in the OS keyring (Secret Service on Linux,
//! Credential Manager on Windows, Keychain on macOS), through the `keyring` crate. Everything is
//! stored under service `agentry`, by user name:
//!
//! - `key:NAME` (and `keypart:N:NAME` for a key split across entries): a private key and its
//!   comment ([`record`] has the layout);
//! - `index`: the key names, one per line, since a keyring cannot be enumerated through the
//!   crate; a missing index is an empty one, and `remove` works on a name the index lost;
//! - `passphrase:SHA256:…`: a key file's passphrase, by the SHA-256 fingerprint of its key.
//!
//! Calls are synchronous and may talk to a D-Bus service: from async code, call them on the
//! blocking pool. Concurrent imports may race on the index (the last writer wins).

mod backend;
mod error;
mod record;
mod remembered;

pub use backend::{Backend, MemoryBackend, OsBackend, MAX_ENTRY_BYTES, SERVICE};
pub use error::KeyringError;
pub use record::MAX_COMMENT_BYTES;
pub use remembered::RememberedPassphrases;

use agentry_core::keys::PrivateKey;
use zeroize::Zeroizing;

/// The entry listing the key names.
pub const INDEX_ENTRY: &str = "index";
/// The longest key name.
pub const MAX_NAME_BYTES: usize = 200;

/// A key read back from the keyring.
#[derive(Debug, Clone)]
pub struct StoredKey {
    /// The private key.
    pub key: PrivateKey,
    /// The comment it was imported with.
    pub comment: String,
}

/// One indexed key as [`KeyringStore::list`] reads it.
#[derive(Debug)]
pub struct ListedKey {
    /// Its name.
    pub name: String,
    /// The key, or why it cannot be read.
    pub key: Result<StoredKey, KeyringError>,
}

/// agentry's entries in one keyring.
#[derive(Debug)]
pub struct KeyringStore {
    backend: Box<dyn Backend>,
}

impl KeyringStore {
    /// The operating system's keyring.
    pub fn os() -> Self {
        Self::with_backend(Box::new(OsBackend::default()))
    }

    /// A store over any backend (tests use [`MemoryBackend`]).
    pub fn with_backend(backend: Box<dyn Backend>) -> Self {
        Self { backend }
    }

    /// The entry name of key `name` (`key:NAME`).
    fn key_entry(name: &str) -> String {
        format!("key:{name}")
    }

    /// The entry name of part `n` (2, 3, …) of key `name`.
    fn part_entry(name: &str, n: usize) -> String {
        format!("keypart:{n}:{name}")
    }

    /// The entry name of the passphrase remembered for `fingerprint`.
    fn passphrase_entry(fingerprint: &str) -> String {
        format!("passphrase:{fingerprint}")
    }

    /// Stores `key` as `name`, refusing a name already in use, and adds it to the index.
    pub fn import(&self, name: &str, key: &PrivateKey, comment: &str) -> Result<(), KeyringError> {
        check_name(name)?;
        let head = Self::key_entry(name);
        if comment.len() > MAX_COMMENT_BYTES {
            return Err(KeyringError::TooLarge {
                entry: head,
                size: comment.len(),
            });
        }
        if self.backend.get(&head)?.is_some() {
            return Err(KeyringError::Exists { entry: head });
        }
        let payload = record::encode_payload(key, comment);
        let values = record::split(&payload).ok_or_else(|| KeyringError::TooLarge {
            entry: head.clone(),
            size: payload.len(),
        })?;
        // Parts first, the head last: a head entry is only ever visible complete.
        let mut order: Vec<(String, &[u8])> = (2..=values.len())
            .map(|n| (Self::part_entry(name, n), &values[n - 1][..]))
            .collect();
        order.push((head, &values[0][..]));
        for (i, (entry, value)) in order.iter().enumerate() {
            if let Err(e) = self.backend.set(entry, value) {
                for (done, _) in &order[..i] {
                    let _ = self.backend.delete(done);
                }
                return Err(e);
            }
        }
        let mut names = self.names()?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
            self.write_index(&names)?;
        }
        Ok(())
    }

    /// Reads key `name`; a missing or damaged entry is an error naming it.
    pub fn load(&self, name: &str) -> Result<StoredKey, KeyringError> {
        check_name(name)?;
        let head_entry = Self::key_entry(name);
        let head = self
            .backend
            .get(&head_entry)?
            .ok_or_else(|| KeyringError::Missing {
                entry: head_entry.clone(),
            })?;
        let (parts, first) = record::parse_head(&head_entry, &head)?;
        let mut payload = Zeroizing::new(Vec::with_capacity(parts * MAX_ENTRY_BYTES));
        payload.extend_from_slice(first);
        for n in 2..=parts {
            let entry = Self::part_entry(name, n);
            let part = self
                .backend
                .get(&entry)?
                .ok_or(KeyringError::Missing { entry })?;
            payload.extend_from_slice(&part);
        }
        let (key, comment) = record::decode_payload(&head_entry, &payload)?;
        Ok(StoredKey { key, comment })
    }

    /// The key names in the index, in import order (empty when there is no index).
    pub fn names(&self) -> Result<Vec<String>, KeyringError> {
        let Some(bytes) = self.backend.get(INDEX_ENTRY)? else {
            return Ok(Vec::new());
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| KeyringError::Corrupt {
            entry: INDEX_ENTRY.into(),
            reason: "not UTF-8".into(),
        })?;
        let mut names: Vec<String> = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            if !names.iter().any(|n| n == line) {
                names.push(line.to_owned());
            }
        }
        Ok(names)
    }

    /// Every indexed key, each read on its own: one bad entry does not hide the others.
    pub fn list(&self) -> Result<Vec<ListedKey>, KeyringError> {
        Ok(self
            .names()?
            .into_iter()
            .map(|name| {
                let key = self.load(&name);
                ListedKey { name, key }
            })
            .collect())
    }

    /// Deletes key `name` (all its parts) and drops it from the index. An error when neither
    /// the key nor an index line existed.
    pub fn remove(&self, name: &str) -> Result<(), KeyringError> {
        check_name(name)?;
        let head_entry = Self::key_entry(name);
        let parts = match self.backend.get(&head_entry)? {
            Some(head) => record::parse_head(&head_entry, &head).map_or(record::MAX_PARTS, |p| p.0),
            None => 0,
        };
        for n in 2..=parts {
            self.backend.delete(&Self::part_entry(name, n))?;
        }
        let deleted = parts > 0 && self.backend.delete(&head_entry)?;
        let mut names = self.names()?;
        let indexed = names.iter().any(|n| n == name);
        if indexed {
            names.retain(|n| n != name);
            self.write_index(&names)?;
        }
        if deleted || indexed {
            Ok(())
        } else {
            Err(KeyringError::Missing { entry: head_entry })
        }
    }

    /// The entry name of the PIN remembered for PKCS#11 provider `provider` (a resolved path).
    fn pin_entry(provider: &str) -> String {
        format!("pkcs11-pin:{provider}")
    }

    /// Keeps the token `pin` for PKCS#11 provider `provider` (its resolved path), for
    /// `[[pkcs11]]` entries with `pin = "keyring"` (`agentry add --pkcs11 … --remember`).
    pub fn remember_pin(&self, provider: &str, pin: &str) -> Result<(), KeyringError> {
        self.backend.set(&Self::pin_entry(provider), pin.as_bytes())
    }

    /// The PIN remembered for `provider`, if any.
    pub fn recall_pin(&self, provider: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
        self.backend.get(&Self::pin_entry(provider))
    }

    /// Forgets the PIN remembered for `provider`; `false` when there was none.
    pub fn forget_pin(&self, provider: &str) -> Result<bool, KeyringError> {
        self.backend.delete(&Self::pin_entry(provider))
    }

    /// Keeps `passphrase` for the key with SHA-256 fingerprint `fingerprint` (`SHA256:…`).
    pub fn remember_passphrase(
        &self,
        fingerprint: &str,
        passphrase: &str,
    ) -> Result<(), KeyringError> {
        check_fingerprint(fingerprint)?;
        self.backend
            .set(&Self::passphrase_entry(fingerprint), passphrase.as_bytes())
    }

    /// The passphrase remembered for `fingerprint`, if any.
    pub fn recall_passphrase(
        &self,
        fingerprint: &str,
    ) -> Result<Option<Zeroizing<String>>, KeyringError> {
        check_fingerprint(fingerprint)?;
        let entry = Self::passphrase_entry(fingerprint);
        let Some(bytes) = self.backend.get(&entry)? else {
            return Ok(None);
        };
        match std::str::from_utf8(&bytes) {
            Ok(text) => Ok(Some(Zeroizing::new(text.to_owned()))),
            Err(_) => Err(KeyringError::Corrupt {
                entry,
                reason: "not UTF-8".into(),
            }),
        }
    }

    /// Forgets the passphrase remembered for `fingerprint`; `false` when there was none.
    pub fn forget_passphrase(&self, fingerprint: &str) -> Result<bool, KeyringError> {
        check_fingerprint(fingerprint)?;
        self.backend.delete(&Self::passphrase_entry(fingerprint))
    }

    fn write_index(&self, names: &[String]) -> Result<(), KeyringError> {
        if names.is_empty() {
            self.backend.delete(INDEX_ENTRY)?;
            return Ok(());
        }
        let mut text = names.join("\n");
        text.push('\n');
        self.backend.set(INDEX_ENTRY, text.as_bytes())
    }
}

/// Key names: 1 to [`MAX_NAME_BYTES`] bytes of printable text (the index is line-based).
fn check_name(name: &str) -> Result<(), KeyringError> {
    let invalid = |reason| {
        Err(KeyringError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        invalid("it is empty")
    } else if name.len() > MAX_NAME_BYTES {
        invalid("it is longer than 200 bytes")
    } else if name.chars().any(char::is_control) {
        invalid("it contains a control character")
    } else {
        Ok(())
    }
}

fn check_fingerprint(fingerprint: &str) -> Result<(), KeyringError> {
    let ok = fingerprint.strip_prefix("SHA256:").is_some_and(|b64| {
        !b64.is_empty()
            && b64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
    });
    if ok {
        Ok(())
    } else {
        Err(KeyringError::InvalidName {
            name: fingerprint.to_owned(),
            reason: "not a SHA256: fingerprint",
        })
    }
}

#[cfg(test)]
mod tests;
