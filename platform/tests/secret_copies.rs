//! No unwiped copy of a private key is freed while the core builds or reads one: decoding and
//! re-encoding an add-identity request (plain keys and certificate keys) and decrypting key files
//! of every format. A global allocator looks at every block freed by the test's thread while it
//! is armed and counts those that still hold a piece of the key's secret (a buffer that grew and
//! left its old copy behind, or a temporary dropped without being zeroized).
//!
//! The allocator must be written with `unsafe`, so this test of agentry-core lives with
//! agentry-platform, where every `unsafe` block of the project is (core has none, tests
//! included).
#![allow(unsafe_code)]

use agentry_core::keyfile::{KdfLimits, KeyFile};
use agentry_core::keys::PrivateKey;
use agentry_core::proto::Request;
use ssh_key::private::KeypairData;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// How many bytes of the secret are looked for.
const NEEDLE: usize = 16;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static SECRET: Cell<[u8; NEEDLE]> = const { Cell::new([0; NEEDLE]) };
    static HITS: Cell<usize> = const { Cell::new(0) };
}

struct Watch;

// SAFETY: every call is passed on to `System` unchanged; `dealloc` only reads the block it is
// about to free, which is still owned by the caller and `layout.size()` bytes long.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.with(Cell::get) && layout.size() >= NEEDLE {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes until freed below; it was
            // written by its owner before being freed, or it is spare capacity, which we only
            // compare (allocation from `System` is never uninitialised at the OS level, and a
            // spurious match would only fail the test).
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            let secret = SECRET.with(Cell::get);
            if block.windows(NEEDLE).any(|w| w == secret) {
                HITS.with(|h| h.set(h.get() + 1));
            }
        }
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static WATCH: Watch = Watch;

/// Runs `f` armed with `secret`'s first [`NEEDLE`] bytes; the number of freed blocks that held
/// them, and `f`'s result (dropped by the caller, unarmed).
fn freed_copies<T>(secret: &[u8], f: impl FnOnce() -> T) -> (usize, T) {
    let mut needle = [0u8; NEEDLE];
    needle.copy_from_slice(&secret[..NEEDLE]);
    SECRET.with(|s| s.set(needle));
    HITS.with(|h| h.set(0));
    ARMED.with(|a| a.set(true));
    let out = f();
    ARMED.with(|a| a.set(false));
    (HITS.with(Cell::get), out)
}

/// A piece of the key's secret: the Ed25519 seed, the ECDSA scalar, RSA's `d` (from its middle,
/// away from any length prefix).
fn secret_of(key: &PrivateKey) -> Vec<u8> {
    match key.keypair().expect("a software key") {
        KeypairData::Ed25519(k) => k.private.as_ref().to_vec(),
        KeypairData::Ecdsa(k) => k.private_key_bytes().to_vec(),
        KeypairData::Rsa(k) => {
            let d = k.private().d().as_bytes();
            d[d.len() / 2..].to_vec()
        }
        other => panic!("unexpected key {other:?}"),
    }
}

fn added_key(request: &Request) -> &PrivateKey {
    match request {
        Request::AddIdentity(a) => &a.key,
        other => panic!("not an add: {other:?}"),
    }
}

#[test]
fn add_requests_are_decoded_and_encoded_without_leaving_copies() {
    let mut leaks = Vec::new();
    for name in [
        "ssh-add-ed25519.bin",
        "ssh-add-ecdsa-p256.bin",
        "ssh-add-ecdsa-p384.bin",
        "ssh-add-ecdsa-p521.bin",
        "ssh-add-rsa-2048.bin",
        "ssh-add-rsa-4096.bin",
        "ssh-add-ed25519-cert-key.bin",
        "ssh-add-ecdsa-p256-cert-key.bin",
        "ssh-add-rsa-2048-cert-key.bin",
    ] {
        let body = request_bytes(name);
        let secret = secret_of(added_key(&Request::decode(&body).unwrap()));
        let (freed, decoded) = freed_copies(&secret, || Request::decode(&body).unwrap());
        if freed > 0 {
            leaks.push(format!("{name}: decoding freed {freed} unwiped copies"));
        }
        let (freed, encoded) = freed_copies(&secret, || decoded.encode());
        if freed > 0 {
            leaks.push(format!("{name}: encoding freed {freed} unwiped copies"));
        }
        assert_eq!(encoded.as_slice(), body, "{name}: re-encodes byte for byte");
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

#[test]
fn key_files_are_decrypted_without_leaving_copies() {
    let dir = fixtures().join("keyfiles");
    let mut leaks = Vec::new();
    for name in [
        "openssh-ed25519-aes256ctr",
        "openssh-ecdsa-p256-aes128gcm",
        "openssh-ecdsa-p521-aes256ctr",
        "openssh-rsa-2048-aes256ctr",
        "openssh-ecdsa-p256",
        "pem-ecdsa-p256-aes128",
        "pem-rsa-2048-aes128",
        "pkcs8-ecdsa-p256-enc",
        "pkcs8-rsa-2048-enc",
        "openssl-ed25519-aes256",
        "openssl-rsa-2048-trad-aes256",
        "ppk/ed25519-v3-enc.ppk",
        "ppk/ecdsa-p256-v2-enc.ppk",
        "ppk/rsa-2048-v3-enc.ppk",
        "ppk/rsa-2048-v2.ppk",
        "ppk/ecdsa-p521-v3.ppk",
        "pem-ecdsa-p521",
        "pkcs8-rsa-2048",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        // Parsing too: an unencrypted file's key is read when the file is parsed.
        let decrypt = || {
            let file = KeyFile::parse(&bytes).unwrap();
            file.decrypt(b"correct horse", &KdfLimits::default())
                .unwrap()
        };
        let secret = secret_of(&decrypt().0);
        let (freed, _key) = freed_copies(&secret, decrypt);
        if freed > 0 {
            leaks.push(format!("{name}: decrypting freed {freed} unwiped copies"));
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// A request body captured from the real `ssh-add` (tests/fixtures/requests/NAME).
fn request_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("requests").join(name)).unwrap()
}
