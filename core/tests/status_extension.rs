//! `status@agentry`: the one request a client can use to learn why the agent refused it —
//! whether the agent is locked and whether it has a prompter. Answered locked or not, with
//! exactly the flags that hold, and refused (5) with bytes after its name.

mod common;

use agentry_core::clock::TokioClock;
use agentry_core::prompt::{ConfirmRequest, PromptFuture, Prompter};
use agentry_core::proto::{Extension, Request, Response, StatusReply};
use agentry_core::{Agent, AgentOptions};
use common::*;
use std::sync::Arc;
use zeroize::Zeroizing;

struct Yes;

impl Prompter for Yes {
    fn confirm(&self, _request: ConfirmRequest) -> PromptFuture<bool> {
        Box::pin(async { true })
    }
}

/// The agent's `status@agentry` reply, checked byte for byte against the documented format
/// (`29, string "status@agentry", uint32 flags`) and decoded.
async fn status(agent: &Agent) -> StatusReply {
    let body = Request::Extension(Extension::Status).encode();
    let response = call(agent, &mut session(), &body).await;
    let Response::ExtensionResponse(payload) = &response else {
        panic!("status@agentry not answered: {response:?}")
    };
    let mut r = agentry_core::wire::Reader::new(payload);
    assert_eq!(r.string().unwrap(), b"status@agentry");
    let flags = r.u32().unwrap();
    assert!(r.is_empty(), "bytes after the flags");
    let reply = StatusReply::decode(&response).unwrap();
    assert_eq!(
        flags,
        u32::from(reply.locked) | (u32::from(reply.can_prompt) << 1)
    );
    assert_eq!(reply.encode(), response, "encode is decode's inverse");
    reply
}

fn flags(locked: bool, can_prompt: bool) -> StatusReply {
    StatusReply { locked, can_prompt }
}

async fn lock(agent: &Agent, passphrase: &[u8]) -> Response {
    let body = Request::Lock {
        passphrase: Zeroizing::new(passphrase.to_vec()),
    }
    .encode();
    call(agent, &mut session(), &body).await
}

#[tokio::test]
async fn status_says_locked_and_prompter_whether_locked_or_not() {
    let bare = Agent::new(AgentOptions::new());
    assert_eq!(status(&bare).await, flags(false, false));
    assert_eq!(lock(&bare, b"pw").await, Response::Success);
    assert_eq!(status(&bare).await, flags(true, false));

    let prompting = Agent::with_parts(
        AgentOptions::new(),
        Some(Arc::new(Yes)),
        Arc::new(TokioClock),
    );
    assert_eq!(status(&prompting).await, flags(false, true));
    assert_eq!(lock(&prompting, b"pw").await, Response::Success);
    assert_eq!(status(&prompting).await, flags(true, true));
}

#[test]
fn other_replies_do_not_decode_as_status() {
    for other in [
        Response::Failure,
        Response::ExtensionFailure,
        Response::Success,
        Response::ExtensionResponse(vec![0, 0, 0, 5, b'q', b'u', b'e', b'r', b'y']),
    ] {
        assert!(StatusReply::decode(&other).is_err(), "{other:?}");
    }
    let Response::ExtensionResponse(mut long) = flags(true, true).encode() else {
        unreachable!()
    };
    long.push(0);
    assert!(StatusReply::decode(&Response::ExtensionResponse(long)).is_err());
}

#[tokio::test]
async fn status_with_trailing_bytes_is_refused_and_query_lists_it() {
    let agent = Agent::new(AgentOptions::new());
    let mut body = Request::Extension(Extension::Status).encode();
    body.push(0);
    assert_eq!(call(&agent, &mut session(), &body).await, Response::Failure);
    let query = Request::Extension(Extension::Query).encode();
    let Response::ExtensionResponse(payload) = call(&agent, &mut session(), &query).await else {
        panic!("query not answered")
    };
    let mut r = agentry_core::wire::Reader::new(&payload);
    let mut names = Vec::new();
    while !r.is_empty() {
        names.push(r.string().unwrap().to_vec());
    }
    assert_eq!(
        names.last().map(Vec::as_slice),
        Some(&b"status@agentry"[..])
    );
}
