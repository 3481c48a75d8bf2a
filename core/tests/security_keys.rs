//! FIDO security keys in the agent, through a mock [`SecurityKeyProviders`] whose authenticator
//! is an Ed25519 key in the test (the real providers, with OpenSSH's sk-dummy authenticator, are
//! tested in cli/tests/security_keys.rs): the provider constraint and who may name a library,
//! the web-origin check before the authenticator is asked, and signatures checked before they
//! are sent.

mod common;

use agentry_core::agent::BoxFuture;
use agentry_core::keys::{
    verify_signature, PrivateKey, SecurityKey, SignError, SkAlgorithm, SkAssertion,
};
use agentry_core::proto::{AddIdentity, Constraint, Request, Response};
use agentry_core::wire::{Reader, Writer};
use agentry_core::{
    Agent, AgentOptions, ExternalSignRequest, ExternalSigner, ProviderError, SecurityKeyProviders,
};
use common::{call, identities, session, sign_body, Host};
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const LIBRARY: &str = "/usr/lib/mock/libsk.so";

/// The authenticator: signs as a FIDO authenticator does (PROTOCOL.u2f), counting its uses.
#[derive(Debug)]
struct Authenticator {
    key: ed25519_dalek::SigningKey,
    application: String,
    asked: AtomicUsize,
    garbage: AtomicBool,
}

impl ExternalSigner for Authenticator {
    fn sign(&self, request: ExternalSignRequest) -> BoxFuture<Result<Vec<u8>, SignError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let (flags, counter) = (0x01u8, 7u32);
        let mut signed = Sha256::digest(self.application.as_bytes()).to_vec();
        signed.push(flags);
        signed.extend(counter.to_be_bytes());
        signed.extend(Sha256::digest(&request.data));
        let mut sig_r = self.key.sign(&signed).to_bytes().to_vec();
        if self.garbage.load(Ordering::SeqCst) {
            sig_r[0] ^= 1;
        }
        let sig = SkAssertion {
            flags,
            counter,
            sig_r,
            sig_s: Vec::new(),
        }
        .ssh_signature(SkAlgorithm::Ed25519);
        Box::pin(async move { sig })
    }
}

/// Providers: [`LIBRARY`] and `internal`, both reaching `authenticator`; records what it was
/// asked for.
#[derive(Debug)]
struct MockProviders {
    authenticator: Arc<Authenticator>,
}

impl SecurityKeyProviders for MockProviders {
    fn signer(
        &self,
        provider: &str,
        key: &SecurityKey,
    ) -> Result<Arc<dyn ExternalSigner>, ProviderError> {
        assert_eq!(key.key_handle(), b"key handle");
        if provider != LIBRARY && !provider.eq_ignore_ascii_case("internal") {
            return Err(ProviderError::NotAllowed(provider.to_owned()));
        }
        Ok(self.authenticator.clone())
    }
}

fn agent_with(application: &str) -> (Agent, Arc<Authenticator>, PrivateKey) {
    let signing = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let authenticator = Arc::new(Authenticator {
        key: signing.clone(),
        application: application.to_owned(),
        asked: AtomicUsize::new(0),
        garbage: AtomicBool::new(false),
    });
    let providers = Arc::new(MockProviders {
        authenticator: Arc::clone(&authenticator),
    });
    let agent = Agent::new(AgentOptions::new().security_keys(providers));
    let mut w = Writer::new();
    w.string(b"sk-ssh-ed25519@openssh.com")
        .string(signing.verifying_key().as_bytes())
        .string(application.as_bytes())
        .u8(0x01)
        .string(b"key handle")
        .string(b"");
    let wire = w.into_bytes();
    let key = PrivateKey::decode_wire(&mut Reader::new(&wire)).unwrap();
    (agent, authenticator, key)
}

fn add_body(key: &PrivateKey, constraints: Vec<Constraint>) -> Vec<u8> {
    Request::AddIdentity(Box::new(AddIdentity {
        key: key.clone(),
        comment: b"sk".to_vec(),
        constrained: true,
        constraints,
    }))
    .encode()
    .to_vec()
}

fn provider(name: &str) -> Vec<Constraint> {
    vec![Constraint::SkProvider(name.to_owned())]
}

fn signature(response: Response) -> Vec<u8> {
    match response {
        Response::Signature(sig) => sig,
        other => panic!("expected a signature, got {other:?}"),
    }
}

#[tokio::test]
async fn a_security_key_signs_through_its_provider() {
    let (agent, authenticator, key) = agent_with("ssh:");
    let mut s = session();
    assert_eq!(
        call(&agent, &mut s, &add_body(&key, provider(LIBRARY))).await,
        Response::Success
    );
    assert_eq!(identities(&agent).await, vec![key.public_blob()]);
    let sig = signature(call(&agent, &mut s, &sign_body(&key.public_blob(), b"data", 0)).await);
    assert!(verify_signature(&key.public_blob(), b"data", &sig));
    assert_eq!(authenticator.asked.load(Ordering::SeqCst), 1);
    // A signature that does not verify is not sent.
    authenticator.garbage.store(true, Ordering::SeqCst);
    assert_eq!(
        call(&agent, &mut s, &sign_body(&key.public_blob(), b"data", 0)).await,
        Response::Failure
    );
}

#[tokio::test]
async fn the_provider_is_required_and_a_library_is_not_named_from_a_bound_connection() {
    let (agent, _, key) = agent_with("ssh:");
    let mut s = session();
    // No provider; a provider the platform refuses; no security-key support at all.
    for body in [
        add_body(&key, vec![]),
        add_body(&key, provider("/tmp/evil.so")),
    ] {
        assert_eq!(call(&agent, &mut s, &body).await, Response::Failure);
    }
    let plain = Agent::new(AgentOptions::new());
    assert_eq!(
        call(&plain, &mut s, &add_body(&key, provider(LIBRARY))).await,
        Response::Failure
    );
    // A library only from a connection that never bound a session; internal from anywhere.
    let host = Host::new("server", 9);
    for forwarding in [false, true] {
        let mut bound = session();
        host.bind(&agent, &mut bound, b"sid", forwarding).await;
        assert_eq!(
            call(&agent, &mut bound, &add_body(&key, provider(LIBRARY))).await,
            Response::Failure,
            "library named after a session-bind (forwarding: {forwarding})"
        );
        assert!(identities(&agent).await.is_empty());
        assert_eq!(
            call(&agent, &mut bound, &add_body(&key, provider("internal"))).await,
            Response::Success
        );
        assert_eq!(
            call(&agent, &mut s, &[19]).await, // REMOVE_ALL_IDENTITIES
            Response::Success
        );
    }
}

#[tokio::test]
async fn an_sk_provider_on_another_key_is_refused() {
    let (agent, _, _) = agent_with("ssh:");
    let ed25519 = agentry_core::keyfile::KeyFile::parse(common::key_file("ed25519").as_bytes())
        .unwrap()
        .decrypt(&[], &agentry_core::keyfile::KdfLimits::default())
        .unwrap()
        .0;
    assert_eq!(
        call(
            &agent,
            &mut session(),
            &add_body(&ed25519, provider(LIBRARY))
        )
        .await,
        Response::Failure
    );
}

#[tokio::test]
async fn a_web_origin_key_signs_only_ssh_messages() {
    let (agent, authenticator, key) = agent_with("https://example.com");
    let mut s = session();
    assert_eq!(
        call(&agent, &mut s, &add_body(&key, provider(LIBRARY))).await,
        Response::Success
    );
    let challenge = br#"{"type":"webauthn.get","challenge":"abc"}"#;
    assert_eq!(
        call(&agent, &mut s, &sign_body(&key.public_blob(), challenge, 0)).await,
        Response::Failure
    );
    assert_eq!(
        authenticator.asked.load(Ordering::SeqCst),
        0,
        "the authenticator was asked to sign a web challenge"
    );
    let mut sshsig = Writer::new();
    sshsig
        .raw(b"SSHSIG")
        .string(b"file")
        .string(b"")
        .string(b"sha512")
        .string(&[1; 64]);
    let sshsig = sshsig.into_bytes();
    let sig = signature(call(&agent, &mut s, &sign_body(&key.public_blob(), &sshsig, 0)).await);
    assert!(verify_signature(&key.public_blob(), &sshsig, &sig));
    assert_eq!(authenticator.asked.load(Ordering::SeqCst), 1);
}
