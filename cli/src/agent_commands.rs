//! The commands about the agent rather than its keys: `lock`, `unlock`, `query` and `status`.
//! A refusal is explained only as far as `agent_state` establishes it (wrong passphrase, not
//! locked, already locked); the client's own checks (an empty passphrase) come first.

use crate::agent_state::{refusal, AgentState, Lock};
use crate::client::{connect, identities, Client, Target};
use crate::passphrase::read_passphrase;
use crate::{Failure, Outcome};
use agentry_core::proto::{Extension, QueryReply, Request, Response};
use zeroize::Zeroizing;

pub(crate) fn lock(locking: bool, target: &Target) -> Outcome {
    let mut client = connect(target)?;
    let passphrase = read_passphrase("Enter lock password: ").map_err(Failure::new)?;
    if passphrase.is_empty() {
        return Err(Failure::new(if locking {
            "not locked: the lock passphrase is empty (agents refuse an empty one)"
        } else {
            "not unlocked: the passphrase is empty (no agent is locked with an empty one)"
        }));
    }
    if locking && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let again = read_passphrase("Again: ").map_err(Failure::new)?;
        if *passphrase != *again {
            return Err(Failure::new("passwords do not match"));
        }
    }
    let passphrase = Zeroizing::new(passphrase.as_bytes().to_vec());
    let request = if locking {
        Request::Lock { passphrase }
    } else {
        Request::Unlock { passphrase }
    };
    if client.request(&request)? == Response::Success {
        eprintln!(
            "{}",
            if locking {
                "Agent locked."
            } else {
                "Agent unlocked."
            }
        );
        return Ok(());
    }
    let lock = AgentState::probe(&mut client)?.lock;
    let name = client.name().display().to_string();
    Err(Failure::new(match (locking, lock) {
        (true, Lock::Locked) => format!("the agent at {name} is already locked"),
        (true, _) => format!("the agent at {name} refused to lock"),
        (false, Lock::Unlocked) => format!("the agent at {name} is not locked"),
        (false, Lock::Locked) => "incorrect passphrase: the agent is still locked".to_owned(),
        (false, Lock::Unknown) => {
            format!(
                "the agent at {name} refused to unlock (incorrect passphrase, or it is not locked)"
            )
        }
    }))
}

/// The extension names the agent reports, or `None` when it refuses `query`.
fn extensions(client: &mut Client) -> Result<Option<Vec<String>>, Failure> {
    let reply = client.request(&Request::Extension(Extension::Query))?;
    Ok(QueryReply::decode(&reply).ok().map(|q| q.names))
}

pub(crate) fn query(target: &Target) -> Outcome {
    let mut client = connect(target)?;
    match extensions(&mut client)? {
        Some(names) => {
            names.iter().for_each(|n| println!("{n}"));
            Ok(())
        }
        None => {
            let refused = format!(
                "the agent at {} does not answer the query extension",
                client.name().display()
            );
            Err(refusal(&mut client, "query the agent", &refused))
        }
    }
}

pub(crate) fn status(target: &Target) -> Outcome {
    let mut client = connect(target)?;
    let state = AgentState::probe(&mut client)?;
    let ids = identities(&mut client)?;
    let extensions = extensions(&mut client)?;
    println!("socket: {}", client.name().display());
    if let Ok(pid) = std::env::var("SSH_AGENT_PID") {
        println!("pid: {pid}");
    }
    let lock = match state.lock {
        Lock::Locked => "locked (`agentry unlock`)",
        Lock::Unlocked => "unlocked",
        Lock::Unknown => "unknown: it lists no keys and does not answer `query` (locked, or an agent without `query`)",
    };
    println!("lock: {lock}");
    match state.can_prompt {
        Some(true) => println!("prompter: yes"),
        Some(false) => println!("prompter: none (keys added with -c or --encrypted are refused)"),
        None => {}
    }
    println!("identities: {}", ids.len());
    if let Some(names) = extensions {
        println!("extensions: {}", names.join(", "));
    }
    if let Some(path) = crate::daemon::log_path() {
        let elsewhere = if cfg!(windows) {
            "`start -D` logs to its console"
        } else {
            "`start -D` logs to its stderr, a systemd-started one to the journal"
        };
        println!(
            "log: {} (an agent started in the background; {elsewhere})",
            path.display()
        );
    }
    Ok(())
}
