//! The forwarded-host threat model on the add paths (docs/security.md, "Adding keys"): a client
//! that knows only a held key's public half (every listing shows it) sends encrypted key files
//! whose header shows that key. Such a request proves nothing, so it must not replace, loosen,
//! re-comment or make undecryptable a key the agent holds; a certificate it adds for a held key
//! carries the key's constraints; extensions see only the keys REQUEST_IDENTITIES shows on the
//! same connection; and no add may grow the identities reply past 256 KiB.

mod common;

use agentry_core::clock::TokioClock;
use agentry_core::keyfile::{KdfLimits, KeyFile};
use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PromptFuture, Prompter};
use agentry_core::proto::{Constraint, Extension, Request, Response};
use agentry_core::wire::{Reader, Writer};
use agentry_core::{AddError, Agent, AgentOptions, Session};
use base64ct::{Base64, Encoding};
use common::*;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

const PASSPHRASE: &str = "correct horse";

/// Confirms from a script (then "no"), always gives the fixtures' passphrase, and counts both.
#[derive(Default)]
struct User {
    confirms: Mutex<VecDeque<bool>>,
    confirm_asked: Mutex<Vec<ConfirmRequest>>,
    passphrase_asked: Mutex<u32>,
}

impl User {
    fn new(confirms: &[bool]) -> Arc<Self> {
        Arc::new(Self {
            confirms: Mutex::new(confirms.iter().copied().collect()),
            ..Self::default()
        })
    }

    fn confirms_asked(&self) -> usize {
        self.confirm_asked.lock().unwrap().len()
    }

    fn passphrases_asked(&self) -> u32 {
        *self.passphrase_asked.lock().unwrap()
    }
}

impl Prompter for User {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        self.confirm_asked.lock().unwrap().push(request);
        let answer = self.confirms.lock().unwrap().pop_front().unwrap_or(false);
        Box::pin(async move { answer })
    }

    fn passphrase(&self, _: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        *self.passphrase_asked.lock().unwrap() += 1;
        Box::pin(async { Some(Zeroizing::new(PASSPHRASE.to_owned())) })
    }
}

fn agent_with(user: &Arc<User>) -> Agent {
    let prompter: Arc<dyn Prompter> = user.clone();
    Agent::with_parts(AgentOptions::new(), Some(prompter), Arc::new(TokioClock))
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(path)).unwrap()
}

fn add_file(file: Vec<u8>, public_key: Vec<u8>, comment: &[u8], c: Vec<Constraint>) -> Vec<u8> {
    Request::Extension(Extension::AddKeyFile {
        file: Zeroizing::new(file),
        public_key,
        comment: comment.to_vec(),
        constraints: c,
    })
    .encode()
    .to_vec()
}

fn add_ppk(ppk: Vec<u8>) -> Vec<u8> {
    Request::Extension(Extension::AddPpk {
        ppk: Zeroizing::new(ppk),
        constraints: Vec::new(),
    })
    .encode()
    .to_vec()
}

fn ext(e: Extension) -> Vec<u8> {
    Request::Extension(e).encode().to_vec()
}

/// An encrypted `openssh-key-v1` file of another Ed25519 key (ssh-keygen's, same passphrase as
/// the fixtures) whose header is rewritten to show `public`: what an attacker who knows only
/// `public` can send. It decrypts, but not to the key it shows.
fn forged_openssh(public: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(read("keyfiles/openssh-ed25519-aes256ctr")).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let raw = Base64::decode_vec(&b64).unwrap();
    let magic = b"openssh-key-v1\0";
    let mut r = Reader::new(&raw[magic.len()..]);
    let mut w = Writer::new();
    w.raw(magic);
    for _ in 0..3 {
        w.string(r.string().unwrap()); // cipher, KDF, KDF options
    }
    assert_eq!(r.u32().unwrap(), 1);
    r.string().unwrap(); // the real public key
    w.u32(1).string(public).string(r.string().unwrap());
    let b64 = Base64::encode_string(&w.into_bytes());
    let mut out = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(70) {
        out.push_str(core::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    out.into_bytes()
}

/// The forged PPK fixture: puttygen's encrypted PPK of the ed25519 fixture key with its private
/// lines replaced by junk (PPK shows the public key in clear; the MAC is only checked after
/// decryption).
fn forged_ppk() -> Vec<u8> {
    read("keys/ppk/ed25519-forged.ppk")
}

/// Every unproven add an attacker can make for the ed25519 fixture key knowing its public half:
/// `add-key-file` with a forged OpenSSH header, `add-ppk` with forged private lines, and an
/// encrypted PEM file of another key with the public key given alongside.
fn forged_adds() -> Vec<(&'static str, Vec<u8>)> {
    let k = public_blob("ed25519");
    vec![
        (
            "openssh header",
            add_file(forged_openssh(&k), Vec::new(), b"attacker", Vec::new()),
        ),
        ("add-ppk", add_ppk(forged_ppk())),
        (
            "PEM with public_key",
            add_file(
                read("keyfiles/pem-rsa-2048-aes128"),
                k.clone(),
                b"attacker",
                Vec::new(),
            ),
        ),
    ]
}

async fn sign(agent: &Agent, session: &mut Session, blob: &[u8]) -> Response {
    call(agent, session, &sign_body(blob, b"data", 0)).await
}

fn signed(reply: &Response) -> bool {
    matches!(reply, Response::Signature(_))
}

#[tokio::test]
async fn an_encrypted_file_cannot_strip_a_held_keys_confirmation_or_comment() {
    for (what, forged) in forged_adds() {
        let user = User::new(&[]);
        let agent = agent_with(&user);
        add_fixture(&agent, "ssh-add-c-ed25519.bin").await;
        let before = agent.key_infos();

        let reply = call(&agent, &mut session(), &forged).await;
        assert_eq!(
            reply,
            Response::ExtensionFailure,
            "{what}: forged add accepted"
        );
        assert_eq!(agent.key_infos(), before, "{what}: the held key changed");
        let reply = sign(&agent, &mut session(), &public_blob("ed25519")).await;
        assert_eq!(
            reply,
            Response::Failure,
            "{what}: signed without confirmation"
        );
        assert_eq!(user.confirms_asked(), 1, "{what}: the user was not asked");
    }
}

#[tokio::test]
async fn a_forged_file_never_replaces_or_attaches_an_encrypted_form() {
    let k = public_blob("ed25519");
    // Held encrypted (the real PPK): the forged file does not take its place.
    for (what, forged) in forged_adds() {
        let user = User::new(&[]);
        let agent = agent_with(&user);
        let real = add_ppk(read("keys/ppk/ed25519-encrypted.ppk"));
        assert_eq!(call(&agent, &mut session(), &real).await, Response::Success);
        assert_eq!(
            call(&agent, &mut session(), &forged).await,
            Response::ExtensionFailure,
            "{what}"
        );
        let reply = sign(&agent, &mut session(), &k).await;
        assert!(signed(&reply), "{what}: the held key no longer decrypts");
        assert_eq!(user.passphrases_asked(), 1);
    }
    // Held in cleartext: no forged encrypted form is attached, so re-encrypting cannot lock
    // the key behind a file that never decrypts.
    for (what, forged) in forged_adds() {
        let user = User::new(&[]);
        let agent = agent_with(&user);
        add_fixture(&agent, "ssh-add-ed25519.bin").await;
        assert_eq!(
            call(&agent, &mut session(), &forged).await,
            Response::ExtensionFailure,
            "{what}"
        );
        let reencrypt = ext(Extension::Reencrypt {
            key_blob: k.clone(),
        });
        assert_eq!(
            call(&agent, &mut session(), &reencrypt).await,
            Response::ExtensionFailure,
            "{what}: an encrypted form was attached"
        );
        assert!(signed(&sign(&agent, &mut session(), &k).await), "{what}");
        assert_eq!(user.passphrases_asked(), 0, "{what}");
    }
}

#[tokio::test]
async fn a_proven_add_keeps_an_encrypted_form_only_once_it_has_decrypted() {
    let k = public_blob("ed25519");
    let reencrypt = ext(Extension::Reencrypt {
        key_blob: k.clone(),
    });

    // A forged file added before the key was held is dropped when the key itself is added.
    let user = User::new(&[]);
    let agent = agent_with(&user);
    let forged = add_file(forged_openssh(&k), Vec::new(), b"", Vec::new());
    assert_eq!(
        call(&agent, &mut session(), &forged).await,
        Response::Success
    );
    add_fixture(&agent, "ssh-add-ed25519.bin").await;
    assert_eq!(
        call(&agent, &mut session(), &reencrypt).await,
        Response::ExtensionFailure,
        "an unverified encrypted form survived the key's own add"
    );
    assert!(signed(&sign(&agent, &mut session(), &k).await));

    // The real file, once it has decrypted, stays: the key can be re-encrypted again.
    let user = User::new(&[]);
    let agent = agent_with(&user);
    let real = add_ppk(read("keys/ppk/ed25519-encrypted.ppk"));
    assert_eq!(call(&agent, &mut session(), &real).await, Response::Success);
    assert!(signed(&sign(&agent, &mut session(), &k).await));
    add_fixture(&agent, "ssh-add-ed25519.bin").await;
    assert_eq!(
        call(&agent, &mut session(), &reencrypt).await,
        Response::Success
    );
    assert!(signed(&sign(&agent, &mut session(), &k).await));
    assert_eq!(user.passphrases_asked(), 2);
}

#[tokio::test]
async fn the_same_encrypted_add_again_succeeds_and_a_different_one_is_refused() {
    let user = User::new(&[]);
    let agent = agent_with(&user);
    let file = read("keys/ed25519-encrypted");
    let add = |comment: &[u8], c: Vec<Constraint>| add_file(file.clone(), Vec::new(), comment, c);
    for _ in 0..2 {
        let reply = call(
            &agent,
            &mut session(),
            &add(b"mine", vec![Constraint::Confirm]),
        )
        .await;
        assert_eq!(reply, Response::Success, "a reload must keep working");
    }
    for changed in [
        add(b"renamed", vec![Constraint::Confirm]),
        add(b"mine", Vec::new()),
    ] {
        assert_eq!(
            call(&agent, &mut session(), &changed).await,
            Response::ExtensionFailure
        );
    }
    let infos = agent.key_infos();
    assert_eq!((infos.len(), infos[0].comment.as_str()), (1, "mine"));
    assert!(infos[0].confirm);
    // The in-process add (config keys) says why.
    let parsed = KeyFile::parse(&file).unwrap();
    assert_eq!(
        agent.add_encrypted_key(parsed, None, b"other".to_vec(), Vec::new()),
        Err(AddError::AlreadyHeld)
    );
}

fn only_to(host: &Host) -> Vec<Constraint> {
    vec![Constraint::RestrictDestination(vec![
        agentry_core::proto::DestinationConstraint {
            from: Default::default(),
            to: host.hop(""),
        },
    ])]
}

#[tokio::test]
async fn a_certificate_for_a_held_key_carries_that_keys_constraints() {
    // The user holds the ed25519 key encrypted, with confirmation, and has used it once (so
    // it is decrypted). A forwarded host adds a certificate for it with no constraints.
    let user = User::new(&[true]);
    let agent = agent_with(&user);
    let k = public_blob("ed25519");
    let held = ext(Extension::AddPpk {
        ppk: Zeroizing::new(read("keys/ppk/ed25519-encrypted.ppk")),
        constraints: vec![Constraint::Confirm],
    });
    assert_eq!(call(&agent, &mut session(), &held).await, Response::Success);
    assert!(signed(&sign(&agent, &mut session(), &k).await));
    assert_eq!(user.confirms_asked(), 1);

    let cert = certificate_for("ed25519");
    let add = add_file(forged_openssh(&k), cert.clone(), b"attacker", Vec::new());
    assert_eq!(call(&agent, &mut session(), &add).await, Response::Success);
    let reply = sign(&agent, &mut session(), &cert).await;
    assert_eq!(reply, Response::Failure, "the certificate signed unasked");
    assert_eq!(
        user.confirms_asked(),
        2,
        "the certificate's use was not confirmed"
    );
    assert!(agent.key_infos()[1].confirm);
}

#[tokio::test]
async fn a_certificate_from_the_keys_own_file_shares_its_slot_and_its_constraints() {
    let user = User::new(&[true, true]);
    let agent = agent_with(&user);
    let file = read("keys/ed25519-encrypted");
    let k = public_blob("ed25519-encrypted");
    let cert = certificate_for("ed25519-encrypted");
    let held = add_file(file.clone(), Vec::new(), b"", vec![Constraint::Confirm]);
    assert_eq!(call(&agent, &mut session(), &held).await, Response::Success);
    let add_cert = add_file(file.clone(), cert.clone(), b"", Vec::new());
    assert_eq!(
        call(&agent, &mut session(), &add_cert).await,
        Response::Success
    );
    assert!(
        agent.key_infos()[1].confirm,
        "the certificate lost the key's -c"
    );
    // One passphrase for both; every use confirmed.
    assert!(signed(&sign(&agent, &mut session(), &cert).await));
    assert!(signed(&sign(&agent, &mut session(), &k).await));
    assert_eq!(user.passphrases_asked(), 1);
    assert_eq!(user.confirms_asked(), 2);

    // The key's destinations pass to its certificate; other destinations cannot be combined.
    let (a, b) = (Host::new("a.test", 1), Host::new("b.test", 2));
    let agent = agent_with(&User::new(&[]));
    let held = add_file(file.clone(), Vec::new(), b"", only_to(&a));
    assert_eq!(call(&agent, &mut session(), &held).await, Response::Success);
    let to_b = add_file(file.clone(), cert.clone(), b"", only_to(&b));
    assert_eq!(
        call(&agent, &mut session(), &to_b).await,
        Response::ExtensionFailure
    );
    assert_eq!(
        call(&agent, &mut session(), &add_cert).await,
        Response::Success
    );
    assert_eq!(
        agent.key_infos()[1].destinations,
        agent.key_infos()[0].destinations
    );
}

#[tokio::test]
async fn extensions_see_and_touch_only_keys_this_connection_may_see() {
    let user = User::new(&[]);
    let agent = agent_with(&user);
    let (a, b) = (Host::new("a.test", 1), Host::new("b.test", 2));
    let restricted = public_blob("ed25519-encrypted");
    let add_restricted = add_file(
        read("keys/ed25519-encrypted"),
        Vec::new(),
        b"restricted",
        only_to(&a),
    );
    assert_eq!(
        call(&agent, &mut session(), &add_restricted).await,
        Response::Success
    );
    add_fixture(&agent, "ssh-add-ecdsa-p256.bin").await;

    let mut to_b = session();
    b.bind(&agent, &mut to_b, &[6; 32], true).await;
    // list-extended lists what REQUEST_IDENTITIES lists.
    let Response::SuccessWith(list) = call(&agent, &mut to_b, &ext(Extension::ListExtended)).await
    else {
        panic!("list-extended refused")
    };
    let mut r = Reader::new(&list);
    assert_eq!(r.u32().unwrap(), 1, "a restricted key was listed");
    assert_eq!(r.string().unwrap(), public_blob("ecdsa-p256"));
    // reencrypt of the hidden key fails as for an unknown key; reencrypt-all skips it (so
    // only the cleartext key is left, which cannot be re-encrypted: failure, as PuTTY).
    let reencrypt = ext(Extension::Reencrypt {
        key_blob: restricted.clone(),
    });
    assert_eq!(
        call(&agent, &mut to_b, &reencrypt).await,
        Response::ExtensionFailure
    );
    assert_eq!(
        call(&agent, &mut to_b, &ext(Extension::ReencryptAll)).await,
        Response::ExtensionFailure
    );
    // An add for the hidden key is refused there too.
    assert_eq!(
        call(&agent, &mut to_b, &add_restricted).await,
        Response::ExtensionFailure
    );
    // The local user still can.
    assert_eq!(
        call(&agent, &mut session(), &reencrypt).await,
        Response::Success
    );
    assert_eq!(
        call(&agent, &mut session(), &add_restricted).await,
        Response::Success
    );
}

#[tokio::test]
async fn an_add_that_would_overflow_the_identities_reply_is_refused() {
    let agent = Agent::new(AgentOptions::new());
    let key = |name: &str| {
        KeyFile::parse(&read(&format!("keys/{name}")))
            .unwrap()
            .decrypt(&[], &KdfLimits::default())
            .unwrap()
            .0
    };
    let comment = vec![b'c'; 100 * 1024];
    assert_eq!(
        agent.add_key(key("ed25519"), comment.clone(), Vec::new()),
        Ok(())
    );
    assert_eq!(
        agent.add_key(key("ecdsa-p256"), comment.clone(), Vec::new()),
        Ok(())
    );
    assert_eq!(
        agent.add_key(key("rsa-2048"), comment.clone(), Vec::new()),
        Err(AddError::TooManyKeys)
    );
    // Replacing a key counts its old entry out: re-adding with the same comment fits.
    assert_eq!(agent.add_key(key("ed25519"), comment, Vec::new()), Ok(()));
    let reply = agent.handle_message(&mut session(), &[11]).await;
    assert!(reply.len() <= agentry_core::MAX_IDENTITIES_REPLY);
    assert_eq!(identities(&agent).await.len(), 2);
}
