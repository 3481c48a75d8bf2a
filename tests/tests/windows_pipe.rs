//! The Windows named pipe beyond the conformance suite: Pageant's pipe name, the pipe's owner
//! and DACL, a squatted name refused, clients reaching the agent under Pageant's real names the
//! way PuTTY does (pipe, then WM_COPYDATA), and a confirmation prompt pending for a WM_COPYDATA
//! client (its window thread blocked) while a pipe client is served.
#![cfg(windows)]

use agentry_core::frame::encode_frame;
use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PromptFuture, Prompter};
use agentry_core::proto::{msg, Request, Response, SignRequest};
use agentry_core::{Agent, AgentOptions};
use agentry_platform::client::{AgentClient, Stream};
use agentry_platform::windows::client::{connect_pipe, copydata_call};
use agentry_platform::windows::security::{current_user_sid, object_sddl};
use agentry_platform::windows::{name, pageant_pipe_name, PipeError, PipeListener};
use agentry_tests::fixtures;
use agentry_tests::windows::{unique_name, WinTestAgent};
use std::os::windows::io::AsHandle;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

#[test]
fn pageant_pipe_name_has_putty_shape_and_is_stable() {
    let pipe = pageant_pipe_name().unwrap();
    let rest = pipe.strip_prefix(r"\\.\pipe\pageant.").expect(&pipe);
    let (user, hex) = rest.rsplit_once('.').expect(&pipe);
    assert!(!user.is_empty() && !user.contains('@'), "{pipe}");
    assert_eq!(user, name::user_name().unwrap());
    assert_eq!(hex.len(), 64, "{pipe}");
    assert!(hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(pageant_pipe_name().unwrap(), pipe);
    assert_eq!(
        name::openssh_config_line(r"\\.\pipe\pageant.u.ab"),
        r#"IdentityAgent "//./pipe/pageant.u.ab""#
    );
}

#[test]
fn pipe_is_owned_by_the_user_and_private() {
    let agent = WinTestAgent::start();
    let pipe = connect_pipe(agent.pipe()).expect("connect");
    let sddl = object_sddl(pipe.as_handle()).expect("read the pipe's security");
    let user = current_user_sid().unwrap().to_string_sid().unwrap();
    assert!(sddl.starts_with(&format!("O:{user}")), "{sddl}");
    assert!(
        sddl.contains(&format!(";;;{user})")),
        "no ACE for the user: {sddl}"
    );
    assert!(
        sddl.contains("(D;;") && sddl.contains(";;;NU)"),
        "NETWORK not denied: {sddl}"
    );
    assert!(!sddl.contains(";;;WD)"), "Everyone has an ACE: {sddl}");
}

#[test]
fn a_squatted_pipe_name_is_an_error() {
    let agent = WinTestAgent::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let second = runtime.block_on(async { PipeListener::bind(agent.pipe()) });
    match second {
        Err(e @ PipeError::InUse(_)) => assert!(e.to_string().contains(agent.pipe()), "{e}"),
        other => panic!("second server on {}: {other:?}", agent.pipe()),
    }
}

/// A prompter that records each question and waits until the test answers.
#[derive(Debug)]
struct GatePrompter {
    asked: Mutex<Vec<ConfirmRequest>>,
    answer: tokio::sync::watch::Receiver<Option<bool>>,
}

impl Prompter for GatePrompter {
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool> {
        self.asked.lock().unwrap().push(request);
        let mut answer = self.answer.clone();
        Box::pin(async move {
            let decided = answer.wait_for(Option::is_some).await.map(|a| *a);
            decided.ok().flatten().unwrap_or(false)
        })
    }

    /// Deferred decryption: once the test opens the gate, "yes" types the fixtures' passphrase.
    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        self.asked.lock().unwrap().push(ConfirmRequest {
            comment: request.comment,
            fingerprint: request.fingerprint,
            algorithm: request.algorithm,
            client: request.client,
            forwarding_path: Vec::new(),
            forwarded: false,
        });
        let mut answer = self.answer.clone();
        Box::pin(async move {
            let decided = answer.wait_for(Option::is_some).await.map(|a| *a);
            match decided.ok().flatten() {
                Some(true) => Some(Zeroizing::new("correct horse".to_owned())),
                _ => None,
            }
        })
    }
}

/// An agent asking a [`GatePrompter`], served on a fresh pipe and window, and a client on the
/// pipe.
struct Gated {
    pipe: AgentClient<Box<dyn Stream>>,
    /// Serves until dropped (after the client).
    _served: WinTestAgent,
    name: String,
    prompter: Arc<GatePrompter>,
    answer: tokio::sync::watch::Sender<Option<bool>>,
}

impl Gated {
    /// Serves an agent whose prompts wait at a closed gate, and connects to its pipe.
    fn serve() -> Self {
        let (answer, answer_rx) = tokio::sync::watch::channel(None);
        let prompter = Arc::new(GatePrompter {
            asked: Mutex::new(Vec::new()),
            answer: answer_rx,
        });
        let agent = Agent::with_parts(
            AgentOptions::new(),
            Some(prompter.clone() as Arc<dyn Prompter>),
            Arc::new(agentry_core::clock::TokioClock),
        );
        let name = unique_name();
        let served = WinTestAgent::serve(agent, &format!(r"\\.\pipe\{name}"), Some(&name));
        let pipe = AgentClient::new(
            Box::new(connect_pipe(served.pipe()).unwrap()) as Box<dyn Stream>,
            served.pipe().into(),
        );
        Self {
            pipe,
            _served: served,
            name,
            prompter,
            answer,
        }
    }

    /// A `WM_COPYDATA` sign request waits at the gate (panics with `what` if nothing is asked
    /// within 10 s) while the pipe still lists the one key; once the gate opens, it is signed.
    fn copydata_sign_waits_while_the_pipe_answers(&mut self, what: &str) {
        let window = self.name.clone();
        let signer =
            std::thread::spawn(move || copydata_call(&window, &encode_frame(&sign_request())));
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.prompter.asked.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(10));
        }
        // The window thread is blocked on the prompt; the pipe still answers.
        match self.pipe.request(&Request::RequestIdentities).unwrap() {
            Response::Identities(ids) => assert_eq!(ids.len(), 1),
            other => panic!("{other:?}"),
        }
        self.answer.send(Some(true)).unwrap();
        let reply = signer.join().unwrap().expect("WM_COPYDATA sign");
        assert_eq!(reply[0], msg::SIGN_RESPONSE);
    }
}

fn sign_request() -> Vec<u8> {
    Request::Sign(SignRequest {
        key_blob: fixtures::public_blob("ed25519"),
        data: b"windows prompt test".to_vec(),
        flags: 0,
    })
    .encode()
    .to_vec()
}

#[test]
fn a_prompt_for_a_copydata_client_does_not_stop_the_pipe() {
    let mut gated = Gated::serve();
    let added = gated
        .pipe
        .call(&fixtures::request("ssh-add-c-ed25519"))
        .unwrap();
    assert_eq!(added, [msg::SUCCESS]);
    gated.copydata_sign_waits_while_the_pipe_answers("no prompt");
    let asked = gated.prompter.asked.lock().unwrap()[0].clone();
    assert_eq!(asked.client.transport, "WM_COPYDATA");
    // Over the pipe the prompt names the client process.
    assert_eq!(
        gated.pipe.call(&sign_request()).unwrap()[0],
        msg::SIGN_RESPONSE
    );
    let asked = gated.prompter.asked.lock().unwrap()[1].clone();
    assert_eq!(asked.client.transport, "named pipe");
    assert_eq!(asked.client.pid, Some(std::process::id()));
    // A refused prompt is a plain FAILURE for a WM_COPYDATA client.
    gated.answer.send(Some(false)).unwrap();
    let refused = copydata_call(&gated.name, &encode_frame(&sign_request())).unwrap();
    assert_eq!(refused, [msg::FAILURE]);
}

/// Deferred decryption for a legacy client: an encrypted PPK added over the pipe (`add-ppk`) is
/// first used by a `WM_COPYDATA` client; its window thread waits while the passphrase prompt runs
/// elsewhere, the pipe is served meanwhile, and the signature arrives once the prompt is answered.
#[test]
fn a_passphrase_prompt_for_a_copydata_client_does_not_stop_the_pipe() {
    let mut gated = Gated::serve();
    let ppk =
        std::fs::read(fixtures::fixtures_dir().join("keys/ppk/ed25519-encrypted.ppk")).unwrap();
    let add = Request::Extension(agentry_core::proto::Extension::AddPpk {
        ppk: Zeroizing::new(ppk),
        constraints: Vec::new(),
    });
    assert_eq!(gated.pipe.request(&add).unwrap(), Response::Success);
    assert!(
        gated.prompter.asked.lock().unwrap().is_empty(),
        "adding asked"
    );
    gated.copydata_sign_waits_while_the_pipe_answers("no passphrase prompt");
    let asked = gated.prompter.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].client.transport, "WM_COPYDATA");
}

#[test]
fn clients_find_the_agent_under_pageants_names() {
    let pipe = pageant_pipe_name().unwrap();
    let served = match WinTestAgent::try_serve(
        Agent::new(AgentOptions::new()),
        &pipe,
        Some(name::PAGEANT_WINDOW),
    ) {
        Ok(served) => served,
        Err(e) => panic!("Pageant's names are taken on this machine (is Pageant running?): {e}"),
    };
    // As from_env() without SSH_AUTH_SOCK, with the process environment left alone.
    let mut client = AgentClient::from_auth_sock(None).expect("PuTTY-style lookup");
    assert_eq!(client.name(), std::path::Path::new(&pipe));
    assert_eq!(
        client.call(&[msg::REQUEST_IDENTITIES]).unwrap(),
        [12, 0, 0, 0, 0]
    );
    let mut legacy = AgentClient::copydata(name::PAGEANT_WINDOW).unwrap();
    assert_eq!(
        legacy.call(&[msg::REQUEST_IDENTITIES]).unwrap(),
        [12, 0, 0, 0, 0]
    );
    drop(served);
}

fn question() -> ConfirmRequest {
    ConfirmRequest {
        comment: "test key".to_owned(),
        fingerprint: "SHA256:x".to_owned(),
        algorithm: "ssh-ed25519".to_owned(),
        client: agentry_core::ClientInfo::default(),
        forwarding_path: Vec::new(),
        forwarded: false,
    }
}

#[test]
fn an_unanswered_dialog_is_a_refusal() {
    use agentry_platform::windows::prompt::{confirm_box_open, confirm_caption, DialogPrompter};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let timeout = Duration::from_millis(1500);
    let prompter = DialogPrompter::new(timeout);
    // A fresh prompter's first box; no other test in this process shows a confirmation box.
    let title = confirm_caption(std::process::id(), 1);
    let watcher = {
        let title = title.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !confirm_box_open(&title) {
                assert!(Instant::now() < deadline, "no box titled {title:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let started = Instant::now();
    let allowed = runtime.block_on(prompter.confirm(question()));
    let waited = started.elapsed();
    eprintln!("dialog answered {allowed} after {waited:?}");
    watcher.join().expect("the box was shown");
    assert!(!allowed);
    // The refusal is the timeout's: not before it, and the box is gone.
    assert!(waited >= timeout, "answered after {waited:?}");
    assert!(
        waited < Duration::from_secs(15),
        "answered after {waited:?}"
    );
    assert!(!confirm_box_open(&title), "still open");
    // The box was pressed "No" and closed: the blocking thread is free again.
    runtime.shutdown_timeout(Duration::from_secs(10));
}

#[test]
fn an_unanswered_console_question_is_a_refusal() {
    use agentry_platform::windows::prompt::ConsolePrompter;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let prompter = ConsolePrompter::new(Duration::from_millis(500));
    let started = Instant::now();
    // No console, an empty line, or no answer in time: all refusals.
    assert!(!runtime.block_on(prompter.confirm(question())));
    assert!(started.elapsed() < Duration::from_secs(10));
    runtime.shutdown_timeout(Duration::from_millis(100));
}

#[test]
fn many_clients_at_once_are_all_served() {
    let agent = WinTestAgent::start();
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let pipe = agent.pipe().to_owned();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let mut client = AgentClient::new(
                        Box::new(connect_pipe(&pipe).expect("connect")) as Box<dyn Stream>,
                        pipe.clone().into(),
                    );
                    assert_eq!(
                        client.call(&[msg::REQUEST_IDENTITIES]).unwrap(),
                        [12, 0, 0, 0, 0]
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("client thread");
    }
}
