//! FIDO security keys against real peers: keys made by OpenSSH's `ssh-keygen -t ed25519-sk`
//! and `-t ecdsa-sk` with its software authenticator `sk-dummy.so` (`scripts/sk-dummy`), signed
//! through each way agentry reaches an authenticator (the middleware library loaded directly,
//! OpenSSH's `ssh-sk-helper`), every signature checked against the key.
#![cfg(unix)]

use agentry_core::keyfile::{KdfLimits, KeyFile};
use agentry_core::keys::{verify_signature, SecurityKey};
use agentry_platform::security_key::middleware::Middleware;
use agentry_platform::security_key::openssh_helper::OpensshSkHelper;
use agentry_tests::server::private_tempdir;
use agentry_tests::sk_dummy::{make_key, sk_dummy, SK_TYPES};
use std::path::Path;

/// The security key in the private key file at `path`.
fn read_security_key(path: &Path) -> SecurityKey {
    let bytes = std::fs::read(path).expect("read the key file");
    let file = KeyFile::parse(&bytes).expect("parse the key file");
    let (key, _) = file
        .decrypt(&[], &KdfLimits::default())
        .expect("unencrypted key file");
    key.as_security_key().expect("a security key").clone()
}

#[test]
fn middleware_library_signs_for_both_key_types() {
    let Some(sk_dummy) = sk_dummy() else { return };
    let dir = private_tempdir();
    let middleware = Middleware::open(&sk_dummy).expect("load sk-dummy.so");
    for kind in SK_TYPES {
        let key = read_security_key(&make_key(&sk_dummy, dir.path(), kind, kind, &[]));
        let data = format!("data signed by {kind}");
        let assertion = middleware
            .sign(
                key.algorithm(),
                data.as_bytes(),
                key.application(),
                key.key_handle(),
                key.flags(),
                None,
            )
            .expect("sk_sign");
        let sig = assertion.ssh_signature(key.algorithm()).unwrap();
        assert!(
            verify_signature(&key.public_blob(), data.as_bytes(), &sig),
            "{kind}: the signature does not verify"
        );
        assert!(
            !verify_signature(&key.public_blob(), b"other data", &sig),
            "{kind}: the signature verifies for other data"
        );
    }
}

#[test]
fn a_library_without_the_api_is_refused() {
    let Some(_) = sk_dummy() else { return };
    let libc = [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
    ]
    .into_iter()
    .map(Path::new)
    .find(|p| p.exists());
    let Some(not_middleware) = libc else {
        panic!("no libz.so.1 to try as a non-middleware library")
    };
    let err = Middleware::open(not_middleware).unwrap_err().to_string();
    assert!(err.contains("sk_api_version"), "{err}");
}

#[tokio::test]
async fn openssh_sk_helper_signs_through_the_provider_it_is_given() {
    let Some(sk_dummy) = sk_dummy() else { return };
    let helper = OpensshSkHelper::find().expect("ssh-sk-helper is installed (openssh-client)");
    let dir = private_tempdir();
    let provider = sk_dummy.to_str().expect("UTF-8 path");
    for kind in SK_TYPES {
        let key = read_security_key(&make_key(&sk_dummy, dir.path(), kind, kind, &[]));
        let sig = helper
            .sign(&key, provider, b"data for the helper", None)
            .await
            .expect("ssh-sk-helper signs");
        assert!(
            verify_signature(&key.public_blob(), b"data for the helper", &sig),
            "{kind}: the helper's signature does not verify"
        );
    }
    // A provider it cannot load is an error, not a hang.
    let key = read_security_key(&dir.path().join("ed25519-sk"));
    let err = helper
        .sign(&key, "/nonexistent/provider.so", b"data", None)
        .await
        .unwrap_err();
    eprintln!("nonexistent provider: {err}");
}
