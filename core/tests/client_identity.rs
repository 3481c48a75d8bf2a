//! `client-identity@agentry`: the client `agentry relay --mux` says it relays a connection for.
//! It is accepted only as a connection's first request (also while locked), once; a forwarded
//! connection, whose first message is OpenSSH's session-bind, cannot send it. A confirmation
//! prompt shows it on its own "Reported by the bridge (not verified)" line, escaped; nothing
//! else changes (the key is still confirmed, the same answer applies).

mod common;

use agentry_core::clock::TokioClock;
use agentry_core::prompt::{ConfirmRequest, PromptFuture, Prompter};
use agentry_core::proto::{Constraint, Extension, Request, Response};
use agentry_core::{Agent, AgentOptions, ReportedClient};
use common::*;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

fn identity(program: &str, distribution: &str) -> Vec<u8> {
    Request::Extension(Extension::ClientIdentity(ReportedClient {
        pid: 4242,
        program: program.into(),
        distribution: distribution.into(),
    }))
    .encode()
    .to_vec()
}

/// Records confirmations and refuses them.
#[derive(Default)]
struct Recorder(Mutex<Vec<ConfirmRequest>>);

impl Prompter for Recorder {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        self.0.lock().unwrap().push(request);
        Box::pin(async { false })
    }
}

async fn agent_with_confirmed_key() -> (Agent, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let agent = Agent::with_parts(
        AgentOptions::new(),
        Some(recorder.clone()),
        Arc::new(TokioClock),
    );
    let Ok(Request::AddIdentity(mut add)) = Request::decode(&request_bytes("ssh-add-ed25519.bin"))
    else {
        panic!("fixture")
    };
    add.constrained = true;
    add.constraints = vec![Constraint::Confirm];
    let body = Request::AddIdentity(add).encode();
    assert_eq!(call(&agent, &mut session(), &body).await, Response::Success);
    (agent, recorder)
}

#[test]
fn the_extension_round_trips() {
    let body = identity("ssh", "Debian");
    let Ok(Request::Extension(Extension::ClientIdentity(client))) = Request::decode(&body) else {
        panic!("does not decode");
    };
    assert_eq!(client.pid, 4242);
    assert_eq!(
        Request::Extension(Extension::ClientIdentity(client))
            .encode()
            .to_vec(),
        body
    );
    let mut long = identity(&"a".repeat(300), "");
    long.truncate(long.len() - 4);
    assert!(Request::decode(&long).is_err(), "cut short");
}

#[tokio::test]
async fn the_prompt_names_the_reported_client_on_its_own_line() {
    let (agent, recorder) = agent_with_confirmed_key().await;
    let mut relayed = session();
    assert_eq!(
        call(&agent, &mut relayed, &identity("ssh", "Debian")).await,
        Response::Success
    );
    let body = sign_body(&public_blob("ed25519"), b"data", 0);
    assert_eq!(call(&agent, &mut relayed, &body).await, Response::Failure);
    let asked = recorder.0.lock().unwrap().clone();
    let message = asked[0].message();
    assert!(
        message.ends_with("\nReported by the bridge (not verified): ssh (pid 4242) in WSL Debian, via agentry bridge"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 3, "{message}");
}

#[tokio::test]
async fn hostile_names_are_escaped() {
    let (agent, recorder) = agent_with_confirmed_key().await;
    let mut relayed = session();
    let hostile = identity("ssh\nAllow? yes\x1b[2J", "Deb\u{202e}ian\u{2028}");
    assert_eq!(
        call(&agent, &mut relayed, &hostile).await,
        Response::Success
    );
    let body = sign_body(&public_blob("ed25519"), b"data", 0);
    assert_eq!(call(&agent, &mut relayed, &body).await, Response::Failure);
    let message = recorder.0.lock().unwrap()[0].message();
    assert_eq!(message.lines().count(), 3, "{message:?}");
    assert!(
        message.contains("ssh\\x0aAllow? yes\\x1b[2J (pid 4242) in WSL Deb\\u{202e}ian\\u{2028}"),
        "{message}"
    );
}

#[tokio::test]
async fn only_the_first_request_may_report_a_client() {
    let (agent, _) = agent_with_confirmed_key().await;
    // After another request.
    let mut late = session();
    assert!(matches!(
        call(&agent, &mut late, &[11]).await,
        Response::Identities(_)
    ));
    assert_eq!(
        call(&agent, &mut late, &identity("ssh", "")).await,
        Response::ExtensionFailure
    );
    assert_eq!(late.client().reported, None);
    // Twice.
    let mut twice = session();
    assert_eq!(
        call(&agent, &mut twice, &identity("ssh", "")).await,
        Response::Success
    );
    assert_eq!(
        call(&agent, &mut twice, &identity("git", "")).await,
        Response::ExtensionFailure
    );
    assert_eq!(twice.client().reported.as_ref().unwrap().program, "ssh");
    // After a forwarding session-bind (what ssh -A sends first on a forwarded connection).
    let host = Host::new("hop", 7);
    let mut forwarded = session();
    host.bind(&agent, &mut forwarded, &[9; 32], true).await;
    assert_eq!(
        call(&agent, &mut forwarded, &identity("ssh", "Debian")).await,
        Response::ExtensionFailure
    );
}

#[tokio::test]
async fn accepted_while_locked() {
    let (agent, _) = agent_with_confirmed_key().await;
    let lock = Request::Lock {
        passphrase: Zeroizing::new(b"pw".to_vec()),
    }
    .encode();
    assert_eq!(call(&agent, &mut session(), &lock).await, Response::Success);
    let mut relayed = session();
    assert_eq!(
        call(&agent, &mut relayed, &identity("ssh", "")).await,
        Response::Success
    );
}
