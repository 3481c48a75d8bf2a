//! The identities the agent holds, addressed by public blob and listed in the order they were
//! added, with the earliest lifetime deadline among them. Expired keys are removed by the
//! agent's expiry timer when their lifetime ends (`expiry.rs`), and also by every access first,
//! so an expired key is never listed or used, even if the timer is late or not running.

use super::slot::KeySlot;
use crate::proto::DestinationConstraint;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use tokio::time::Instant;

/// One held identity. Shared (`Arc`) with in-flight requests so that a removal during a prompt
/// or a signature does not pull the key out from under them.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) blob: Vec<u8>,
    pub(crate) comment: Vec<u8>,
    pub(crate) algorithm: String,
    pub(crate) fingerprint: String,
    /// Shared by a key's entry and its certificate's when both come from one encrypted file,
    /// so one passphrase decrypts both.
    pub(crate) key: Arc<KeySlot>,
    pub(crate) expires: Option<Instant>,
    pub(crate) confirm: bool,
    pub(crate) destinations: Vec<DestinationConstraint>,
}

/// FNV-1a: the map is keyed by public blobs the user added, so a keyed hash buys nothing here,
/// and this one costs a fraction of SipHash on the signing path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Debug, Default)]
pub(crate) struct Keystore {
    by_blob: HashMap<Vec<u8>, (u64, Arc<Entry>), BuildHasherDefault<Fnv1a>>,
    order: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
    next_expiry: Option<Instant>,
    /// Bytes the entries take in an identities reply (blob and comment strings).
    listed_len: usize,
}

/// Bytes one entry takes in `SSH2_AGENT_IDENTITIES_ANSWER`: its blob and comment strings.
fn listed_len(entry: &Entry) -> usize {
    8 + entry.blob.len() + entry.comment.len()
}

impl Keystore {
    /// True when some entry has a lifetime, so [`Keystore::expire`] has work to check.
    /// The identities reply body's length (type, count, entries) once `entry` is inserted
    /// (replacing the entry with the same blob, if any).
    pub(crate) fn identities_reply_len_with(&self, entry: &Entry) -> usize {
        let replaced = self
            .by_blob
            .get(&entry.blob)
            .map_or(0, |(_, e)| listed_len(e));
        1 + 4 + self.listed_len - replaced + listed_len(entry)
    }

    pub(crate) fn expiry_due(&self) -> bool {
        self.next_expiry.is_some()
    }

    /// The earliest lifetime deadline, or one before it (a removed key's, until the next
    /// [`Keystore::expire`] that has work); `None` when no entry has a lifetime.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.next_expiry
    }

    /// Removes every entry whose lifetime ended at or before `now`. Its key material is dropped
    /// with the entry, unless an in-flight request still holds the entry.
    pub(crate) fn expire(&mut self, now: Instant) {
        if self.next_expiry.is_none_or(|t| t > now) {
            return;
        }
        let expired: Vec<Arc<Entry>> = self
            .by_blob
            .values()
            .filter(|(_, e)| e.expires.is_some_and(|t| t <= now))
            .map(|(_, e)| Arc::clone(e))
            .collect();
        for entry in expired {
            self.remove(&entry.blob);
            tracing::info!(target: "agentry::keys", fingerprint = %entry.fingerprint, "key lifetime expired; removed");
        }
        self.next_expiry = self.by_blob.values().filter_map(|(_, e)| e.expires).min();
    }

    /// Adds `entry`, or replaces the entry with the same blob in place (OpenSSH updates the
    /// comment and constraints of a key that is added again). True when its lifetime ends before
    /// every other one: the expiry timer must wake earlier.
    pub(crate) fn insert(&mut self, entry: Entry) -> bool {
        let earlier = entry
            .expires
            .is_some_and(|t| self.next_expiry.is_none_or(|n| t < n));
        if earlier {
            self.next_expiry = entry.expires;
        }
        let blob = entry.blob.clone();
        self.listed_len += listed_len(&entry);
        let seq = match self.by_blob.get(&blob) {
            Some((seq, old)) => {
                self.listed_len -= listed_len(old);
                *seq
            }
            None => {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.order.insert(seq, blob.clone());
                seq
            }
        };
        self.by_blob.insert(blob, (seq, Arc::new(entry)));
        earlier
    }

    pub(crate) fn get(&self, blob: &[u8]) -> Option<Arc<Entry>> {
        self.by_blob.get(blob).map(|(_, e)| Arc::clone(e))
    }

    pub(crate) fn remove(&mut self, blob: &[u8]) -> bool {
        match self.by_blob.remove(blob) {
            Some((seq, old)) => {
                self.listed_len -= listed_len(&old);
                self.order.remove(&seq);
                true
            }
            None => false,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.by_blob.clear();
        self.order.clear();
        self.next_expiry = None;
        self.listed_len = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.by_blob.len()
    }

    /// Entries in the order they were first added.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Arc<Entry>> + '_ {
        self.order
            .values()
            .filter_map(|blob| self.by_blob.get(blob).map(|(_, e)| e))
    }
}
