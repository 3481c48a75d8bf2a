//! Keys held outside the agent, through a mock [`TokenProviders`] whose signers sign with fixture
//! keys (the real provider, a PKCS#11 helper process, is tested with SoftHSM2 in
//! cli/tests/pkcs11.rs): smartcard add and remove, listing, constraints, lock, remove-all, the
//! refusal of adds from bound connections, and signatures checked before they are sent.

mod common;

use agentry_core::agent::BoxFuture;
use agentry_core::keyfile::{KdfLimits, KeyFile};
use agentry_core::keys::{SignError, SigningKey};
use agentry_core::proto::{Constraint, Request, Response, SmartcardAdd, SmartcardRemove};
use agentry_core::{
    AddError, Agent, AgentOptions, ExternalKey, ExternalSignRequest, ExternalSigner,
    LoadedProvider, ProviderError, TokenProviders,
};
use common::{call, identities, key_file, public_blob, session, sign_body, Host};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

const PROVIDER: &str = "/usr/lib/mock/libtoken.so";

#[derive(Debug)]
struct FixtureSigner {
    key: SigningKey,
    garbage: AtomicBool,
}

impl ExternalSigner for FixtureSigner {
    fn sign(&self, request: ExternalSignRequest) -> BoxFuture<Result<Vec<u8>, SignError>> {
        let mut sig = self
            .key
            .sign(&request.data, request.flags, request.allow_sha1);
        if self.garbage.load(Ordering::SeqCst) {
            sig = sig.map(|mut s| {
                let last = s.len() - 1;
                s[last] ^= 1;
                s
            });
        }
        Box::pin(async move { sig })
    }
}

fn fixture_signer(name: &str) -> Arc<FixtureSigner> {
    let (key, _) = KeyFile::parse(key_file(name).as_bytes())
        .unwrap()
        .decrypt(&[], &KdfLimits::default())
        .unwrap();
    Arc::new(FixtureSigner {
        key: SigningKey::new(&key).unwrap(),
        garbage: AtomicBool::new(false),
    })
}

/// A token with the rsa-2048 and ecdsa-p256 fixture keys; PIN "1234".
#[derive(Debug, Default)]
struct MockProviders {
    loaded: Mutex<bool>,
    signers: Mutex<Vec<Arc<FixtureSigner>>>,
}

impl TokenProviders for MockProviders {
    fn add(
        &self,
        provider: &str,
        pin: Zeroizing<Vec<u8>>,
    ) -> BoxFuture<Result<LoadedProvider, ProviderError>> {
        let result = if provider != PROVIDER {
            Err(ProviderError::NotAllowed(provider.to_owned()))
        } else if pin.as_slice() != b"1234" {
            Err(ProviderError::WrongPin(provider.to_owned()))
        } else if std::mem::replace(&mut *self.loaded.lock().unwrap(), true) {
            Err(ProviderError::AlreadyLoaded(provider.to_owned()))
        } else {
            let rsa = fixture_signer("rsa-2048");
            let ecdsa = fixture_signer("ecdsa-p256");
            *self.signers.lock().unwrap() = vec![Arc::clone(&rsa), Arc::clone(&ecdsa)];
            Ok(LoadedProvider {
                provider: provider.to_owned(),
                keys: vec![
                    ExternalKey {
                        blob: public_blob("rsa-2048"),
                        comment: b"token rsa".to_vec(),
                        signer: rsa,
                    },
                    ExternalKey {
                        blob: public_blob("ecdsa-p256"),
                        comment: Vec::new(),
                        signer: ecdsa,
                    },
                ],
                restarted: false,
            })
        };
        Box::pin(async move { result })
    }

    fn remove(&self, provider: &str) -> BoxFuture<Result<String, ProviderError>> {
        let was = std::mem::replace(&mut *self.loaded.lock().unwrap(), false);
        let provider = provider.to_owned();
        Box::pin(async move {
            if was {
                Ok(provider)
            } else {
                Err(ProviderError::NotLoaded(provider))
            }
        })
    }
}

fn token_agent() -> (Agent, Arc<MockProviders>) {
    let providers = Arc::new(MockProviders::default());
    let agent = Agent::new(AgentOptions::new().token_providers(providers.clone()));
    (agent, providers)
}

fn add_body(provider: &str, pin: &str, constraints: Vec<Constraint>) -> Vec<u8> {
    Request::AddSmartcardKey(Box::new(SmartcardAdd {
        provider: provider.into(),
        pin: Zeroizing::new(pin.as_bytes().to_vec()),
        constrained: !constraints.is_empty(),
        constraints,
    }))
    .encode()
    .to_vec()
}

fn remove_body(provider: &str) -> Vec<u8> {
    Request::RemoveSmartcardKey(SmartcardRemove {
        provider: provider.into(),
        pin: Zeroizing::default(),
    })
    .encode()
    .to_vec()
}

#[tokio::test]
async fn token_keys_are_listed_sign_and_go_with_their_provider() {
    let (agent, _) = token_agent();
    let mut s = session();
    assert_eq!(
        call(&agent, &mut s, &add_body(PROVIDER, "1234", vec![])).await,
        Response::Success
    );
    assert_eq!(
        identities(&agent).await,
        vec![public_blob("rsa-2048"), public_blob("ecdsa-p256")]
    );
    let comments: Vec<String> = agent.key_infos().into_iter().map(|k| k.comment).collect();
    assert_eq!(comments, vec!["token rsa".to_owned(), PROVIDER.to_owned()]);
    // PuTTY's list-extended: token keys are neither encrypted nor re-encryptable.
    let body = Request::Extension(agentry_core::proto::Extension::ListExtended).encode();
    let reply = call(&agent, &mut s, &body).await;
    let listed = agentry_core::proto::ListExtendedReply::decode(&reply).unwrap();
    assert!(listed
        .keys
        .iter()
        .all(|k| k.flags.decrypted() && k.flags.0 & 1 == 0));
    for (name, flags) in [("rsa-2048", 2), ("rsa-2048", 4), ("ecdsa-p256", 0)] {
        let blob = public_blob(name);
        match call(&agent, &mut s, &sign_body(&blob, b"data", flags)).await {
            Response::Signature(sig) => {
                assert!(agentry_core::keys::verify_external(&blob, b"data", &sig))
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // SHA-1 follows the agent's policy, as for held RSA keys.
    assert_eq!(
        call(
            &agent,
            &mut s,
            &sign_body(&public_blob("rsa-2048"), b"d", 0)
        )
        .await,
        Response::Failure
    );
    // A second add of a loaded provider adds nothing: FAILURE, as OpenSSH's agent answers.
    assert_eq!(
        call(&agent, &mut s, &add_body(PROVIDER, "1234", vec![])).await,
        Response::Failure
    );
    assert_eq!(
        call(&agent, &mut s, &remove_body(PROVIDER)).await,
        Response::Success
    );
    assert!(identities(&agent).await.is_empty());
    assert_eq!(
        call(&agent, &mut s, &remove_body(PROVIDER)).await,
        Response::Failure
    );
}

#[tokio::test]
async fn refusals_wrong_pin_unknown_provider_and_bound_connections() {
    let (agent, _) = token_agent();
    let mut s = session();
    for body in [
        add_body(PROVIDER, "0000", vec![]),
        add_body("/tmp/evil.so", "1234", vec![]),
    ] {
        assert_eq!(call(&agent, &mut s, &body).await, Response::Failure);
    }
    let host = Host::new("server", 7);
    for forwarding in [false, true] {
        let mut bound = session();
        host.bind(&agent, &mut bound, b"sid", forwarding).await;
        assert_eq!(
            call(&agent, &mut bound, &add_body(PROVIDER, "1234", vec![])).await,
            Response::Failure,
            "add after a session-bind (forwarding: {forwarding})"
        );
    }
    assert!(identities(&agent).await.is_empty());
    let no_providers = Agent::new(AgentOptions::new());
    assert_eq!(
        no_providers
            .add_provider(PROVIDER, Zeroizing::default(), vec![])
            .await,
        Err(AddError::Unsupported(
            "this agent loads no PKCS#11 providers"
        ))
    );
}

#[tokio::test]
async fn token_keys_take_constraints_lock_and_remove_all() {
    let (agent, _) = token_agent();
    let mut s = session();
    let body = add_body(PROVIDER, "1234", vec![Constraint::Lifetime(3600)]);
    assert_eq!(call(&agent, &mut s, &body).await, Response::Success);
    assert!(agent.key_infos().iter().all(|k| k.expires_in.is_some()));
    // Confirmation needs a prompter; this agent has none, so the add is refused, as for files.
    let (other, _) = token_agent();
    let body = add_body(PROVIDER, "1234", vec![Constraint::Confirm]);
    assert_eq!(call(&other, &mut s, &body).await, Response::Failure);

    let blob = public_blob("ecdsa-p256");
    let lock = Request::Lock {
        passphrase: Zeroizing::new(b"pw".to_vec()),
    }
    .encode();
    assert_eq!(call(&agent, &mut s, &lock).await, Response::Success);
    assert_eq!(
        call(&agent, &mut s, &sign_body(&blob, b"d", 0)).await,
        Response::Failure
    );
    let unlock = Request::Unlock {
        passphrase: Zeroizing::new(b"pw".to_vec()),
    }
    .encode();
    assert_eq!(call(&agent, &mut s, &unlock).await, Response::Success);
    assert!(matches!(
        call(&agent, &mut s, &sign_body(&blob, b"d", 0)).await,
        Response::Signature(_)
    ));
    let remove_one = Request::RemoveIdentity {
        key_blob: blob.clone(),
    }
    .encode();
    assert_eq!(call(&agent, &mut s, &remove_one).await, Response::Success);
    assert_eq!(identities(&agent).await, vec![public_blob("rsa-2048")]);
    assert_eq!(call(&agent, &mut s, &[19]).await, Response::Success);
    assert!(identities(&agent).await.is_empty());
}

#[tokio::test]
async fn a_signature_that_does_not_verify_is_not_sent() {
    let (agent, providers) = token_agent();
    let mut s = session();
    assert_eq!(
        call(&agent, &mut s, &add_body(PROVIDER, "1234", vec![])).await,
        Response::Success
    );
    for signer in providers.signers.lock().unwrap().iter() {
        signer.garbage.store(true, Ordering::SeqCst);
    }
    for name in ["rsa-2048", "ecdsa-p256"] {
        assert_eq!(
            call(&agent, &mut s, &sign_body(&public_blob(name), b"d", 2)).await,
            Response::Failure,
            "{name}"
        );
    }
}
