//! Every request captured from the real OpenSSH clients decodes to the expected type and
//! re-encodes byte for byte.

mod common;

use agentry_core::proto::{Constraint, Extension, Request};
use common::{fixtures, request_bytes};

#[test]
fn every_captured_request_round_trips_byte_for_byte() {
    let dir = fixtures().join("requests");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fixture dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("bin") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        let req = Request::decode(&bytes)
            .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
        assert_eq!(
            req.encode().as_slice(),
            bytes.as_slice(),
            "{} does not re-encode identically",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 25, "only {seen} fixtures found");
}

#[test]
fn captured_requests_decode_to_their_types() {
    let kind = |name: &str| Request::decode(&request_bytes(name)).expect(name);
    assert!(matches!(kind("ssh-add-l.bin"), Request::RequestIdentities));
    assert!(matches!(
        kind("ssh-add-D.bin"),
        Request::RemoveAllIdentities
    ));
    assert!(matches!(
        kind("ssh-add-D-rsa1.bin"),
        Request::Ssh1 { msg_type: 9, .. }
    ));
    assert!(matches!(
        kind("ssh-add-d-ed25519.bin"),
        Request::RemoveIdentity { .. }
    ));
    assert!(matches!(kind("ssh-add-x.bin"), Request::Lock { .. }));
    assert!(matches!(kind("ssh-add-X.bin"), Request::Unlock { .. }));
    assert!(matches!(kind("ssh-add-T-ed25519.bin"), Request::Sign(_)));

    match kind("ssh-add-c-t60-ed25519.bin") {
        Request::AddIdentity(a) => {
            assert!(a.constrained);
            assert!(a.constraints.contains(&Constraint::Lifetime(60)));
            assert!(a.constraints.contains(&Constraint::Confirm));
            assert_eq!(a.comment, b"agentry-test-ed25519");
            assert_eq!(a.key.algorithm_name(), "ssh-ed25519");
        }
        other => panic!("unexpected {other:?}"),
    }
    match kind("ssh-add-h-ed25519.bin") {
        Request::AddIdentity(a) => {
            let dests = a
                .constraints
                .iter()
                .find_map(|c| match c {
                    Constraint::RestrictDestination(d) => Some(d.clone()),
                    _ => None,
                })
                .expect("destination constraint");
            assert_eq!(dests.len(), 2);
            assert_eq!(dests[0].from.hostname, "");
            assert_eq!(dests[0].to.user, "testuser");
            assert_eq!(dests[0].to.hostname, "example.test");
            assert_eq!(dests[1].from.hostname, "example.test");
            assert_eq!(dests[1].to.hostname, "target.test");
            assert!(!dests[1].to.keys.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
    for (file, alg) in [
        (
            "ssh-add-ed25519-cert.bin",
            "ssh-ed25519-cert-v01@openssh.com",
        ),
        (
            "ssh-add-ecdsa-p256-cert.bin",
            "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        ),
        ("ssh-add-rsa-2048-cert.bin", "ssh-rsa-cert-v01@openssh.com"),
    ] {
        match kind(file) {
            Request::AddIdentity(a) => {
                assert_eq!(a.key.algorithm_name(), alg);
                assert!(a.key.certificate().is_some());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    match kind("ssh-session-bind.bin") {
        Request::Extension(Extension::SessionBind(b)) => {
            assert!(!b.is_forwarding);
            assert!(!b.session_id.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
}
