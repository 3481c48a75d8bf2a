//! Deferred decryption: keys added as encrypted files (PuTTY's `add-ppk`, agentry's
//! `add-key-file@agentry`) are listed at once, decrypted with a passphrase from the prompter on
//! first use (three tries), shared by concurrent requests for the same key, re-encrypted on
//! request, and never hold up other keys while a prompt is open. Files written by the real
//! `ssh-keygen` and `puttygen` (tests/fixtures/keys, passphrase "correct horse").

mod common;

use agentry_core::clock::TokioClock;
use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PromptFuture, Prompter};
use agentry_core::proto::{Extension, Request, Response};
use agentry_core::{Agent, AgentOptions};
use common::*;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

const PASSPHRASE: &str = "correct horse";

/// Answers passphrase prompts from a script (`None` = cancel) and records each request.
#[derive(Default)]
struct Passphrases {
    script: Mutex<VecDeque<Option<&'static str>>>,
    asked: Mutex<Vec<PassphraseRequest>>,
}

impl Passphrases {
    fn new(script: &[Option<&'static str>]) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(script.iter().copied().collect()),
            asked: Mutex::default(),
        })
    }

    fn attempts(&self) -> Vec<u32> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.attempt)
            .collect()
    }
}

impl Prompter for Passphrases {
    fn confirm(&self, _: ConfirmRequest) -> PromptFuture<bool> {
        Box::pin(async { false })
    }

    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        self.asked.lock().unwrap().push(request);
        let answer = self.script.lock().unwrap().pop_front().flatten();
        Box::pin(async move { answer.map(|a| Zeroizing::new(a.to_owned())) })
    }
}

fn agent_with(prompter: Arc<dyn Prompter>) -> Agent {
    Agent::with_parts(AgentOptions::new(), Some(prompter), Arc::new(TokioClock))
}

fn add_ppk(file: &str) -> Vec<u8> {
    let ppk = std::fs::read(fixtures().join("keys/ppk").join(file)).unwrap();
    Request::Extension(Extension::AddPpk {
        ppk: Zeroizing::new(ppk),
        constraints: Vec::new(),
    })
    .encode()
    .to_vec()
}

fn add_key_file(file: &str) -> Vec<u8> {
    let bytes = std::fs::read(fixtures().join("keys").join(file)).unwrap();
    Request::Extension(Extension::AddKeyFile {
        file: Zeroizing::new(bytes),
        public_key: Vec::new(),
        comment: b"deferred".to_vec(),
        constraints: Vec::new(),
    })
    .encode()
    .to_vec()
}

fn request(ext: Extension) -> Vec<u8> {
    Request::Extension(ext).encode().to_vec()
}

/// `list-extended` flags per key blob.
async fn flags(agent: &Agent) -> Vec<(Vec<u8>, u32)> {
    let Response::SuccessWith(payload) =
        call(agent, &mut session(), &request(Extension::ListExtended)).await
    else {
        panic!("list-extended refused")
    };
    let mut r = agentry_core::wire::Reader::new(&payload);
    let n = r.u32().unwrap();
    (0..n)
        .map(|_| {
            let blob = r.string().unwrap().to_vec();
            r.string().unwrap();
            let flags = agentry_core::wire::Reader::new(r.string().unwrap())
                .u32()
                .unwrap();
            (blob, flags)
        })
        .collect()
}

async fn sign(agent: &Agent, blob: &[u8]) -> Response {
    call(agent, &mut session(), &sign_body(blob, b"deferred data", 0)).await
}

fn assert_verifies(blob: &[u8], reply: &Response) {
    let Response::Signature(sig) = reply else {
        panic!("no signature: {reply:?}")
    };
    assert!(
        agentry_core::keys::verify_signature(blob, b"deferred data", sig),
        "signature does not verify"
    );
}

#[tokio::test]
async fn encrypted_ppk_is_listed_at_once_and_decrypted_on_first_use() {
    let prompter = Passphrases::new(&[Some(PASSPHRASE)]);
    let agent = agent_with(prompter.clone());
    let blob = public_blob("ed25519");
    assert_eq!(
        call(&agent, &mut session(), &add_ppk("ed25519-encrypted.ppk")).await,
        Response::Success
    );
    assert!(prompter.attempts().is_empty(), "adding must not prompt");
    assert_eq!(identities(&agent).await, vec![blob.clone()]);
    assert_eq!(flags(&agent).await, vec![(blob.clone(), 3)]);

    assert_verifies(&blob, &sign(&agent, &blob).await);
    assert_eq!(prompter.attempts(), vec![1]);
    assert_eq!(flags(&agent).await, vec![(blob.clone(), 1)]);
    assert_verifies(&blob, &sign(&agent, &blob).await);
    assert_eq!(prompter.attempts(), vec![1], "a decrypted key asks again");
    let asked = prompter.asked.lock().unwrap()[0].clone();
    assert!(
        asked.fingerprint.starts_with("SHA256:"),
        "{}",
        asked.fingerprint
    );
    assert!(asked.message().contains(&asked.fingerprint));
}

#[tokio::test]
async fn encrypted_openssh_file_decrypts_after_wrong_passphrases() {
    let prompter = Passphrases::new(&[Some("wrong"), Some("also wrong"), Some(PASSPHRASE)]);
    let agent = agent_with(prompter.clone());
    let blob = public_blob("ed25519-encrypted");
    assert_eq!(
        call(&agent, &mut session(), &add_key_file("ed25519-encrypted")).await,
        Response::Success
    );
    assert_eq!(identities(&agent).await, vec![blob.clone()]);
    assert_verifies(&blob, &sign(&agent, &blob).await);
    assert_eq!(prompter.attempts(), vec![1, 2, 3]);
}

#[tokio::test]
async fn three_wrong_passphrases_fail_that_request_only() {
    let prompter = Passphrases::new(&[Some("a"), Some("b"), Some("c"), Some(PASSPHRASE)]);
    let agent = agent_with(prompter.clone());
    let blob = public_blob("ed25519-encrypted");
    call(&agent, &mut session(), &add_key_file("ed25519-encrypted")).await;
    assert_eq!(sign(&agent, &blob).await, Response::Failure);
    assert_eq!(prompter.attempts(), vec![1, 2, 3]);
    assert_eq!(
        identities(&agent).await,
        vec![blob.clone()],
        "key stays listed"
    );
    assert_verifies(&blob, &sign(&agent, &blob).await);
    assert_eq!(prompter.attempts(), vec![1, 2, 3, 1]);
}

#[tokio::test]
async fn cancelled_prompt_fails_the_request_and_the_next_one_asks_again() {
    let prompter = Passphrases::new(&[None, Some(PASSPHRASE)]);
    let agent = agent_with(prompter.clone());
    let blob = public_blob("ed25519");
    call(&agent, &mut session(), &add_ppk("ed25519-encrypted.ppk")).await;
    assert_eq!(sign(&agent, &blob).await, Response::Failure);
    assert_eq!(prompter.attempts(), vec![1]);
    assert_verifies(&blob, &sign(&agent, &blob).await);
}

#[tokio::test]
async fn reencrypt_drops_the_decrypted_copy_and_the_next_use_asks_again() {
    let prompter = Passphrases::new(&[Some(PASSPHRASE), Some(PASSPHRASE)]);
    let agent = agent_with(prompter.clone());
    let encrypted = public_blob("ed25519");
    let plain = public_blob("ecdsa-p256");
    call(&agent, &mut session(), &add_ppk("ed25519-encrypted.ppk")).await;
    add_fixture(&agent, "ssh-add-ecdsa-p256.bin").await;
    assert_verifies(&encrypted, &sign(&agent, &encrypted).await);

    let reencrypt = |key_blob: Vec<u8>| request(Extension::Reencrypt { key_blob });
    assert_eq!(
        call(&agent, &mut session(), &reencrypt(encrypted.clone())).await,
        Response::Success
    );
    assert_eq!(
        call(&agent, &mut session(), &reencrypt(plain.clone())).await,
        Response::ExtensionFailure,
        "a key without an encrypted form cannot be re-encrypted"
    );
    assert_eq!(
        flags(&agent).await,
        vec![(encrypted.clone(), 3), (plain.clone(), 0)]
    );
    assert_verifies(&encrypted, &sign(&agent, &encrypted).await);
    assert_eq!(prompter.attempts(), vec![1, 1]);

    // reencrypt-all: success with the number of keys left decrypted (the plain one).
    assert_eq!(
        call(&agent, &mut session(), &request(Extension::ReencryptAll)).await,
        Response::SuccessWith(1u32.to_be_bytes().to_vec())
    );
    assert_eq!(
        flags(&agent).await,
        vec![(encrypted, 3), (plain.clone(), 0)]
    );
    // With only keys that cannot be re-encrypted, nothing changes: failure (as PuTTY).
    let only_plain = agent_with(Passphrases::new(&[]));
    add_fixture(&only_plain, "ssh-add-ecdsa-p256.bin").await;
    assert_eq!(
        call(
            &only_plain,
            &mut session(),
            &request(Extension::ReencryptAll)
        )
        .await,
        Response::ExtensionFailure
    );
}

/// Holds each passphrase prompt open until the test answers it.
struct Gated {
    pending: Mutex<Vec<oneshot::Sender<Option<Zeroizing<String>>>>>,
    asked: Mutex<u32>,
}

impl Prompter for Gated {
    fn confirm(&self, _: ConfirmRequest) -> PromptFuture<bool> {
        Box::pin(async { false })
    }

    fn passphrase(&self, _: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().push(tx);
        *self.asked.lock().unwrap() += 1;
        Box::pin(async move { rx.await.ok().flatten() })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_prompt_blocks_no_other_key_and_is_shared_by_requests_for_its_key() {
    let prompter = Arc::new(Gated {
        pending: Mutex::default(),
        asked: Mutex::new(0),
    });
    let agent = agent_with(prompter.clone());
    let encrypted = public_blob("ed25519");
    let plain = public_blob("ecdsa-p256");
    call(&agent, &mut session(), &add_ppk("ed25519-encrypted.ppk")).await;
    add_fixture(&agent, "ssh-add-ecdsa-p256.bin").await;

    let first = tokio::spawn({
        let (agent, blob) = (agent.clone(), encrypted.clone());
        async move { sign(&agent, &blob).await }
    });
    let shown = async {
        while *prompter.asked.lock().unwrap() == 0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), shown)
        .await
        .expect("the passphrase prompt was not shown");
    let second = tokio::spawn({
        let (agent, blob) = (agent.clone(), encrypted.clone());
        async move { sign(&agent, &blob).await }
    });
    // Another key, another client, and listing are served while the prompt is open.
    assert!(matches!(sign(&agent, &plain).await, Response::Signature(_)));
    assert_eq!(identities(&agent).await.len(), 2);
    assert!(!first.is_finished() && !second.is_finished());

    let answer = prompter.pending.lock().unwrap().remove(0);
    answer
        .send(Some(Zeroizing::new(PASSPHRASE.into())))
        .unwrap();
    assert_verifies(&encrypted, &first.await.unwrap());
    assert_verifies(&encrypted, &second.await.unwrap());
    assert_eq!(
        *prompter.asked.lock().unwrap(),
        1,
        "one prompt for both requests"
    );
}

#[tokio::test]
async fn encrypted_file_without_a_prompter_is_refused_at_add() {
    let agent = Agent::new(AgentOptions::new());
    assert_eq!(
        call(&agent, &mut session(), &add_ppk("ed25519-encrypted.ppk")).await,
        Response::ExtensionFailure
    );
    assert!(identities(&agent).await.is_empty());
}

/// Bad input on the key-file paths: garbage, a file of the wrong kind for `add-ppk`, a public key
/// that is not the file's, and a truncated extension body are refused; nothing is added.
#[tokio::test]
async fn bad_key_file_requests_are_refused_and_add_nothing() {
    let agent = agent_with(Passphrases::new(&[]));
    let refused = |body: Vec<u8>| {
        let agent = agent.clone();
        async move { call(&agent, &mut session(), &body).await }
    };
    let key_file = |file: Vec<u8>, public_key: Vec<u8>| {
        Request::Extension(Extension::AddKeyFile {
            file: Zeroizing::new(file),
            public_key,
            comment: Vec::new(),
            constraints: Vec::new(),
        })
        .encode()
        .to_vec()
    };
    assert_eq!(
        refused(key_file(b"not a key at all".to_vec(), Vec::new())).await,
        Response::ExtensionFailure
    );
    let openssh = std::fs::read(fixtures().join("keys/ed25519-encrypted")).unwrap();
    let ppk_request = Request::Extension(Extension::AddPpk {
        ppk: Zeroizing::new(openssh.clone()),
        constraints: Vec::new(),
    })
    .encode()
    .to_vec();
    assert_eq!(refused(ppk_request).await, Response::ExtensionFailure);
    assert_eq!(
        refused(key_file(openssh.clone(), public_blob("ecdsa-p256"))).await,
        Response::ExtensionFailure,
        "a public key that is not the file's"
    );
    assert_eq!(
        refused(key_file(openssh.clone(), b"garbage".to_vec())).await,
        Response::ExtensionFailure
    );
    let trailing = [public_blob("ed25519-encrypted"), b"x".to_vec()].concat();
    assert_eq!(
        refused(key_file(openssh.clone(), trailing)).await,
        Response::ExtensionFailure,
        "the file's public key followed by a byte"
    );
    let mut truncated = key_file(openssh, Vec::new());
    truncated.truncate(truncated.len() - 3);
    assert_eq!(refused(truncated).await, Response::Failure);
    assert!(identities(&agent).await.is_empty());
}

fn add_key_file_as(file: &str, listed_as: Vec<u8>) -> Vec<u8> {
    let bytes = std::fs::read(fixtures().join("keys").join(file)).unwrap();
    request(Extension::AddKeyFile {
        file: Zeroizing::new(bytes),
        public_key: listed_as,
        comment: b"deferred".to_vec(),
        constraints: Vec::new(),
    })
}

#[tokio::test]
async fn a_certificate_for_an_encrypted_key_is_listed_and_decrypted_with_it() {
    let prompter = Passphrases::new(&[Some(PASSPHRASE)]);
    let agent = agent_with(prompter.clone());
    let key = public_blob("ed25519-encrypted");
    let cert = certificate_for("ed25519-encrypted");
    // The certificate is added twice (as a reloaded config would): it keeps the key's slot.
    for add in [
        add_key_file("ed25519-encrypted"),
        add_key_file_as("ed25519-encrypted", cert.clone()),
        add_key_file_as("ed25519-encrypted", cert.clone()),
    ] {
        assert_eq!(call(&agent, &mut session(), &add).await, Response::Success);
    }
    assert!(prompter.attempts().is_empty(), "adding must not prompt");
    assert_eq!(identities(&agent).await, vec![key.clone(), cert.clone()]);
    assert_eq!(
        flags(&agent).await,
        vec![(key.clone(), 3), (cert.clone(), 3)]
    );

    // The certificate's first use asks once; the key itself is then decrypted too.
    assert_verifies(&key, &sign(&agent, &cert).await);
    assert_eq!(prompter.attempts(), vec![1]);
    assert_verifies(&key, &sign(&agent, &key).await);
    assert_eq!(prompter.attempts(), vec![1], "the key asked again");
    assert_eq!(
        flags(&agent).await,
        vec![(key.clone(), 1), (cert.clone(), 1)]
    );
    let asked = prompter.asked.lock().unwrap()[0].clone();
    assert_eq!(asked.algorithm, "ssh-ed25519-cert-v01@openssh.com");
}

#[tokio::test]
async fn a_certificate_for_another_key_is_refused() {
    let agent = agent_with(Passphrases::new(&[]));
    let other = certificate_for("ecdsa-p256");
    assert_eq!(
        call(
            &agent,
            &mut session(),
            &add_key_file_as("ed25519-encrypted", other)
        )
        .await,
        Response::ExtensionFailure
    );
    assert!(identities(&agent).await.is_empty());
}

#[tokio::test]
async fn an_unencrypted_file_is_listed_under_the_certificate_or_key_given_only_if_they_match() {
    let agent = agent_with(Passphrases::new(&[]));
    let cert = certificate_for("ed25519");
    assert_eq!(
        call(
            &agent,
            &mut session(),
            &add_key_file_as("ed25519", cert.clone())
        )
        .await,
        Response::Success
    );
    assert_eq!(identities(&agent).await, vec![cert]);
    assert_verifies(
        &public_blob("ed25519"),
        &sign(&agent, &identities(&agent).await[0]).await,
    );

    let other = agent_with(Passphrases::new(&[]));
    for wrong in [certificate_for("ecdsa-p256"), public_blob("ecdsa-p256")] {
        assert_eq!(
            call(&other, &mut session(), &add_key_file_as("ed25519", wrong)).await,
            Response::ExtensionFailure
        );
    }
    assert!(identities(&other).await.is_empty());
}
