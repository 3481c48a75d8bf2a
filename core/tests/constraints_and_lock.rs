//! Lifetime (with paused time), confirmation through a scripted prompter, lock/unlock with its
//! growing delay, and removal, driven with the requests OpenSSH's `ssh-add` sends.

mod common;

use agentry_core::clock::TokioClock;
use agentry_core::prompt::{ConfirmRequest, PromptFuture, Prompter};
use agentry_core::proto::{Request, Response};
use agentry_core::{Agent, AgentOptions};
use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

/// Answers every prompt with a fixed answer and records the questions.
#[derive(Default)]
struct ScriptedPrompter {
    answer: bool,
    asked: Mutex<Vec<ConfirmRequest>>,
}

impl Prompter for ScriptedPrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        self.asked.lock().unwrap().push(request);
        let answer = self.answer;
        Box::pin(async move { answer })
    }
}

fn agent_with(prompter: Arc<dyn Prompter>) -> Agent {
    Agent::with_parts(AgentOptions::new(), Some(prompter), Arc::new(TokioClock))
}

#[tokio::test(start_paused = true)]
async fn key_added_with_lifetime_disappears_at_expiry() {
    let agent = Agent::new(AgentOptions::new());
    add_fixture(&agent, "ssh-add-t60-ed25519.bin").await;
    add_fixture(&agent, "ssh-add-ecdsa-p256.bin").await;
    assert_eq!(identities(&agent).await.len(), 2);

    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(identities(&agent).await.len(), 2);
    let blob = public_blob("ed25519");
    assert!(matches!(
        call(&agent, &mut session(), &sign_body(&blob, b"d", 0)).await,
        Response::Signature(_)
    ));

    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(identities(&agent).await, vec![public_blob("ecdsa-p256")]);
    assert_eq!(
        call(&agent, &mut session(), &sign_body(&blob, b"d", 0)).await,
        Response::Failure
    );
}

#[tokio::test(start_paused = true)]
async fn default_lifetime_applies_to_keys_added_without_one() {
    let options = AgentOptions::new().default_lifetime(Some(Duration::from_secs(5)));
    let agent = Agent::new(options);
    add_fixture(&agent, "ssh-add-ed25519.bin").await;
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(identities(&agent).await.is_empty());
}

#[tokio::test]
async fn confirm_constraint_asks_the_prompter_before_every_use() {
    let yes = Arc::new(ScriptedPrompter {
        answer: true,
        ..Default::default()
    });
    let agent = agent_with(yes.clone());
    add_fixture(&agent, "ssh-add-c-ed25519.bin").await;
    let blob = public_blob("ed25519");
    for _ in 0..2 {
        let reply = call(&agent, &mut session(), &sign_body(&blob, b"d", 0)).await;
        assert!(matches!(reply, Response::Signature(_)));
    }
    let asked = yes.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0].comment, "agentry-test-ed25519");
    assert!(asked[0].fingerprint.starts_with("SHA256:"));
    assert!(asked[0].message().contains(&asked[0].fingerprint));

    let no = Arc::new(ScriptedPrompter::default());
    let agent = agent_with(no.clone());
    add_fixture(&agent, "ssh-add-c-ed25519.bin").await;
    let reply = call(&agent, &mut session(), &sign_body(&blob, b"d", 0)).await;
    assert_eq!(reply, Response::Failure);
    assert_eq!(no.asked.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn confirm_constraint_without_prompter_is_refused() {
    let agent = Agent::new(AgentOptions::new());
    let reply = call(
        &agent,
        &mut session(),
        &request_bytes("ssh-add-c-ed25519.bin"),
    )
    .await;
    assert_eq!(reply, Response::Failure);
    assert!(identities(&agent).await.is_empty());
}

#[tokio::test]
async fn remove_by_blob_and_remove_all() {
    let agent = Agent::new(AgentOptions::new());
    add_fixture(&agent, "ssh-add-ed25519.bin").await;
    add_fixture(&agent, "ssh-add-rsa-2048.bin").await;
    // Listed in the order added.
    assert_eq!(
        identities(&agent).await,
        vec![public_blob("ed25519"), public_blob("rsa-2048")]
    );
    let remove = request_bytes("ssh-add-d-ed25519.bin");
    assert_eq!(
        call(&agent, &mut session(), &remove).await,
        Response::Success
    );
    assert_eq!(
        call(&agent, &mut session(), &remove).await,
        Response::Failure
    );
    assert_eq!(identities(&agent).await, vec![public_blob("rsa-2048")]);
    let remove_all = request_bytes("ssh-add-D.bin");
    assert_eq!(
        call(&agent, &mut session(), &remove_all).await,
        Response::Success
    );
    assert!(identities(&agent).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn adding_a_key_again_keeps_one_entry_and_updates_it() {
    let agent = Agent::new(AgentOptions::new());
    add_fixture(&agent, "ssh-add-ed25519.bin").await;
    add_fixture(&agent, "ssh-add-rsa-2048.bin").await;
    add_fixture(&agent, "ssh-add-t60-ed25519.bin").await;
    assert_eq!(
        identities(&agent).await,
        vec![public_blob("ed25519"), public_blob("rsa-2048")]
    );
    let info = agent.key_infos();
    assert_eq!(info[0].expires_in, Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn destination_restrictions_are_stored_with_the_key() {
    let agent = Agent::new(AgentOptions::new());
    add_fixture(&agent, "ssh-add-h-ed25519.bin").await;
    let info = agent.key_infos();
    assert_eq!(info[0].destinations.len(), 2);
    assert_eq!(info[0].destinations[1].to.hostname, "target.test");
}

#[tokio::test(start_paused = true)]
async fn locked_agent_lists_nothing_refuses_everything_and_delays_wrong_unlocks() {
    let agent = Agent::new(AgentOptions::new());
    add_fixture(&agent, "ssh-add-ed25519.bin").await;
    let blob = public_blob("ed25519");
    let lock = request_bytes("ssh-add-x.bin"); // passphrase "lockpass"
    let unlock = request_bytes("ssh-add-X.bin");
    let mut s = session();

    assert_eq!(
        call(&agent, &mut s, &unlock).await,
        Response::Failure,
        "not locked"
    );
    assert_eq!(call(&agent, &mut s, &lock).await, Response::Success);
    assert!(agent.is_locked());
    assert_eq!(
        call(&agent, &mut s, &lock).await,
        Response::Failure,
        "already locked"
    );
    assert_eq!(
        call(&agent, &mut s, &[11]).await,
        Response::Identities(vec![])
    );
    assert_eq!(
        call(&agent, &mut s, &sign_body(&blob, b"d", 0)).await,
        Response::Failure
    );
    assert_eq!(
        call(&agent, &mut s, &request_bytes("ssh-add-ecdsa-p256.bin")).await,
        Response::Failure
    );
    assert_eq!(
        call(&agent, &mut s, &request_bytes("ssh-add-D.bin")).await,
        Response::Failure
    );
    let query = Request::Extension(agentry_core::proto::Extension::Query).encode();
    assert_eq!(call(&agent, &mut s, &query).await, Response::Failure);

    let wrong = Request::Unlock {
        passphrase: Zeroizing::new(b"wrong".to_vec()),
    }
    .encode();
    for expected_ms in [100u64, 200, 300] {
        let started = tokio::time::Instant::now();
        assert_eq!(call(&agent, &mut s, &wrong).await, Response::Failure);
        assert_eq!(started.elapsed(), Duration::from_millis(expected_ms));
    }
    assert_eq!(call(&agent, &mut s, &unlock).await, Response::Success);
    assert!(!agent.is_locked());
    assert_eq!(identities(&agent).await, vec![blob]);
}

/// Wrong unlocks sent at once on many connections take turns, as on OpenSSH's single-threaded
/// agent: the right passphrase sent after them is answered only once all their delays have run
/// (0.1 s + 0.2 s + … ), while other requests are answered at once meanwhile.
#[tokio::test(start_paused = true)]
async fn parallel_unlock_guesses_take_turns_and_add_up_their_delays() {
    const GUESSES: u64 = 8;
    let agent = Agent::new(AgentOptions::new());
    add_fixture(&agent, "ssh-add-ed25519.bin").await;
    let lock = request_bytes("ssh-add-x.bin"); // passphrase "lockpass"
    assert_eq!(call(&agent, &mut session(), &lock).await, Response::Success);
    let wrong = Request::Unlock {
        passphrase: Zeroizing::new(b"wrong".to_vec()),
    }
    .encode();

    let started = tokio::time::Instant::now();
    let guesses: Vec<_> = (0..GUESSES)
        .map(|_| {
            let (agent, wrong) = (agent.clone(), wrong.clone());
            tokio::spawn(async move { call(&agent, &mut session(), &wrong).await })
        })
        .collect();
    // Each guess is now checked, or waiting for its turn.
    tokio::task::yield_now().await;

    // Only unlock attempts wait: listing (empty while locked) and a lock attempt are answered
    // at once.
    assert_eq!(
        call(&agent, &mut session(), &[11]).await,
        Response::Identities(vec![])
    );
    assert_eq!(call(&agent, &mut session(), &lock).await, Response::Failure);
    assert!(agent.is_locked());
    assert_eq!(started.elapsed(), Duration::ZERO);

    let unlock = request_bytes("ssh-add-X.bin");
    assert_eq!(
        call(&agent, &mut session(), &unlock).await,
        Response::Success
    );
    let delays = Duration::from_millis(100 * GUESSES * (GUESSES + 1) / 2);
    assert!(
        started.elapsed() >= delays,
        "right passphrase answered after {:?}, before the guesses' delays ({delays:?}) had run",
        started.elapsed()
    );
    for guess in guesses {
        assert_eq!(guess.await.unwrap(), Response::Failure);
    }
    assert!(!agent.is_locked());
}

#[tokio::test]
async fn empty_lock_passphrase_is_refused() {
    let agent = Agent::new(AgentOptions::new());
    let lock = Request::Lock {
        passphrase: Zeroizing::new(Vec::new()),
    }
    .encode();
    assert_eq!(call(&agent, &mut session(), &lock).await, Response::Failure);
    assert!(!agent.is_locked());
}

/// Holds every confirmation until the test releases it.
struct GatedPrompter {
    started: Mutex<Option<oneshot::Sender<()>>>,
    release: Mutex<Option<oneshot::Receiver<bool>>>,
}

impl Prompter for GatedPrompter {
    fn confirm(&self, _request: ConfirmRequest) -> PromptFuture<bool> {
        if let Some(tx) = self.started.lock().unwrap().take() {
            let _ = tx.send(());
        }
        let rx = self.release.lock().unwrap().take();
        Box::pin(async move {
            match rx {
                Some(rx) => rx.await.unwrap_or(false),
                None => true,
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_prompt_blocks_neither_other_connections_nor_other_keys() {
    let (started_tx, started_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel();
    let prompter = Arc::new(GatedPrompter {
        started: Mutex::new(Some(started_tx)),
        release: Mutex::new(Some(release_rx)),
    });
    let agent = agent_with(prompter);
    add_fixture(&agent, "ssh-add-c-ed25519.bin").await;
    add_fixture(&agent, "ssh-add-ecdsa-p256.bin").await;
    add_fixture(&agent, "ssh-add-rsa-2048.bin").await;

    let waiting = {
        let agent = agent.clone();
        tokio::spawn(async move {
            let body = sign_body(&public_blob("ed25519"), b"needs consent", 0);
            call(&agent, &mut session(), &body).await
        })
    };
    started_rx.await.expect("prompt shown");

    // Meanwhile another connection lists and signs with the other keys.
    assert_eq!(identities(&agent).await.len(), 3);
    for name in ["ecdsa-p256", "rsa-2048"] {
        let reply = call(
            &agent,
            &mut session(),
            &sign_body(&public_blob(name), b"x", 4),
        )
        .await;
        assert!(matches!(reply, Response::Signature(_)), "{name}");
    }
    assert!(!waiting.is_finished());

    release_tx.send(true).unwrap();
    assert!(matches!(waiting.await.unwrap(), Response::Signature(_)));
}

/// Never answers: the agent's timeout must turn it into a "no".
struct SilentPrompter;

impl Prompter for SilentPrompter {
    fn confirm(&self, _request: ConfirmRequest) -> PromptFuture<bool> {
        Box::pin(std::future::pending())
    }
}

fn agent_with_policy(prompter: Arc<dyn Prompter>, policy: agentry_core::ConfirmPolicy) -> Agent {
    Agent::with_parts(
        AgentOptions::new().confirm_policy(policy),
        Some(prompter),
        Arc::new(TokioClock),
    )
}

fn client_session(pid: u32) -> agentry_core::Session {
    agentry_core::Session::new(agentry_core::ClientInfo {
        pid: Some(pid),
        exe: Some("/usr/bin/ssh".into()),
        transport: "test".into(),
        hints: Vec::new(),
        ..Default::default()
    })
}

#[tokio::test(start_paused = true)]
async fn unanswered_prompt_is_denied_after_the_timeout() {
    let policy = agentry_core::ConfirmPolicy::default().timeout(Duration::from_secs(5));
    let agent = agent_with_policy(Arc::new(SilentPrompter), policy);
    add_fixture(&agent, "ssh-add-c-ed25519.bin").await;
    let started = tokio::time::Instant::now();
    let reply = call(
        &agent,
        &mut session(),
        &sign_body(&public_blob("ed25519"), b"d", 0),
    )
    .await;
    assert_eq!(reply, Response::Failure);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn remembered_yes_covers_the_same_client_for_the_window_only() {
    let yes = Arc::new(ScriptedPrompter {
        answer: true,
        ..Default::default()
    });
    let policy = agentry_core::ConfirmPolicy::default().remember(Some(Duration::from_secs(600)));
    let agent = agent_with_policy(yes.clone(), policy);
    add_fixture(&agent, "ssh-add-c-ed25519.bin").await;
    let body = sign_body(&public_blob("ed25519"), b"d", 0);
    let asked = || yes.asked.lock().unwrap().len();

    assert!(matches!(
        call(&agent, &mut client_session(100), &body).await,
        Response::Signature(_)
    ));
    assert!(matches!(
        call(&agent, &mut client_session(100), &body).await,
        Response::Signature(_)
    ));
    assert_eq!(asked(), 1, "same process, inside the window");
    assert!(matches!(
        call(&agent, &mut client_session(200), &body).await,
        Response::Signature(_)
    ));
    assert_eq!(asked(), 2, "another process is asked again");
    tokio::time::advance(Duration::from_secs(601)).await;
    assert!(matches!(
        call(&agent, &mut client_session(100), &body).await,
        Response::Signature(_)
    ));
    assert_eq!(asked(), 3, "the window has passed");
}

fn yes_prompter() -> Arc<ScriptedPrompter> {
    Arc::new(ScriptedPrompter {
        answer: true,
        ..Default::default()
    })
}

async fn signs(agent: &Agent, session: &mut agentry_core::Session) -> bool {
    let body = sign_body(&public_blob("ed25519"), b"d", 0);
    matches!(call(agent, session, &body).await, Response::Signature(_))
}

#[tokio::test]
async fn forwarded_only_never_skips_the_prompt_for_a_key_added_with_c() {
    let yes = yes_prompter();
    let policy = agentry_core::ConfirmPolicy::default().forwarded_only(true);
    let agent = agent_with_policy(yes.clone(), policy);
    add_fixture(&agent, "ssh-add-c-ed25519.bin").await;
    // No session-bind proves nothing: PuTTY, WM_COPYDATA and old OpenSSH forward unbound.
    assert!(signs(&agent, &mut session()).await);
    let mut local = session();
    Host::new("h.test", 4)
        .bind(&agent, &mut local, &[1; 32], false)
        .await;
    assert!(signs(&agent, &mut local).await);
    assert_eq!(yes.asked.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn forwarded_only_relaxes_confirm_all_only_on_connections_proved_local() {
    let yes = yes_prompter();
    let policy = agentry_core::ConfirmPolicy::default().forwarded_only(true);
    let agent = Agent::with_parts(
        AgentOptions::new().confirm_policy(policy).confirm_all(true),
        Some(yes.clone() as Arc<dyn Prompter>),
        Arc::new(TokioClock),
    );
    add_fixture(&agent, "ssh-add-ed25519.bin").await;
    let asked = || yes.asked.lock().unwrap().len();
    assert!(signs(&agent, &mut session()).await);
    assert_eq!(asked(), 1, "an unbound connection is not proved local");

    let host = Host::new("h.test", 4);
    let mut local = session();
    host.bind(&agent, &mut local, &[1; 32], false).await;
    assert!(signs(&agent, &mut local).await);
    assert_eq!(asked(), 1, "bound for authentication only: local");

    let mut forwarded = session();
    host.bind(&agent, &mut forwarded, &[2; 32], true).await;
    assert!(signs(&agent, &mut forwarded).await);
    let asked = yes.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert!(asked[1].forwarded);
    assert_eq!(asked[1].forwarding_path.len(), 1);
    assert!(asked[1].message().contains("forwarded"));
    // No constraint names the hop and the core reads no known_hosts: the fingerprint stands in.
    assert_eq!(asked[1].forwarding_path[0].name, None);
    assert!(asked[1].message().contains("Path: you \u{2192} SHA256:"));
}

#[tokio::test]
async fn clients_that_cannot_be_identified_never_share_a_remembered_yes() {
    let yes = yes_prompter();
    let policy = agentry_core::ConfirmPolicy::default().remember(Some(Duration::from_secs(600)));
    let agent = agent_with_policy(yes.clone(), policy);
    add_fixture(&agent, "ssh-add-c-ed25519.bin").await;
    // WM_COPYDATA senders and peers whose pid the OS did not give: no pid.
    assert!(signs(&agent, &mut session()).await);
    assert!(signs(&agent, &mut session()).await);
    assert_eq!(yes.asked.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_remembered_forwarded_yes_covers_only_the_same_chain_of_hosts() {
    let yes = yes_prompter();
    let policy = agentry_core::ConfirmPolicy::default().remember(Some(Duration::from_secs(600)));
    let agent = agent_with_policy(yes.clone(), policy);
    add_fixture(&agent, "ssh-add-c-ed25519.bin").await;
    let (a, b, c) = (
        Host::new("a.test", 1),
        Host::new("b.test", 2),
        Host::new("c.test", 3),
    );
    let mut sid = 0u8;
    let asked = || yes.asked.lock().unwrap().len();
    for (first, expect_asked) in [(&a, 1), (&b, 2), (&a, 2)] {
        sid += 2;
        let mut s = session();
        first.bind(&agent, &mut s, &[sid; 32], true).await;
        c.bind(&agent, &mut s, &[sid + 1; 32], false).await;
        assert!(signs(&agent, &mut s).await);
        assert_eq!(asked(), expect_asked, "via {} to c", first.name);
    }
}

#[tokio::test(start_paused = true)]
async fn changes_wake_on_add_remove_expiry_and_lock() {
    let agent = Agent::new(AgentOptions::new());
    let mut changes = agent.changes();
    let mut changed = || {
        let seen = changes.has_changed().unwrap();
        changes.mark_unchanged();
        seen
    };
    assert!(!changed(), "nothing happened yet");
    add_fixture(&agent, "ssh-add-t60-ed25519.bin").await;
    assert!(changed(), "an add is a change");
    identities(&agent).await;
    assert!(!changed(), "a listing is not");
    tokio::time::advance(Duration::from_secs(60)).await;
    identities(&agent).await;
    assert!(changed(), "an expiry is a change");
    add_fixture(&agent, "ssh-add-ecdsa-p256.bin").await;
    changed();
    let remove = Request::RemoveIdentity {
        key_blob: public_blob("ecdsa-p256"),
    };
    assert_eq!(
        agent.handle(&mut session(), remove.clone()).await,
        Response::Success
    );
    assert!(changed(), "a removal is a change");
    assert_eq!(
        agent.handle(&mut session(), remove).await,
        Response::Failure
    );
    assert!(!changed(), "a failed removal is not");
    let lock = Request::Lock {
        passphrase: Zeroizing::new(b"pw".to_vec()),
    };
    assert_eq!(agent.handle(&mut session(), lock).await, Response::Success);
    assert!(changed(), "locking is a change");
    let unlock = Request::Unlock {
        passphrase: Zeroizing::new(b"pw".to_vec()),
    };
    assert_eq!(
        agent.handle(&mut session(), unlock).await,
        Response::Success
    );
    assert!(changed(), "unlocking is a change");
}
