//! No byte sequence may panic, hang or stop the agent: malformed frames and bodies are refused
//! with `SSH_AGENT_FAILURE` (or the connection is closed, for frames), and limits hold.

mod common;

use agentry_core::frame::{decode_frame, FrameError, FrameStatus, MAX_MESSAGE_LEN};
use agentry_core::proto::{
    Constraint, DestinationConstraint, Extension, Hop, HopKey, Request, Response, SessionBind,
};
use agentry_core::wire::Writer;
use agentry_core::{Agent, AgentOptions};
use common::*;

#[test]
fn frame_lengths_at_and_around_the_limits() {
    assert_eq!(decode_frame(&[]), Ok(FrameStatus::NeedMore(4)));
    for n in 1..4 {
        assert_eq!(decode_frame(&vec![0; n]), Ok(FrameStatus::NeedMore(4 - n)));
    }
    assert_eq!(decode_frame(&[0, 0, 0, 0]), Err(FrameError::Empty));
    let over = (MAX_MESSAGE_LEN + 1) as u32;
    assert_eq!(
        decode_frame(&over.to_be_bytes()),
        Err(FrameError::TooLong(over))
    );
    assert_eq!(decode_frame(&[0xff; 4]), Err(FrameError::TooLong(u32::MAX)));
    let mut one = vec![0, 0, 0, 1];
    assert_eq!(decode_frame(&one), Ok(FrameStatus::NeedMore(1)));
    one.push(11);
    assert_eq!(
        decode_frame(&one),
        Ok(FrameStatus::Complete { body_len: 1 })
    );
}

#[tokio::test]
async fn every_truncation_of_every_captured_request_is_refused() {
    let agent = Agent::new(AgentOptions::new());
    let dir = fixtures().join("requests");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("bin") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let lenient = matches!(
            Request::decode(&bytes),
            Ok(Request::Ssh1 { .. } | Request::Unknown { .. })
        );
        for cut in 1..bytes.len() {
            let prefix = &bytes[..cut];
            let decoded = Request::decode(prefix);
            // A prefix may only decode when it is itself a whole message: an
            // ADD_ID_CONSTRAINED cut between constraints. Anything else must fail.
            if !lenient && cut > 1 {
                if let Ok(req) = &decoded {
                    assert!(
                        bytes[0] == 25 && req.encode().as_slice() == prefix,
                        "{} cut at {cut} decoded",
                        path.display()
                    );
                }
            }
            let reply = agent.handle_message(&mut session(), prefix).await;
            assert!(Response::decode(&reply).is_ok());
        }
        // Trailing bytes are rejected too.
        let mut extended = bytes.clone();
        extended.push(0);
        if !lenient
            && !matches!(
                Request::decode(&bytes),
                Ok(Request::Extension(Extension::Unknown { .. }))
            )
        {
            assert!(
                Request::decode(&extended).is_err(),
                "{} with trailing byte",
                path.display()
            );
        }
    }
    // Only whole adds (constrained adds cut between constraints) can have added a key.
    assert!(identities(&agent).await.len() <= 1);
}

#[tokio::test]
async fn unknown_smartcard_and_ssh1_messages_get_failure() {
    let agent = Agent::new(AgentOptions::new());
    for body in [
        vec![0u8],
        vec![200],
        vec![255, 1, 2, 3],
        vec![1],
        vec![3, 0, 0],
        vec![20, 0, 0, 0, 1, b'x', 0, 0, 0, 0],
        vec![21],
        vec![26, 9, 9],
        vec![5],
        vec![12, 0, 0, 0, 0],
    ] {
        assert_eq!(
            call(&agent, &mut session(), &body).await,
            Response::Failure,
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn unknown_extension_gets_extension_failure_and_query_lists_ours() {
    let agent = Agent::new(AgentOptions::new());
    let mut w = Writer::new();
    w.u8(27)
        .string(b"no-such-extension@example.com")
        .raw(b"payload");
    assert_eq!(
        call(&agent, &mut session(), &w.into_bytes()).await,
        Response::ExtensionFailure
    );
    let query = Request::Extension(Extension::Query).encode();
    let Response::ExtensionResponse(payload) = call(&agent, &mut session(), &query).await else {
        panic!("query not answered")
    };
    let mut r = agentry_core::wire::Reader::new(&payload);
    assert_eq!(r.string().unwrap(), b"query");
    let mut names = Vec::new();
    while !r.is_empty() {
        names.push(String::from_utf8(r.string().unwrap().to_vec()).unwrap());
    }
    assert!(names.contains(&"session-bind@openssh.com".to_owned()));
    assert!(names.contains(&"list-extended@putty.projects.tartarus.org".to_owned()));
}

#[tokio::test]
async fn malformed_lock_and_wrong_key_blobs_are_refused() {
    let agent = Agent::new(AgentOptions::new());
    // LOCK with a string longer than the message, and with trailing bytes.
    for body in [
        vec![22, 0, 0, 0, 9, b'a'],
        vec![22, 0, 0, 0, 1, b'a', b'b'],
        vec![22],
        vec![23, 0xff, 0xff, 0xff, 0xff],
    ] {
        assert_eq!(call(&agent, &mut session(), &body).await, Response::Failure);
    }
    assert!(!agent.is_locked());

    // Ed25519 key with a 30-byte public key and a 30-byte secret.
    let mut w = Writer::new();
    w.u8(17)
        .string(b"ssh-ed25519")
        .string(&[7; 30])
        .string(&[7; 30])
        .string(b"short");
    assert_eq!(
        call(&agent, &mut session(), &w.into_bytes()).await,
        Response::Failure
    );

    // Ed25519 key whose public half does not belong to its secret.
    let good = request_bytes("ssh-add-ed25519.bin");
    let mut bad = good.clone();
    bad[1 + 4 + 11 + 4] ^= 1; // first byte of the public key
    assert_eq!(call(&agent, &mut session(), &bad).await, Response::Failure);

    // Unknown key type and garbage.
    let mut w = Writer::new();
    w.u8(17).string(b"ssh-dss").string(&[1; 20]).string(b"c");
    assert_eq!(
        call(&agent, &mut session(), &w.into_bytes()).await,
        Response::Failure
    );
    assert!(identities(&agent).await.is_empty());
}

#[tokio::test]
async fn huge_rsa_moduli_and_exponents_are_refused() {
    let agent = Agent::new(AgentOptions::new());
    let big = |bytes: usize| {
        let mut v = vec![0u8];
        v.extend(std::iter::repeat_n(0xffu8, bytes));
        v
    };
    for (n_bytes, e_bytes) in [(16384 / 8 + 1, 3), (512, 4096), (4096, 3)] {
        let mut w = Writer::new();
        w.u8(17).string(b"ssh-rsa");
        w.string(&big(n_bytes)).string(&big(e_bytes));
        for _ in 0..4 {
            w.string(&big(256));
        }
        w.string(b"huge");
        assert_eq!(
            call(&agent, &mut session(), &w.into_bytes()).await,
            Response::Failure
        );
    }
    assert!(identities(&agent).await.is_empty());
}

fn hop(user: &str, host: &str, keys: usize) -> Hop {
    Hop {
        user: user.into(),
        hostname: host.into(),
        keys: (0..keys)
            .map(|_| HopKey {
                key_blob: public_blob("ed25519"),
                is_ca: false,
            })
            .collect(),
    }
}

fn add_with(constraints: Vec<Constraint>) -> Vec<u8> {
    let Ok(Request::AddIdentity(mut add)) = Request::decode(&request_bytes("ssh-add-ed25519.bin"))
    else {
        panic!("fixture")
    };
    add.constrained = true;
    add.constraints = constraints;
    Request::AddIdentity(add).encode().to_vec()
}

#[tokio::test]
async fn destination_constraint_limits() {
    let agent = Agent::new(AgentOptions::new());
    let one = DestinationConstraint {
        from: Hop::default(),
        to: hop("", "host.test", 1),
    };
    let at_limit = add_with(vec![Constraint::RestrictDestination(vec![
        one.clone();
        1024
    ])]);
    assert_eq!(
        call(&agent, &mut session(), &at_limit).await,
        Response::Success
    );
    let over = add_with(vec![Constraint::RestrictDestination(vec![
        one.clone();
        1025
    ])]);
    assert!(Request::decode(&over).is_err());
    assert_eq!(call(&agent, &mut session(), &over).await, Response::Failure);

    let long_user = DestinationConstraint {
        from: Hop::default(),
        to: hop(&"u".repeat(257), "host.test", 1),
    };
    let body = add_with(vec![Constraint::RestrictDestination(vec![long_user])]);
    assert_eq!(call(&agent, &mut session(), &body).await, Response::Failure);

    for invalid in [
        DestinationConstraint {
            from: hop("root", "a", 1),
            to: hop("", "b", 1),
        },
        DestinationConstraint {
            from: hop("", "a", 0),
            to: hop("", "b", 1),
        },
        DestinationConstraint {
            from: Hop::default(),
            to: hop("", "", 1),
        },
        DestinationConstraint {
            from: Hop::default(),
            to: hop("", "b", 0),
        },
    ] {
        let body = add_with(vec![Constraint::RestrictDestination(vec![invalid])]);
        assert_eq!(call(&agent, &mut session(), &body).await, Response::Failure);
    }
    let repeated = add_with(vec![Constraint::Confirm, Constraint::Confirm]);
    assert_eq!(
        call(&agent, &mut session(), &repeated).await,
        Response::Failure
    );
    let maxsign = add_with(vec![Constraint::MaxSignatures(5)]);
    assert_eq!(
        call(&agent, &mut session(), &maxsign).await,
        Response::Failure
    );
}

fn host_bind(host: &ed25519_dalek::SigningKey, sid: &[u8], forwarding: bool) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let mut key = Writer::new();
    key.string(b"ssh-ed25519")
        .string(host.verifying_key().as_bytes());
    let mut sig = Writer::new();
    sig.string(b"ssh-ed25519")
        .string(&host.sign(sid).to_bytes());
    Request::Extension(Extension::SessionBind(SessionBind {
        host_key: key.into_bytes(),
        session_id: sid.to_vec(),
        signature: sig.into_bytes(),
        is_forwarding: forwarding,
    }))
    .encode()
    .to_vec()
}

#[tokio::test]
async fn session_bind_from_real_ssh_verifies_and_rules_hold() {
    let agent = Agent::new(AgentOptions::new());
    let mut s = session();
    let captured = request_bytes("ssh-session-bind.bin");
    assert_eq!(call(&agent, &mut s, &captured).await, Response::Success);
    assert_eq!(s.binds().len(), 1);
    // Bound for authentication: nothing more may be bound, not even the same session.
    assert_eq!(
        call(&agent, &mut s, &captured).await,
        Response::ExtensionFailure
    );

    // A bad signature is refused and remembered.
    let mut tampered = captured.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    let mut fresh = session();
    assert_eq!(
        call(&agent, &mut fresh, &tampered).await,
        Response::ExtensionFailure
    );
    assert!(fresh.bind_failed());
}

#[tokio::test]
async fn more_than_16_forwarding_binds_are_refused() {
    let agent = Agent::new(AgentOptions::new());
    let host = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let mut s = session();
    for i in 0..16u8 {
        let body = host_bind(&host, &[i; 32], true);
        assert_eq!(
            call(&agent, &mut s, &body).await,
            Response::Success,
            "bind {i}"
        );
    }
    // Re-binding a known session to the same key is accepted and adds nothing.
    assert_eq!(
        call(&agent, &mut s, &host_bind(&host, &[3; 32], true)).await,
        Response::Success
    );
    assert_eq!(s.binds().len(), 16);
    // The same session id to another host key is refused.
    assert_eq!(
        call(&agent, &mut s, &host_bind(&other, &[3; 32], true)).await,
        Response::ExtensionFailure
    );
    assert_eq!(
        call(&agent, &mut s, &host_bind(&host, &[99; 32], true)).await,
        Response::ExtensionFailure
    );
    assert_eq!(s.binds().len(), 16);
    assert!(s.is_forwarded());
}
