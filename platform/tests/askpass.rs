//! An askpass program never outlives its prompt. A fake askpass (a shell script) writes its own
//! pid and the pid of a child it starts to a file, then waits for ever. When the agent's
//! confirmation timeout expires (tokio's paused clock, advanced only once both pids are
//! written), or a passphrase prompt is dropped, both processes must be gone: the script killed
//! and reaped by the agent, its child killed with it.
#![cfg(target_os = "linux")]

use agentry_core::prompt::{PassphraseRequest, Prompter};
use agentry_core::{Agent, AgentOptions, ClientInfo, ConfirmPolicy, Session};
use agentry_platform::unix::askpass::AskpassPrompter;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn request(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/requests/{name}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An askpass that records its pid and its child's in `DIR/pids`, then never answers.
fn hanging_askpass(dir: &Path) -> (PathBuf, PathBuf) {
    let pids = dir.join("pids");
    let script = dir.join("askpass");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nsleep 1000 &\nprintf '%s\\n%s\\n' $$ $! > '{0}.tmp'\nmv '{0}.tmp' '{0}'\nwait\n",
            pids.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    (script, pids)
}

/// Keeps this runtime busy (so the paused clock does not move) until both pids are written.
async fn recorded_pids(pids: &Path) -> Vec<i32> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(pids) {
            return text.lines().map(|l| l.parse().unwrap()).collect();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the askpass never started"
        );
        tokio::task::yield_now().await;
    }
}

/// The state letter of process `pid` and its parent, or `None` when there is no such process.
fn process_state(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut after_name = stat[stat.rfind(')')? + 2..].split(' ');
    let state = after_name.next()?.chars().next()?;
    let parent = after_name.next()?.parse().ok()?;
    Some((state, parent))
}

/// Waits (a liveness bound of 20 s, letting the runtime reap) until `pid` is gone. A zombie
/// left to another parent (the script's child, reparented) counts as gone: it is dead, and
/// reaping it is that parent's business; one of ours does not.
async fn gone(pid: i32) -> bool {
    let ours = i32::try_from(std::process::id()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        match process_state(pid) {
            None => return true,
            Some(('Z', parent)) if parent != ours => return true,
            Some(_) => {}
        }
        std::thread::sleep(Duration::from_millis(10));
        tokio::task::yield_now().await;
    }
    false
}

async fn assert_gone(pids: &[i32]) {
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(
        gone(pids[0]).await,
        "the askpass {} is still there",
        pids[0]
    );
    assert!(
        gone(pids[1]).await,
        "the askpass's child {} is still there",
        pids[1]
    );
}

fn private_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap()
}

fn client() -> ClientInfo {
    ClientInfo {
        pid: None,
        exe: None,
        uid: None,
        transport: "test".to_owned(),
        hints: Vec::new(),
        reported: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_confirmation_kills_its_askpass() {
    let dir = private_dir();
    let (script, pids) = hanging_askpass(dir.path());
    let options = AgentOptions::new()
        .confirm_policy(ConfirmPolicy::default().timeout(Duration::from_secs(5)));
    let agent = Agent::with_parts(
        options,
        Some(Arc::new(AskpassPrompter::new(script))),
        Arc::new(agentry_core::clock::TokioClock),
    );
    let mut session = Session::new(client());
    let added = agent
        .handle_message(&mut session, &request("ssh-add-c-ed25519"))
        .await;
    assert_eq!(added, [6]);
    let sign = request("ssh-add-T-ed25519");
    let (signed, recorded) = tokio::join!(
        agent.handle_message(&mut session, &sign),
        recorded_pids(&pids)
    );
    assert_eq!(signed, [5], "refused once the prompt timed out");
    assert_gone(&recorded).await;
}

#[tokio::test]
async fn a_dropped_passphrase_prompt_kills_its_askpass() {
    let dir = private_dir();
    let (script, pids) = hanging_askpass(dir.path());
    let prompt = AskpassPrompter::new(script).passphrase(PassphraseRequest {
        comment: "key".to_owned(),
        fingerprint: "SHA256:x".to_owned(),
        algorithm: "ssh-ed25519".to_owned(),
        client: client(),
        attempt: 1,
        forwarding_path: Vec::new(),
        forwarded: false,
    });
    let asked = tokio::spawn(prompt);
    let recorded = recorded_pids(&pids).await;
    asked.abort();
    assert!(asked.await.unwrap_err().is_cancelled());
    assert_gone(&recorded).await;
}
