//! The whole agent, in the manner of OpenSSH's regress/misc/fuzz-harness/agent_fuzz.cc: a fresh
//! agent holding an Ed25519 key restricted to one destination (`ssh-add -h`), an ECDSA P-256 and
//! an RSA-2048 key (added with the real `ssh-add` requests captured in tests/fixtures) and an
//! Ed25519 key held encrypted (`add-key-file@agentry` with ssh-keygen's encrypted file) receives
//! a sequence of message bodies on one connection. The agent has a prompter that refuses every
//! confirmation and cancels every passphrase, so confirm-constrained and encrypted adds are
//! accepted and their uses fail quickly.
//!
//! Input format: one mode byte, then repeated `uint16 length (big-endian) || body`; a length
//! running past the end of the input takes what is left. An odd mode byte first binds the
//! connection for forwarding (the `session-bind@openssh.com` that ssh sent, captured in
//! tests/fixtures, with its forwarding flag set; the host's signature covers only the session
//! id), so the add, remove, extension and sign paths are reached as a forwarded host reaches them. At most `MAX_MESSAGES` bodies are handled per input so that
//! inputs made of thousands of UNLOCK requests (each one an iterated hash) cannot stall fuzzing.
//!
//! Every reply must decode with `Response::decode`. A fresh agent per input means a LOCK (or
//! REMOVE_ALL_IDENTITIES) in one input does not turn every later input into FAILUREs. Time is
//! paused, so unlock delays and key lifetimes cost nothing.

#![no_main]

use agentry_core::clock::TokioClock;
use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PromptFuture, Prompter};
use agentry_core::proto::{Extension, Request, Response};
use agentry_core::{Agent, AgentOptions, ClientInfo, Session};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tokio::runtime::Runtime;
use zeroize::Zeroizing;

const MAX_MESSAGES: usize = 64;

/// `SSH_AGENTC_ADD_ID_CONSTRAINED` / `ADD_IDENTITY` bodies captured from OpenSSH 9.2's `ssh-add`.
const KEYS: [&[u8]; 3] = [
    include_bytes!("../../tests/fixtures/requests/ssh-add-h-ed25519.bin"),
    include_bytes!("../../tests/fixtures/requests/ssh-add-ecdsa-p256.bin"),
    include_bytes!("../../tests/fixtures/requests/ssh-add-rsa-2048.bin"),
];

/// ssh-keygen's encrypted file of an Ed25519 key not among `KEYS` (passphrase never given here).
const ENCRYPTED_FILE: &[u8] =
    include_bytes!("../../tests/fixtures/keyfiles/openssh-ed25519-aes256ctr");

/// The `session-bind@openssh.com` body ssh sent (for authentication: last byte 0).
const BIND: &[u8] = include_bytes!("../../tests/fixtures/requests/ssh-session-bind.bin");

/// Refuses every confirmation, cancels every passphrase.
struct Refuser;

impl Prompter for Refuser {
    fn confirm(&self, _: ConfirmRequest) -> PromptFuture<bool> {
        Box::pin(async { false })
    }

    fn passphrase(&self, _: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        Box::pin(async { None })
    }
}

fn forwarding_bind() -> Vec<u8> {
    let mut bind = BIND.to_vec();
    *bind.last_mut().expect("bind fixture") = 1;
    bind
}

const SSH_AGENT_SUCCESS: u8 = 6;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("tokio runtime")
    })
}

fn session() -> Session {
    Session::new(ClientInfo {
        transport: "fuzz".into(),
        hints: Vec::new(),
        ..ClientInfo::default()
    })
}

/// Splits the input into `uint16 length || body` chunks.
fn bodies(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if data.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let (body, tail) = rest.split_at(len.min(rest.len()));
        data = tail;
        Some(body)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    runtime().block_on(async {
        let prompter: Arc<dyn Prompter> = Arc::new(Refuser);
        let agent = Agent::with_parts(AgentOptions::new(), Some(prompter), Arc::new(TokioClock));
        let mut setup = session();
        let encrypted = Request::Extension(Extension::AddKeyFile {
            file: Zeroizing::new(ENCRYPTED_FILE.to_vec()),
            public_key: Vec::new(),
            comment: b"encrypted".to_vec(),
            constraints: Vec::new(),
        })
        .encode();
        for key in KEYS.iter().copied().chain([&encrypted[..]]) {
            let reply = agent.handle_message(&mut setup, key).await;
            assert_eq!(reply, [SSH_AGENT_SUCCESS], "fixture key was not added");
        }
        assert_eq!(agent.key_count(), KEYS.len() + 1);

        let mut session = session();
        if mode & 1 == 1 {
            let reply = agent.handle_message(&mut session, &forwarding_bind()).await;
            assert_eq!(reply, [SSH_AGENT_SUCCESS], "forwarding bind refused");
        }
        for body in bodies(data).take(MAX_MESSAGES) {
            let reply = agent.handle_message(&mut session, body).await;
            if let Err(e) = Response::decode(&reply) {
                panic!("reply does not decode ({e:?}): {reply:02x?}");
            }
        }
    });
});
