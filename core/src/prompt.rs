//! How the core asks the user something. The platform implements [`Prompter`] (askpass, a
//! Windows dialog, the terminal, a scripted answer in tests); the core only awaits the answer, so
//! a pending prompt holds no lock and blocks no other connection or key. The messages built here
//! show client-chosen text only escaped ([`crate::text`]): a key comment cannot forge a line.

use crate::session::{ClientInfo, Session};
use crate::text::untrusted;
use core::future::Future;
use core::pin::Pin;
use zeroize::Zeroizing;

/// A boxed future returned by a prompter.
pub type PromptFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What the user is asked to confirm before a key is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmRequest {
    /// The key's comment.
    pub comment: String,
    /// The key's SHA-256 fingerprint.
    pub fingerprint: String,
    /// The key type name.
    pub algorithm: String,
    /// Who asks.
    pub client: ClientInfo,
    /// Hosts the request crossed, nearest first (from `session-bind@openssh.com`).
    pub forwarding_path: Vec<PathHop>,
    /// True when the request arrived through agent forwarding.
    pub forwarded: bool,
}

impl ConfirmRequest {
    /// The question as one paragraph of text, for prompt backends that show plain text. Every
    /// piece of client-chosen text in it is escaped ([`crate::text::untrusted`]), so its lines
    /// are exactly the ones written here.
    pub fn message(&self) -> String {
        let mut text = String::new();
        push_question(
            &mut text,
            ("Allow use of key", "?"),
            [&self.comment, &self.algorithm, &self.fingerprint],
            &self.client,
        );
        push_forwarding(&mut text, &self.forwarding_path, self.forwarded);
        text
    }
}

/// Appends `question.0 COMMENT (ALGORITHM FINGERPRINT)question.1`, the "Requested by:" line and,
/// for a connection a bridge relays, the client it reported; every client-chosen piece escaped.
fn push_question(
    text: &mut String,
    question: (&str, &str),
    [comment, algorithm, fingerprint]: [&String; 3],
    client: &ClientInfo,
) {
    text.push_str(&format!(
        "{} {} ({} {}){}\nRequested by: {}",
        question.0,
        untrusted(comment),
        untrusted(algorithm),
        untrusted(fingerprint),
        question.1,
        untrusted(&client.to_string())
    ));
    for hint in &client.hints {
        text.push('\n');
        text.push_str(&untrusted(hint));
    }
    if let Some(reported) = &client.reported {
        // Escaped field by field by its Display; escaped again as a whole, which changes nothing.
        text.push_str("\nReported by the bridge (not verified): ");
        text.push_str(&untrusted(&reported.to_string()));
    }
}

/// Appends the "Path:" line (when the request crossed hosts) and the "forwarded" line.
fn push_forwarding(text: &mut String, path: &[PathHop], forwarded: bool) {
    if !path.is_empty() {
        text.push_str("\nPath: you");
        for hop in path {
            text.push_str(" \u{2192} ");
            text.push_str(&hop.label());
        }
    }
    if forwarded {
        text.push_str("\nThis request was forwarded.");
    }
}

/// One host on a request's forwarding path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathHop {
    /// The host key (or host certificate) blob the connection was bound to.
    pub host_key: Vec<u8>,
    /// A name for people: from the key's destination constraint (`ssh-add -h`), or filled in
    /// from known_hosts by the platform (see [`crate::known_hosts`]); `None` if unknown.
    pub name: Option<String>,
}

impl PathHop {
    /// The hops `session` was bound through, nearest first, named from `names` (by position;
    /// an empty or missing name leaves the hop unnamed).
    pub fn path_of(session: &Session, names: &[String]) -> Vec<Self> {
        session
            .binds()
            .iter()
            .enumerate()
            .map(|(i, b)| Self {
                host_key: b.host_key.clone(),
                name: names.get(i).filter(|n| !n.is_empty()).cloned(),
            })
            .collect()
    }

    /// The name (escaped: it may come from the client or a known_hosts file), else the host
    /// key's fingerprint.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => untrusted(name),
            None => crate::keys::host_label(&self.host_key),
        }
    }
}

/// What the user is asked for when a key held encrypted is first used (deferred decryption).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassphraseRequest {
    /// The key's comment.
    pub comment: String,
    /// The key's SHA-256 fingerprint.
    pub fingerprint: String,
    /// The key type name.
    pub algorithm: String,
    /// Who asks.
    pub client: ClientInfo,
    /// 1 for the first try; the agent allows [`PASSPHRASE_TRIES`].
    pub attempt: u32,
    /// Hosts the request crossed, nearest first (from `session-bind@openssh.com`).
    pub forwarding_path: Vec<PathHop>,
    /// True when the request arrived through agent forwarding.
    pub forwarded: bool,
}

/// How many passphrases the agent tries before it gives up on one request.
pub const PASSPHRASE_TRIES: u32 = 3;

impl PassphraseRequest {
    /// The question as one paragraph of text, client-chosen text escaped as in
    /// [`ConfirmRequest::message`], with the path and a "forwarded" line for a forwarded request.
    pub fn message(&self) -> String {
        let mut text = String::new();
        if self.attempt > 1 {
            text.push_str("Incorrect passphrase, try again.\n");
        }
        push_question(
            &mut text,
            ("Enter passphrase to decrypt key", ""),
            [&self.comment, &self.algorithm, &self.fingerprint],
            &self.client,
        );
        push_forwarding(&mut text, &self.forwarding_path, self.forwarded);
        text
    }
}

/// Asks the user. Implementations must not block the calling thread: run dialogs elsewhere and
/// resolve the future when the user answers (or a timeout denies).
pub trait Prompter: Send + Sync + 'static {
    /// Resolves to `true` only if the user allowed the use.
    fn confirm(&self, request: ConfirmRequest) -> PromptFuture<bool>;

    /// Resolves to the passphrase the user typed, or `None` if they cancelled (or this
    /// prompter cannot ask for passphrases).
    fn passphrase(&self, request: PassphraseRequest) -> PromptFuture<Option<Zeroizing<String>>> {
        let _ = request;
        Box::pin(async { None })
    }
}
