//! Why the agent refused: what a client can establish about the agent's state after a bare
//! `SSH_AGENT_FAILURE`. The invariant: no message claims a cause this module has not seen.
//! The rule (docs/protocol.md, "Why a request was refused"):
//! - an agent that answers `status@agentry` (agentry, locked or not) says whether it is locked
//!   and whether it has a prompter, exactly;
//! - otherwise an agent that answers `query`, or lists a key, is not locked (a locked agent
//!   answers neither); one that does neither may be locked or may just not know `query`
//!   (OpenSSH 9.6 and older), so the client says only that it may be locked;
//! - whether a non-agentry agent can prompt is never known.

use crate::client::Client;
use crate::Failure;
use agentry_core::proto::{Extension, QueryReply, Request, Response, StatusReply};

/// How to give the agent a prompter, as `agentry start` and `config check` say it.
pub(crate) const HOW_TO_PROMPT: &str = "start it with SSH_ASKPASS set and a display (or \
SSH_ASKPASS_REQUIRE=force), with `askpass` in the config's [prompts], or in the foreground \
with `agentry start -D --tty-prompts`";

/// What is known about the agent being locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    Locked,
    Unlocked,
    /// It lists no keys and answers neither `status@agentry` nor `query`.
    Unknown,
}

/// What the client established about the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AgentState {
    pub(crate) lock: Lock,
    /// `Some` only from an agentry agent.
    pub(crate) can_prompt: Option<bool>,
}

impl AgentState {
    /// Asks the agent, on `client`'s connection.
    pub(crate) fn probe(client: &mut Client) -> Result<Self, Failure> {
        let status = client.request(&Request::Extension(Extension::Status))?;
        if let Ok(StatusReply { locked, can_prompt }) = StatusReply::decode(&status) {
            return Ok(Self {
                lock: if locked { Lock::Locked } else { Lock::Unlocked },
                can_prompt: Some(can_prompt),
            });
        }
        let query = client.request(&Request::Extension(Extension::Query))?;
        let answers_query = QueryReply::decode(&query).is_ok();
        let lists_keys = matches!(
            client.request(&Request::RequestIdentities)?,
            Response::Identities(ids) if !ids.is_empty()
        );
        Ok(Self {
            lock: if answers_query || lists_keys {
                Lock::Unlocked
            } else {
                Lock::Unknown
            },
            can_prompt: None,
        })
    }

    /// The sentence to give when the agent refused something a locked agent refuses, if its
    /// lock explains it (or may).
    pub(crate) fn lock_reason(&self) -> Option<&'static str> {
        match self.lock {
            Lock::Locked => Some("the agent is locked (unlock it with `agentry unlock`)"),
            Lock::Unknown => Some(
                "the agent lists no keys and does not answer `query`: it may be locked \
                 (`agentry unlock`)",
            ),
            Lock::Unlocked => None,
        }
    }
}

/// `refused`, or the lock's reason in its place when there is one: "cannot WHAT: REASON".
pub(crate) fn refusal(client: &mut Client, what: &str, refused: &str) -> Failure {
    let reason = match AgentState::probe(client) {
        Ok(state) => state.lock_reason().unwrap_or(refused).to_owned(),
        Err(e) => return e,
    };
    Failure::new(format!("cannot {what}: {reason}"))
}
