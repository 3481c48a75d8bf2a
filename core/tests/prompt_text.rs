//! Prompts show client-chosen text (key comments, key type names, executable paths, host names)
//! escaped, so it cannot forge a line ("Allow? yes"), clear the screen or reorder the text
//! around it; and a passphrase prompt says when the request came through a forwarded connection,
//! with its path, as the confirmation prompt does. Log lines escape client text the same way.

mod common;

use agentry_core::clock::TokioClock;
use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PathHop, PromptFuture, Prompter};
use agentry_core::proto::{Extension, Request, Response};
use agentry_core::{Agent, AgentOptions, ClientInfo};
use common::*;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// A newline and a forged answer line, a screen clear, a right-to-left override, a line separator.
const HOSTILE: &str = "me\nAllow? yes\x1b[2J\u{202e}gpj\u{2028}x";
/// How [`HOSTILE`] must be shown.
const SHOWN: &str = "me\\x0aAllow? yes\\x1b[2J\\u{202e}gpj\\u{2028}x";

/// Fails unless `message` has exactly `lines` lines and no character (other than the newlines
/// between them) that can hide or forge text.
fn assert_no_forged_lines(message: &str, lines: usize) {
    assert_eq!(message.lines().count(), lines, "{message:?}");
    for c in message.chars().filter(|c| *c != '\n') {
        assert!(
            !c.is_control()
                && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'),
            "{c:?} in {message:?}"
        );
    }
    assert!(!message.contains("\nAllow? yes"), "{message:?}");
}

fn hostile_client() -> ClientInfo {
    ClientInfo {
        pid: Some(42),
        exe: Some(format!("/tmp/{HOSTILE}")),
        uid: None,
        transport: "test".into(),
        hints: Vec::new(),
        reported: None,
    }
}

#[test]
fn confirm_message_escapes_client_text() {
    let request = ConfirmRequest {
        comment: HOSTILE.into(),
        fingerprint: "SHA256:abc".into(),
        algorithm: format!("ssh-ed25519{HOSTILE}"),
        client: hostile_client(),
        forwarding_path: vec![PathHop {
            host_key: vec![0; 4],
            name: Some(HOSTILE.into()),
        }],
        forwarded: true,
    };
    let message = request.message();
    assert_no_forged_lines(&message, 4);
    assert_eq!(message.matches(SHOWN).count(), 4, "{message}");
}

#[test]
fn passphrase_message_escapes_client_text() {
    let request = PassphraseRequest {
        comment: HOSTILE.into(),
        fingerprint: "SHA256:abc".into(),
        algorithm: format!("ssh-ed25519{HOSTILE}"),
        client: hostile_client(),
        attempt: 2,
        forwarding_path: vec![PathHop {
            host_key: vec![0; 4],
            name: Some(HOSTILE.into()),
        }],
        forwarded: true,
    };
    let message = request.message();
    assert_no_forged_lines(&message, 5);
    assert_eq!(message.matches(SHOWN).count(), 4, "{message}");
    assert!(
        message.ends_with("\nThis request was forwarded."),
        "{message}"
    );
}

/// Records passphrase requests and cancels them.
#[derive(Default)]
struct Recorder {
    asked: Mutex<Vec<PassphraseRequest>>,
}

impl Prompter for Recorder {
    fn confirm(&self, _: ConfirmRequest) -> PromptFuture<bool> {
        Box::pin(async { false })
    }

    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        self.asked.lock().unwrap().push(request);
        Box::pin(async { None })
    }
}

/// A session bound, for forwarding, to a host whose key the test holds.
async fn forwarded_session(agent: &Agent) -> agentry_core::Session {
    use ed25519_dalek::Signer;
    let host = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
    let mut key = agentry_core::wire::Writer::new();
    key.string(b"ssh-ed25519")
        .string(host.verifying_key().as_bytes());
    let mut sig = agentry_core::wire::Writer::new();
    sig.string(b"ssh-ed25519")
        .string(&host.sign(&[1; 32]).to_bytes());
    let bind = Request::Extension(Extension::SessionBind(agentry_core::proto::SessionBind {
        host_key: key.into_bytes(),
        session_id: vec![1; 32],
        signature: sig.into_bytes(),
        is_forwarding: true,
    }))
    .encode();
    let mut forwarded = session();
    assert_eq!(call(agent, &mut forwarded, &bind).await, Response::Success);
    forwarded
}

#[tokio::test]
async fn a_passphrase_prompt_for_a_forwarded_request_says_so() {
    let prompter = Arc::new(Recorder::default());
    let agent = Agent::with_parts(
        AgentOptions::new(),
        Some(prompter.clone()),
        Arc::new(TokioClock),
    );
    let file = std::fs::read(fixtures().join("keys/ed25519-encrypted")).unwrap();
    let add = Request::Extension(Extension::AddKeyFile {
        file: Zeroizing::new(file),
        public_key: Vec::new(),
        comment: HOSTILE.as_bytes().to_vec(),
        constraints: Vec::new(),
    })
    .encode();
    assert_eq!(call(&agent, &mut session(), &add).await, Response::Success);
    let blob = public_blob("ed25519-encrypted");

    // Locally: no path, not forwarded.
    let body = sign_body(&blob, b"data", 0);
    assert_eq!(call(&agent, &mut session(), &body).await, Response::Failure);
    // Through a forwarded connection: the path and the "forwarded" line.
    let mut forwarded = forwarded_session(&agent).await;
    assert_eq!(call(&agent, &mut forwarded, &body).await, Response::Failure);

    let asked = prompter.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert!(!asked[0].forwarded);
    assert!(asked[0].forwarding_path.is_empty());
    assert_no_forged_lines(&asked[0].message(), 2);
    assert!(asked[1].forwarded);
    assert_eq!(asked[1].forwarding_path.len(), 1);
    let message = asked[1].message();
    assert_no_forged_lines(&message, 4);
    assert!(message.contains(SHOWN), "{message}");
    assert!(
        message.contains("\nPath: you \u{2192} SHA256:"),
        "{message}"
    );
    assert!(
        message.ends_with("\nThis request was forwarded."),
        "{message}"
    );
}

/// Collects what a `fmt` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn log_lines_escape_client_text() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let agent = Agent::new(AgentOptions::new());
    // An unknown extension, named with a forged log line.
    let mut unknown = agentry_core::wire::Writer::new();
    unknown
        .u8(agentry_core::proto::msg::EXTENSION)
        .string(HOSTILE.as_bytes());
    let mut client = agentry_core::Session::new(hostile_client());
    assert_eq!(
        call(&agent, &mut client, &unknown.into_bytes()).await,
        Response::ExtensionFailure
    );
    drop(_guard);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("unknown extension"), "{text}");
    assert!(text.contains(SHOWN), "{text}");
    assert_no_forged_lines(&text, text.lines().count());
    assert!(!text.chars().any(|c| c != '\n' && c.is_control()), "{text}");
}

#[test]
fn client_hints_are_shown_escaped_on_lines_of_their_own() {
    let mut client = hostile_client();
    client.hints = vec![
        format!("likely sent by {HOSTILE} (unverified)"),
        "second".into(),
    ];
    let request = ConfirmRequest {
        comment: "key".into(),
        fingerprint: "SHA256:abc".into(),
        algorithm: "ssh-ed25519".into(),
        client,
        forwarding_path: Vec::new(),
        forwarded: false,
    };
    let message = request.message();
    assert_no_forged_lines(&message, 4);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines[2], format!("likely sent by {SHOWN} (unverified)"));
    assert_eq!(lines[3], "second");
}
