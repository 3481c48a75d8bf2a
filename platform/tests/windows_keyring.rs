//! The keyring store against the real Windows Credential Manager (under Wine in scripts/test,
//! natively on a Windows runner): an RSA-4096 key in one credential, a record split across
//! credentials, the index, and a remembered passphrase. Entries use a per-process service name
//! and are removed at the end, so a developer's own credentials are never touched.
#![cfg(windows)]

use agentry_core::keys::PrivateKey;
use agentry_platform::keyring::{KeyringError, KeyringStore, OsBackend, MAX_COMMENT_BYTES};

fn key(text: &str) -> PrivateKey {
    let key = ssh_key::PrivateKey::from_openssh(text).unwrap();
    PrivateKey::new(key.key_data().clone(), None).unwrap()
}

fn store() -> KeyringStore {
    let service = format!("agentry-test-{}", std::process::id());
    KeyringStore::with_backend(Box::new(OsBackend::with_service(&service)))
}

#[test]
fn credential_manager_round_trips_rsa_4096_and_a_split_record() {
    let store = store();
    let rsa = key(include_str!("../../tests/fixtures/keys/rsa-4096"));
    let ed = key(include_str!("../../tests/fixtures/keys/ed25519"));
    let long = "c".repeat(MAX_COMMENT_BYTES);
    store.import("rsa", &rsa, "agentry-test-rsa-4096").unwrap();
    store.import("long", &rsa, &long).unwrap();
    store.import("ed", &ed, "agentry-test-ed25519").unwrap();
    assert_eq!(store.names().unwrap(), ["rsa", "long", "ed"]);
    let loaded = store.load("rsa").unwrap();
    assert_eq!(loaded.key, rsa);
    assert_eq!(loaded.comment, "agentry-test-rsa-4096");
    let loaded = store.load("long").unwrap();
    assert_eq!(loaded.key, rsa);
    assert_eq!(loaded.comment, long);
    assert_eq!(store.load("ed").unwrap().key, ed);
    assert!(matches!(
        store.import("rsa", &ed, ""),
        Err(KeyringError::Exists { .. })
    ));

    let fp = ed.fingerprint();
    store.remember_passphrase(&fp, "correct horse").unwrap();
    assert_eq!(
        store
            .recall_passphrase(&fp)
            .unwrap()
            .as_deref()
            .map(String::as_str),
        Some("correct horse")
    );
    assert!(store.forget_passphrase(&fp).unwrap());
    assert!(store.recall_passphrase(&fp).unwrap().is_none());

    for name in ["rsa", "long", "ed"] {
        store.remove(name).unwrap();
    }
    assert!(store.names().unwrap().is_empty());
    assert_eq!(
        store.load("long").unwrap_err(),
        KeyringError::Missing {
            entry: "key:long".into()
        }
    );
}
