//! Naming hosts for people from OpenSSH `known_hosts` text: plain, comma-separated and
//! `[host]:port` patterns, hashed names (`|1|salt|hmac-sha1`), `@cert-authority` lines (a host
//! certificate signed by a listed CA is named by its principal that the line's patterns match)
//! and `@revoked` lines. Pure: the platform reads the files and hands over their text; lines this
//! parser does not understand are skipped, as OpenSSH skips them.

use crate::keys::{host_label, is_certificate_blob, HostCertificate};
use crate::pattern::match_pattern;
use crate::proto::HopKey;
use ring::hmac;
use ssh_encoding::Encode;
use ssh_key::known_hosts::{HostPatterns, Marker};

/// The parsed entries of one or more known_hosts files.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    marker: Option<Marker>,
    hosts: HostPatterns,
    key_blob: Vec<u8>,
}

impl KnownHosts {
    /// Parses known_hosts text (one file's contents).
    pub fn parse(text: &str) -> Self {
        let mut hosts = Self::default();
        hosts.add(text);
        hosts
    }

    /// Adds the entries of another file's text.
    pub fn add(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            // ssh-key's parser wants single spaces; OpenSSH also allows tabs and runs of blanks.
            let Ok(entry) = fields.join(" ").parse::<ssh_key::known_hosts::Entry>() else {
                continue;
            };
            let Ok(key_blob) = entry.public_key().key_data().encode_vec() else {
                continue;
            };
            self.entries.push(Entry {
                marker: entry.marker().copied(),
                hosts: entry.host_patterns().clone(),
                key_blob,
            });
        }
    }

    /// How to name the host with this host key (a plain key blob or a host certificate) to
    /// people, at `now` (Unix seconds, for certificate validity); `None` when known_hosts does
    /// not know it. A key listed as `@revoked` is named as revoked.
    pub fn name_for(&self, host_key: &[u8], now: u64) -> Option<String> {
        if is_certificate_blob(host_key) {
            let cert = HostCertificate::parse(host_key)?;
            if self.revoked(cert.ca_blob()) {
                return Some(format!("REVOKED CA, host {}", host_label(host_key)));
            }
            if !cert.usable_at(now) {
                return None;
            }
            return self
                .with_key(cert.ca_blob(), Some(Marker::CertAuthority))
                .find_map(|hosts| {
                    cert.principals()
                        .iter()
                        .find(|p| host_matches(hosts, p))
                        .cloned()
                });
        }
        if self.revoked(host_key) {
            return Some(format!("REVOKED host key {}", host_label(host_key)));
        }
        let mut hashed = false;
        for hosts in self.with_key(host_key, None) {
            match hosts {
                HostPatterns::Patterns(patterns) => {
                    let positive = || patterns.iter().filter(|p| !p.starts_with('!'));
                    let plain = positive().find(|p| !p.contains(['*', '?']));
                    if let Some(name) = plain.or_else(|| positive().next()) {
                        return Some(name.clone());
                    }
                }
                HostPatterns::HashedName { .. } => hashed = true,
            }
        }
        hashed.then(|| format!("known host {}", host_label(host_key)))
    }

    /// The host keys listed for `host`, as `ssh-add -h` looks them up for a destination
    /// constraint: plain entries and `@cert-authority` entries (as CA keys) whose patterns match
    /// the name; `@revoked` entries are not keys to trust. Each key once, in file order.
    pub fn hop_keys(&self, host: &str) -> Vec<HopKey> {
        let mut keys: Vec<HopKey> = Vec::new();
        for entry in &self.entries {
            let is_ca = match entry.marker {
                None => false,
                Some(Marker::CertAuthority) => true,
                Some(_) => continue,
            };
            if !host_matches(&entry.hosts, host) {
                continue;
            }
            let key = HopKey {
                key_blob: entry.key_blob.clone(),
                is_ca,
            };
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    fn with_key<'a>(
        &'a self,
        key_blob: &'a [u8],
        marker: Option<Marker>,
    ) -> impl Iterator<Item = &'a HostPatterns> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.marker == marker && e.key_blob == key_blob)
            .map(|e| &e.hosts)
    }

    fn revoked(&self, key_blob: &[u8]) -> bool {
        self.with_key(key_blob, Some(Marker::Revoked))
            .next()
            .is_some()
    }
}

/// OpenSSH's `match_hostname`: `host` (lower-cased) matches a pattern list when some pattern
/// matches and no negated (`!`) pattern does; a hashed name matches when HMAC-SHA1 of the host
/// under the entry's salt is its hash.
pub fn host_matches(hosts: &HostPatterns, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    match hosts {
        HostPatterns::HashedName { salt, hash } => {
            let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
            hmac::verify(&key, host.as_bytes(), hash).is_ok()
        }
        HostPatterns::Patterns(patterns) => {
            let mut positive = false;
            for pattern in patterns {
                let (negated, pattern) = match pattern.strip_prefix('!') {
                    Some(p) => (true, p),
                    None => (false, pattern.as_str()),
                };
                if match_pattern(pattern.to_ascii_lowercase().as_bytes(), host.as_bytes()) {
                    if negated {
                        return false;
                    }
                    positive = true;
                }
            }
            positive
        }
    }
}
