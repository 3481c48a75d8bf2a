//! The keyring store over [`MemoryBackend`] (which enforces the Windows entry size): the size of
//! a real RSA-4096 key, splitting and reassembly, the index, damaged entries and passphrases.

use super::*;
use std::path::Path;

fn fixture(name: &str) -> (PrivateKey, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/keys")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let key = ssh_key::PrivateKey::from_openssh(&text).unwrap();
    let comment = String::from_utf8_lossy(key.comment().as_bytes()).into_owned();
    (
        PrivateKey::new(key.key_data().clone(), None).unwrap(),
        comment,
    )
}

fn store() -> (std::sync::Arc<MemoryBackend>, KeyringStore) {
    let backend = std::sync::Arc::new(MemoryBackend::new());
    (
        backend.clone(),
        KeyringStore::with_backend(Box::new(backend)),
    )
}

#[test]
fn rsa_4096_with_its_comment_fits_one_windows_credential() {
    let (key, comment) = fixture("rsa-4096");
    let payload = record::encode_payload(&key, &comment);
    let stored = payload.len() + 2;
    eprintln!("RSA-4096 record: {stored} bytes (limit {MAX_ENTRY_BYTES})");
    assert!(stored <= MAX_ENTRY_BYTES, "{stored} bytes");
    // Room for a comment of 500 bytes more still in one entry.
    assert!(stored + 500 <= MAX_ENTRY_BYTES, "{stored} bytes");
    assert_eq!(record::split(&payload).unwrap().len(), 1);
    let (backend, store) = store();
    store.import("big", &key, &comment).unwrap();
    assert_eq!(backend.entry_names(), ["index", "key:big"]);
    let back = store.load("big").unwrap();
    assert_eq!(back.key, key);
    assert_eq!(back.comment, comment);
}

#[test]
fn every_key_type_round_trips_and_lists_in_import_order() {
    let (_, store) = store();
    let names = [
        "ed25519",
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdsa-p521",
        "rsa-2048",
    ];
    for name in names {
        let (key, comment) = fixture(name);
        store.import(name, &key, &comment).unwrap();
    }
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), names.len());
    for (listed, expected) in listed.into_iter().zip(names) {
        assert_eq!(listed.name, expected);
        let (key, comment) = fixture(expected);
        let loaded = listed.key.unwrap();
        assert_eq!(loaded.key, key);
        assert_eq!(loaded.comment, comment);
    }
}

#[test]
fn a_record_over_one_entry_is_split_and_reassembled() {
    let (key, _) = fixture("rsa-4096");
    let comment = "c".repeat(MAX_COMMENT_BYTES);
    let (backend, store) = store();
    store.import("long", &key, &comment).unwrap();
    assert_eq!(
        backend.entry_names(),
        ["index", "key:long", "keypart:2:long"]
    );
    let back = store.load("long").unwrap();
    assert_eq!(back.key, key);
    assert_eq!(back.comment, comment);
    // A lost part is reported by its own name.
    backend.delete("keypart:2:long").unwrap();
    assert_eq!(
        store.load("long").unwrap_err(),
        KeyringError::Missing {
            entry: "keypart:2:long".into()
        }
    );
    // Removing still clears the head and the index.
    store.remove("long").unwrap();
    assert!(backend.entry_names().is_empty());
}

#[test]
fn a_corrupt_entry_is_named_and_the_others_still_load() {
    let (backend, store) = store();
    let (ed, ed_comment) = fixture("ed25519");
    let (ec, ec_comment) = fixture("ecdsa-p256");
    store.import("good", &ed, &ed_comment).unwrap();
    store.import("bad", &ec, &ec_comment).unwrap();
    store.import("gone", &ec, &ec_comment).unwrap();
    backend.set("key:bad", b"\x01\x01garbage").unwrap();
    backend.delete("key:gone").unwrap();
    let listed = store.list().unwrap();
    assert_eq!(listed[0].key.as_ref().unwrap().key, ed);
    match &listed[1].key {
        Err(KeyringError::Corrupt { entry, .. }) => assert_eq!(entry, "key:bad"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        listed[2].key.as_ref().unwrap_err(),
        &KeyringError::Missing {
            entry: "key:gone".into()
        }
    );
    let shown = listed[1].key.as_ref().unwrap_err().to_string();
    assert!(shown.contains("agentry/key:bad"), "{shown}");
    for (value, reason) in [
        (&b""[..], "empty"),
        (b"\x02\x01", "unknown format 2"),
        (b"\x01\x09", "9 parts announced"),
    ] {
        backend.set("key:bad", value).unwrap();
        match store.load("bad") {
            Err(KeyringError::Corrupt { entry, reason: r }) => {
                assert_eq!((entry.as_str(), r.as_str()), ("key:bad", reason))
            }
            other => panic!("{other:?}"),
        }
    }
    // A truncated key and trailing bytes are corrupt too.
    let (key, comment) = fixture("rsa-2048");
    let payload = record::encode_payload(&key, &comment);
    let mut head = vec![1, 1];
    head.extend_from_slice(&payload[..payload.len() - 1]);
    backend.set("key:bad", &head).unwrap();
    assert!(matches!(
        store.load("bad"),
        Err(KeyringError::Corrupt { .. })
    ));
    head.extend_from_slice(&payload[payload.len() - 1..]);
    head.push(0);
    backend.set("key:bad", &head).unwrap();
    assert!(matches!(
        store.load("bad"),
        Err(KeyringError::Corrupt { .. })
    ));
}

#[test]
fn the_index_is_optional_and_names_are_unique() {
    let (backend, store) = store();
    let (key, comment) = fixture("ed25519");
    assert!(store.names().unwrap().is_empty());
    store.import("a", &key, &comment).unwrap();
    assert_eq!(
        store.import("a", &key, &comment).unwrap_err(),
        KeyringError::Exists {
            entry: "key:a".into()
        }
    );
    // The index is lost: the key is no longer listed, but can still be loaded and removed.
    backend.delete(INDEX_ENTRY).unwrap();
    assert!(store.list().unwrap().is_empty());
    assert_eq!(store.load("a").unwrap().key, key);
    store.remove("a").unwrap();
    assert_eq!(
        store.remove("a").unwrap_err(),
        KeyringError::Missing {
            entry: "key:a".into()
        }
    );
    backend.set(INDEX_ENTRY, b"\xff\n").unwrap();
    assert!(matches!(
        store.names(),
        Err(KeyringError::Corrupt { entry, .. }) if entry == INDEX_ENTRY
    ));
}

#[test]
fn bad_names_are_refused() {
    let (_, store) = store();
    let (key, _) = fixture("ed25519");
    for name in ["", "a\nb", &"x".repeat(MAX_NAME_BYTES + 1)] {
        assert!(matches!(
            store.import(name, &key, ""),
            Err(KeyringError::InvalidName { .. })
        ));
    }
    assert!(matches!(
        store.import("x", &key, &"c".repeat(MAX_COMMENT_BYTES + 1)),
        Err(KeyringError::TooLarge { .. })
    ));
}

#[test]
fn passphrases_are_remembered_recalled_and_forgotten() {
    let (backend, store) = store();
    let (key, _) = fixture("ed25519");
    let fp = key.fingerprint();
    assert!(store.recall_passphrase(&fp).unwrap().is_none());
    store.remember_passphrase(&fp, "correct horse").unwrap();
    assert_eq!(backend.entry_names(), [format!("passphrase:{fp}")]);
    assert_eq!(
        store
            .recall_passphrase(&fp)
            .unwrap()
            .as_deref()
            .map(String::as_str),
        Some("correct horse")
    );
    assert!(store.forget_passphrase(&fp).unwrap());
    assert!(!store.forget_passphrase(&fp).unwrap());
    assert!(store.recall_passphrase(&fp).unwrap().is_none());
    assert!(store.remember_passphrase("MD5:00", "x").is_err());
    assert!(store.recall_passphrase("SHA256:a\nb").is_err());
}
