//! The client layer: how every command reaches the agent and the calls they share. `connect`
//! opens the agent `Target` names (on Unix `SSH_AUTH_SOCK`; on Windows by `--transport`:
//! `SSH_AUTH_SOCK`, Pageant's pipe or its `WM_COPYDATA` window); `identities` lists what it
//! holds; `state_labels` is PuTTY's `list-extended` through its typed reply. Commands decide
//! what to say about a refusal (`agent_state`); this layer only talks to the agent.

use crate::Failure;
use agentry_core::proto::{Extension, Identity, ListExtendedReply, Request, Response};
use agentry_platform::client::{AgentClient, ClientError};
use std::collections::HashMap;

#[cfg(unix)]
pub(crate) type Client = AgentClient<std::os::unix::net::UnixStream>;
/// On Windows: the pipe SSH_AUTH_SOCK names, else Pageant's pipe, else its WM_COPYDATA window.
#[cfg(windows)]
pub(crate) type Client = AgentClient<Box<dyn agentry_platform::client::Stream>>;

/// Which agent the client commands talk to, from the command line (passed to every command,
/// not kept in a global).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    #[cfg(windows)]
    pub(crate) transport: Transport,
}

/// Connects to the agent `target` names.
pub(crate) fn connect(target: &Target) -> Result<Client, ClientError> {
    #[cfg(unix)]
    {
        let _ = target;
        Client::from_env()
    }
    #[cfg(windows)]
    connect_windows(target.transport)
}

pub(crate) fn identities(client: &mut Client) -> Result<Vec<Identity>, Failure> {
    match client.request(&Request::RequestIdentities)? {
        Response::Identities(ids) => Ok(ids),
        _ => Err(Failure::new(format!(
            "the agent at {} refused to list identities",
            client.name().display()
        ))),
    }
}

/// Pageant's markers for `list`: " (encrypted)" for keys not decrypted now, " (re-encryptable)"
/// for decrypted keys that have an encrypted form. Empty for agents without `list-extended`.
pub(crate) fn state_labels(client: &mut Client) -> HashMap<Vec<u8>, &'static str> {
    let Ok(reply) = client.request(&Request::Extension(Extension::ListExtended)) else {
        return HashMap::new();
    };
    let Ok(list) = ListExtendedReply::decode(&reply) else {
        return HashMap::new();
    };
    list.keys
        .into_iter()
        .filter_map(|key| {
            let label = if !key.flags.decrypted() {
                " (encrypted)"
            } else if key.flags.has_encrypted_form() {
                " (re-encryptable)"
            } else {
                return None;
            };
            Some((key.key_blob, label))
        })
        .collect()
}

/// How client commands reach the agent.
#[cfg(windows)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Transport {
    /// SSH_AUTH_SOCK, else Pageant's pipe, else Pageant's window (what PuTTY does).
    Auto,
    /// SSH_AUTH_SOCK, else Pageant's pipe.
    Pipe,
    /// Pageant's WM_COPYDATA window.
    Copydata,
}

/// Connects by `transport`.
#[cfg(windows)]
fn connect_windows(transport: Transport) -> Result<Client, ClientError> {
    use agentry_platform::windows::{name, pageant_pipe_name};
    match transport {
        Transport::Auto => AgentClient::from_env(),
        Transport::Pipe => {
            let env = std::env::var("SSH_AUTH_SOCK")
                .ok()
                .filter(|s| !s.is_empty());
            let pipe = match env {
                Some(pipe) => pipe,
                None => pageant_pipe_name()
                    .map_err(|e| ClientError::Connect("Pageant's pipe".into(), e))?,
            };
            AgentClient::connect(std::path::Path::new(&pipe))
        }
        Transport::Copydata => AgentClient::copydata(name::PAGEANT_WINDOW),
    }
}
