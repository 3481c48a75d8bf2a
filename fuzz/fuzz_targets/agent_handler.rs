//! The whole agent, in the manner of OpenSSH's regress/misc/fuzz-harness/agent_fuzz.cc: a fresh
//! agent holding an Ed25519, an ECDSA P-256 and an RSA-2048 key (added with the real `ssh-add`
//! requests captured in tests/fixtures) receives a sequence of message bodies on one connection.
//!
//! Input format: repeated `uint16 length (big-endian) || body`; a length running past the end of
//! the input takes what is left. At most `MAX_MESSAGES` bodies are handled per input so that
//! inputs made of thousands of UNLOCK requests (each one an iterated hash) cannot stall fuzzing.
//!
//! Every reply must decode with `Response::decode`. A fresh agent per input means a LOCK (or
//! REMOVE_ALL_IDENTITIES) in one input does not turn every later input into FAILUREs. Time is
//! paused, so unlock delays and key lifetimes cost nothing.

#![no_main]

use agentry_core::proto::Response;
use agentry_core::{Agent, AgentOptions, ClientInfo, Session};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tokio::runtime::Runtime;

const MAX_MESSAGES: usize = 64;

/// `SSH_AGENTC_ADD_IDENTITY` bodies captured from OpenSSH 9.2's `ssh-add`.
const KEYS: [&[u8]; 3] = [
    include_bytes!("../../tests/fixtures/requests/ssh-add-ed25519.bin"),
    include_bytes!("../../tests/fixtures/requests/ssh-add-ecdsa-p256.bin"),
    include_bytes!("../../tests/fixtures/requests/ssh-add-rsa-2048.bin"),
];

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
    runtime().block_on(async {
        let agent = Agent::new(AgentOptions::new());
        let mut setup = session();
        for key in KEYS {
            let reply = agent.handle_message(&mut setup, key).await;
            assert_eq!(reply, [SSH_AGENT_SUCCESS], "fixture key was not added");
        }
        assert_eq!(agent.key_count(), KEYS.len());

        let mut session = session();
        for body in bodies(data).take(MAX_MESSAGES) {
            let reply = agent.handle_message(&mut session, body).await;
            if let Err(e) = Response::decode(&reply) {
                panic!("reply does not decode ({e:?}): {reply:02x?}");
            }
        }
    });
});
