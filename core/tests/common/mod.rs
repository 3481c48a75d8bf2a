//! Shared helpers for agentry-core's integration tests: fixture paths (keys and requests made by
//! the real `ssh-keygen`, `ssh-add`, `ssh` and `puttygen`; see tests/fixtures/README.md) and
//! small wrappers to drive an [`Agent`].

#![allow(dead_code, unreachable_pub)]

use agentry_core::proto::{
    Constraint, DestinationConstraint, Extension, Hop, HopKey, Request, Response, SessionBind,
    SignRequest,
};
use agentry_core::wire::Writer;
use agentry_core::{Agent, ClientInfo, Session};
use ed25519_dalek::{Signer, SigningKey};
use std::path::PathBuf;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Body of a captured request (the frame without its length).
pub fn request_bytes(name: &str) -> Vec<u8> {
    let path = fixtures().join("requests").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn key_file(name: &str) -> String {
    let path = fixtures().join("keys").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// The public key blob of a fixture key (`NAME.pub`).
pub fn public_blob(name: &str) -> Vec<u8> {
    let text = key_file(&format!("{name}.pub"));
    let key = ssh_key::PublicKey::from_openssh(text.trim()).expect("parse public key");
    key.to_bytes().expect("encode public key")
}

pub fn session() -> Session {
    Session::new(ClientInfo {
        transport: "test".into(),
        hints: Vec::new(),
        ..ClientInfo::default()
    })
}

pub async fn call(agent: &Agent, session: &mut Session, body: &[u8]) -> Response {
    let reply = agent.handle_message(session, body).await;
    Response::decode(&reply).expect("agent reply decodes")
}

pub async fn add_fixture(agent: &Agent, request: &str) {
    let mut s = session();
    assert_eq!(
        call(agent, &mut s, &request_bytes(request)).await,
        Response::Success,
        "adding {request}"
    );
}

/// Adds the ed25519 fixture key (the request `ssh-add` sent) restricted to `dests`.
pub async fn add_restricted_ed25519(agent: &Agent, dests: Vec<DestinationConstraint>) {
    let Ok(Request::AddIdentity(mut add)) = Request::decode(&request_bytes("ssh-add-ed25519.bin"))
    else {
        panic!("fixture")
    };
    add.constrained = true;
    add.constraints = vec![Constraint::RestrictDestination(dests)];
    let body = Request::AddIdentity(add).encode();
    assert_eq!(call(agent, &mut session(), &body).await, Response::Success);
}

/// The data ssh signs with the ed25519 fixture key for `publickey-hostbound-v00@openssh.com`
/// user authentication as `user`, on the connection with session id `sid` to the host whose key
/// (or certificate) blob is `host_key`.
pub fn hostbound_userauth(sid: &[u8], user: &str, host_key: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(sid)
        .u8(50)
        .string(user.as_bytes())
        .string(b"ssh-connection")
        .string(b"publickey-hostbound-v00@openssh.com")
        .u8(1)
        .string(b"ssh-ed25519")
        .string(&public_blob("ed25519"))
        .string(host_key);
    w.into_bytes()
}

pub fn sign_body(key_blob: &[u8], data: &[u8], flags: u32) -> Vec<u8> {
    Request::Sign(SignRequest {
        key_blob: key_blob.to_vec(),
        data: data.to_vec(),
        flags,
    })
    .encode()
    .to_vec()
}

pub async fn identities(agent: &Agent) -> Vec<Vec<u8>> {
    match call(agent, &mut session(), &[11]).await {
        Response::Identities(ids) => ids.into_iter().map(|i| i.key_blob).collect(),
        other => panic!("unexpected reply {other:?}"),
    }
}

/// A test SSH server: a name and an Ed25519 host key (from a fixed seed), able to bind a
/// connection as `session-bind@openssh.com` does.
pub struct Host {
    pub name: &'static str,
    pub key: SigningKey,
}

impl Host {
    pub fn new(name: &'static str, seed: u8) -> Self {
        Self {
            name,
            key: SigningKey::from_bytes(&[seed; 32]),
        }
    }

    pub fn blob(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.string(b"ssh-ed25519")
            .string(self.key.verifying_key().as_bytes());
        w.into_bytes()
    }

    pub fn hop(&self, user: &str) -> Hop {
        Hop {
            user: user.into(),
            hostname: self.name.into(),
            keys: vec![HopKey {
                key_blob: self.blob(),
                is_ca: false,
            }],
        }
    }

    /// Binds `session` to this host as ssh does after key exchange.
    pub async fn bind(&self, agent: &Agent, session: &mut Session, sid: &[u8], forwarding: bool) {
        let mut sig = Writer::new();
        sig.string(b"ssh-ed25519")
            .string(&self.key.sign(sid).to_bytes());
        let body = Request::Extension(Extension::SessionBind(SessionBind {
            host_key: self.blob(),
            session_id: sid.to_vec(),
            signature: sig.into_bytes(),
            is_forwarding: forwarding,
        }))
        .encode();
        assert_eq!(call(agent, session, &body).await, Response::Success);
    }
}

/// A user certificate for fixture key `key_file`, signed by the fixture CA.
pub fn certificate_for(key_file: &str) -> Vec<u8> {
    let public = ssh_key::PublicKey::read_openssh_file(
        fixtures().join("keys").join(format!("{key_file}.pub")),
    )
    .unwrap();
    let ca = ssh_key::PrivateKey::read_openssh_file(fixtures().join("keys/ca-ed25519")).unwrap();
    let mut builder =
        ssh_key::certificate::Builder::new([7u8; 32], public.key_data().clone(), 0, u64::MAX)
            .unwrap();
    builder
        .serial(1)
        .unwrap()
        .key_id("deferred-cert")
        .unwrap()
        .cert_type(ssh_key::certificate::CertType::User)
        .unwrap()
        .valid_principal("alice")
        .unwrap();
    let cert = builder.sign(&ca).unwrap();
    ssh_encoding::Encode::encode_vec(&cert).unwrap()
}
