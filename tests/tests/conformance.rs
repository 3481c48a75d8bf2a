//! The agent conformance suite, written once against [`Transport`] and run over every transport
//! agentry has: the Unix socket, and on Windows the named pipe and Pageant's WM_COPYDATA window. Requests are the real bytes OpenSSH's clients sent
//! (`tests/fixtures/requests`), replies are checked byte for byte or decoded, and signatures are
//! verified independently.

use agentry_core::frame::{encode_frame, MAX_MESSAGE_LEN};
use agentry_core::proto::{msg, Request, Response, SignRequest};
use agentry_tests::fixtures::{self, ACCEPTED_KEYS};
use agentry_tests::transport::{Connection, Transport};

const FAILURE: &[u8] = &[msg::FAILURE];
const SUCCESS: &[u8] = &[msg::SUCCESS];

fn identities(conn: &mut dyn Connection) -> Vec<(Vec<u8>, String)> {
    let reply = conn.call(&[msg::REQUEST_IDENTITIES]);
    match Response::decode(&reply).expect("decodable identities answer") {
        Response::Identities(ids) => ids
            .into_iter()
            .map(|i| (i.key_blob, String::from_utf8_lossy(&i.comment).into_owned()))
            .collect(),
        other => panic!("expected IDENTITIES_ANSWER, got {other:?}"),
    }
}

fn add(conn: &mut dyn Connection, key: &str) {
    let reply = conn.call(&fixtures::request(&format!("ssh-add-{key}")));
    assert_eq!(reply, SUCCESS, "adding {key}");
}

fn sign(conn: &mut dyn Connection, key: &str, data: &[u8], flags: u32) -> Response {
    let request = Request::Sign(SignRequest {
        key_blob: fixtures::public_blob(key),
        data: data.to_vec(),
        flags,
    });
    Response::decode(&conn.call(&request.encode())).expect("decodable sign reply")
}

fn connect(t: &dyn Transport) -> Box<dyn Connection> {
    t.connect()
        .unwrap_or_else(|e| panic!("connect over {}: {e}", t.name()))
}

fn list_is_empty_at_start(t: &dyn Transport) {
    let mut conn = connect(t);
    assert_eq!(conn.call(&fixtures::request("ssh-add-l")), [12, 0, 0, 0, 0]);
}

fn every_fixture_key_type_is_added_and_listed(t: &dyn Transport) {
    let mut conn = connect(t);
    for key in ACCEPTED_KEYS {
        add(&mut *conn, key);
    }
    let listed = identities(&mut *conn);
    let expected: Vec<(Vec<u8>, String)> = ACCEPTED_KEYS
        .iter()
        .map(|k| (fixtures::public_blob(k), format!("agentry-test-{k}")))
        .collect();
    assert_eq!(listed, expected);
}

fn small_rsa_key_is_refused(t: &dyn Transport) {
    let mut conn = connect(t);
    assert_eq!(conn.call(&fixtures::request("ssh-add-rsa-1024")), FAILURE);
    assert!(identities(&mut *conn).is_empty());
}

fn signatures_verify(t: &dyn Transport) {
    use ssh_encoding::Decode;
    let mut conn = connect(t);
    let data = b"conformance: data to sign".as_slice();
    for key in ["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521"] {
        add(&mut *conn, key);
        let Response::Signature(sig) = sign(&mut *conn, key, data, 0) else {
            panic!("{key}: no signature");
        };
        let sig = ssh_key::Signature::decode(&mut sig.as_slice()).expect("signature decodes");
        let public = fixtures::public_key(key);
        signature::Verifier::verify(public.key_data(), data, &sig)
            .unwrap_or_else(|e| panic!("{key}: signature does not verify: {e}"));
        let mut tampered = data.to_vec();
        tampered[0] ^= 1;
        assert!(signature::Verifier::verify(public.key_data(), &tampered, &sig).is_err());
    }
    add(&mut *conn, "rsa-2048");
    for (flags, alg) in [(2, "rsa-sha2-256"), (4, "rsa-sha2-512")] {
        let Response::Signature(sig) = sign(&mut *conn, "rsa-2048", data, flags) else {
            panic!("rsa-2048 flags {flags}: no signature");
        };
        let name_len = u32::from_be_bytes([sig[0], sig[1], sig[2], sig[3]]) as usize;
        assert_eq!(&sig[4..4 + name_len], alg.as_bytes());
        let blob = fixtures::public_blob("rsa-2048");
        assert!(agentry_core::keys::verify_signature(&blob, data, &sig));
    }
    // ssh-rsa (SHA-1), as `ssh-add -T` asks for, is refused by default.
    assert_eq!(conn.call(&fixtures::request("ssh-add-T-rsa-2048")), FAILURE);
    // The captured ed25519 sign request gets a signature.
    let reply = conn.call(&fixtures::request("ssh-add-T-ed25519"));
    assert_eq!(reply[0], msg::SIGN_RESPONSE);
}

fn unknown_key_is_not_used(t: &dyn Transport) {
    let mut conn = connect(t);
    assert_eq!(sign(&mut *conn, "ed25519", b"x", 0), Response::Failure);
}

fn remove_and_remove_all(t: &dyn Transport) {
    let mut conn = connect(t);
    add(&mut *conn, "ed25519");
    add(&mut *conn, "rsa-2048");
    assert_eq!(conn.call(&fixtures::request("ssh-add-d-ed25519")), SUCCESS);
    let left: Vec<String> = identities(&mut *conn).into_iter().map(|i| i.1).collect();
    assert_eq!(left, ["agentry-test-rsa-2048"]);
    assert_eq!(conn.call(&fixtures::request("ssh-add-d-ed25519")), FAILURE);
    assert_eq!(conn.call(&fixtures::request("ssh-add-D")), SUCCESS);
    assert!(identities(&mut *conn).is_empty());
    assert_eq!(conn.call(&fixtures::request("ssh-add-D-rsa1")), FAILURE);
}

fn lock_and_unlock(t: &dyn Transport) {
    let mut conn = connect(t);
    add(&mut *conn, "ed25519");
    assert_eq!(conn.call(&fixtures::request("ssh-add-x")), SUCCESS);
    assert!(identities(&mut *conn).is_empty(), "locked agent lists keys");
    assert_eq!(sign(&mut *conn, "ed25519", b"x", 0), Response::Failure);
    assert_eq!(
        conn.call(&fixtures::request("ssh-add-x")),
        FAILURE,
        "locked twice"
    );
    // Another connection sees the same lock.
    let mut other = connect(t);
    assert_eq!(
        other.call(&fixtures::request("ssh-add-ecdsa-p256")),
        FAILURE
    );
    assert_eq!(conn.call(&fixtures::request("ssh-add-X")), SUCCESS);
    assert_eq!(identities(&mut *other).len(), 1);
}

fn unknown_message_and_extension(t: &dyn Transport) {
    let mut conn = connect(t);
    assert_eq!(conn.call(&[200, 1, 2, 3]), FAILURE);
    let mut ext = vec![msg::EXTENSION];
    ext.extend_from_slice(&(b"nope@example.test".len() as u32).to_be_bytes());
    ext.extend_from_slice(b"nope@example.test");
    assert_eq!(conn.call(&ext), [msg::EXTENSION_FAILURE]);
    // Still usable afterwards.
    assert!(identities(&mut *conn).is_empty());
}

fn replies_follow_request_order(t: &dyn Transport) {
    let mut conn = connect(t);
    let mut batch = encode_frame(&fixtures::request("ssh-add-ed25519"));
    batch.extend(encode_frame(&[200]));
    batch.extend(encode_frame(&fixtures::request("ssh-add-l")));
    conn.send_raw(&batch).unwrap();
    assert_eq!(conn.recv().unwrap().unwrap(), SUCCESS);
    assert_eq!(conn.recv().unwrap().unwrap(), FAILURE);
    assert_eq!(conn.recv().unwrap().unwrap()[..5], [12, 0, 0, 0, 1]);
}

fn bad_length_closes_only_that_connection(t: &dyn Transport, announced: u32) {
    let mut bystander = connect(t);
    let mut offender = connect(t);
    offender.send_raw(&announced.to_be_bytes()).unwrap();
    assert!(
        offender.recv().unwrap_or(None).is_none(),
        "length {announced}: connection not closed"
    );
    assert!(identities(&mut *bystander).is_empty());
    assert!(identities(&mut *connect(t)).is_empty());
}

fn largest_frame_is_answered(t: &dyn Transport) {
    let mut conn = connect(t);
    let mut body = vec![0u8; MAX_MESSAGE_LEN];
    body[0] = 200;
    assert_eq!(conn.call(&body), FAILURE);
}

/// One conformance case: gets a transport to a fresh agent.
type Case = fn(&dyn Transport);

/// What a case needs from the transport to reach the agent at all.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    Nothing,
    /// A byte stream the agent frames (several frames at once, bad lengths).
    Stream,
}

/// Runs every case the transport can carry on a fresh agent from `fresh`, and says which it
/// skipped and why: a case that cannot reach the agent is not counted as passed.
fn run_suite<T: Transport>(fresh: impl Fn() -> T) {
    let cases: &[(&str, Needs, Case)] = &[
        (
            "list_is_empty_at_start",
            Needs::Nothing,
            list_is_empty_at_start,
        ),
        (
            "every_fixture_key_type",
            Needs::Nothing,
            every_fixture_key_type_is_added_and_listed,
        ),
        (
            "small_rsa_key_is_refused",
            Needs::Nothing,
            small_rsa_key_is_refused,
        ),
        ("signatures_verify", Needs::Nothing, signatures_verify),
        (
            "unknown_key_is_not_used",
            Needs::Nothing,
            unknown_key_is_not_used,
        ),
        (
            "remove_and_remove_all",
            Needs::Nothing,
            remove_and_remove_all,
        ),
        ("lock_and_unlock", Needs::Nothing, lock_and_unlock),
        (
            "unknown_message_and_extension",
            Needs::Nothing,
            unknown_message_and_extension,
        ),
        (
            "replies_follow_request_order",
            Needs::Stream,
            replies_follow_request_order,
        ),
        ("over_long_frame", Needs::Stream, |t| {
            bad_length_closes_only_that_connection(t, MAX_MESSAGE_LEN as u32 + 1)
        }),
        ("zero_length_frame", Needs::Stream, |t| {
            bad_length_closes_only_that_connection(t, 0)
        }),
        (
            "largest_frame_is_answered",
            Needs::Nothing,
            largest_frame_is_answered,
        ),
    ];
    let (mut ran, mut skipped, mut name) = (0, Vec::new(), String::new());
    for &(case_name, needs, case) in cases {
        let transport = fresh();
        name = transport.name().to_owned();
        if needs == Needs::Stream && !transport.capabilities().stream {
            skipped.push(case_name);
            continue;
        }
        eprintln!("conformance over {name}: {case_name}");
        case(&transport);
        ran += 1;
    }
    eprintln!(
        "conformance over {name}: {ran} cases run, {} skipped{}",
        skipped.len(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(
                " (not a byte stream the agent frames itself): {}",
                skipped.join(", ")
            )
        }
    );
    assert!(ran > 0, "no conformance case ran over {name}");
}

#[cfg(unix)]
mod unix_socket {
    use agentry_tests::server::TestAgent;
    use agentry_tests::transport::{Connection, Transport, UnixSocketTransport};

    /// Keeps the agent alive as long as the transport that reaches it.
    struct Served {
        _agent: TestAgent,
        transport: UnixSocketTransport,
    }

    impl Transport for Served {
        fn name(&self) -> &str {
            self.transport.name()
        }
        fn connect(&self) -> std::io::Result<Box<dyn Connection>> {
            self.transport.connect()
        }
        fn capabilities(&self) -> agentry_tests::transport::Capabilities {
            self.transport.capabilities()
        }
    }

    #[test]
    fn conformance_over_unix_socket() {
        super::run_suite(|| {
            let agent = TestAgent::start();
            let transport = UnixSocketTransport(agent.socket().to_owned());
            Served {
                _agent: agent,
                transport,
            }
        });
    }
}

#[cfg(windows)]
mod windows {
    use agentry_tests::transport::{Connection, Transport};
    use agentry_tests::windows::{CopyDataTransport, PipeTransport, WinTestAgent};

    /// Keeps the agent alive as long as the transport that reaches it.
    struct Served<T> {
        _agent: WinTestAgent,
        transport: T,
    }

    impl<T: Transport> Transport for Served<T> {
        fn name(&self) -> &str {
            self.transport.name()
        }
        fn connect(&self) -> std::io::Result<Box<dyn Connection>> {
            self.transport.connect()
        }
        fn capabilities(&self) -> agentry_tests::transport::Capabilities {
            self.transport.capabilities()
        }
    }

    #[test]
    fn conformance_over_named_pipe() {
        super::run_suite(|| {
            let agent = WinTestAgent::start();
            let transport = PipeTransport(agent.pipe().to_owned());
            Served {
                _agent: agent,
                transport,
            }
        });
    }

    #[test]
    fn conformance_over_wm_copydata() {
        super::run_suite(|| {
            let agent = WinTestAgent::start();
            let transport = CopyDataTransport(agent.window().expect("window").to_owned());
            Served {
                _agent: agent,
                transport,
            }
        });
    }
}
