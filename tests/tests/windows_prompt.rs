//! The native passphrase dialog, driven like a user would from another thread (run under Wine by
//! scripts/test): found by its caption, a passphrase typed into its password field and OK
//! clicked; Cancel; and a dialog nobody answers, closed at the timeout. Also the console
//! passphrase question without a console.
#![cfg(windows)]

use agentry_core::prompt::{PassphraseRequest, Prompter};
use agentry_platform::windows::prompt::{
    answer_passphrase_dialog, cancel_passphrase_dialog, passphrase_caption, passphrase_dialog_open,
    type_into_passphrase_dialog, ConsolePrompter, DialogPrompter,
};
use std::time::{Duration, Instant};

fn request(comment: &str) -> PassphraseRequest {
    PassphraseRequest {
        comment: comment.to_owned(),
        fingerprint: "SHA256:x".to_owned(),
        algorithm: "ssh-ed25519".to_owned(),
        client: agentry_core::ClientInfo::default(),
        attempt: 1,
        forwarding_path: Vec::new(),
        forwarded: false,
    }
}

#[test]
fn a_caption_shows_the_comment_escaped() {
    let caption = passphrase_caption(7, "key\u{202e}gpj\r\x1b[2J", 1);
    assert_eq!(
        caption,
        "agentry: passphrase for key\\u{202e}gpj\\x0d\\x1b[2J #1 (pid 7)"
    );
}

/// The caption of the first question of a fresh prompter in this process.
fn caption(comment: &str) -> String {
    passphrase_caption(std::process::id(), comment, 1)
}

fn wait_until_open(caption: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !passphrase_dialog_open(caption) {
        assert!(Instant::now() < deadline, "no dialog titled {caption:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_passphrase_typed_into_the_dialog_is_returned() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let prompter = DialogPrompter::new(Duration::from_secs(60));
    let comment = "typed-key";
    let title = caption(comment);
    let typist = std::thread::spawn(move || {
        wait_until_open(&title);
        assert!(answer_passphrase_dialog(
            &title,
            "correct horse \u{2603} battery"
        ));
    });
    let answer = runtime.block_on(prompter.passphrase(request(comment)));
    typist.join().expect("typist");
    assert_eq!(
        answer.as_ref().map(|p| p.as_str()),
        Some("correct horse \u{2603} battery")
    );
    assert!(!passphrase_dialog_open(&caption(comment)));
    // The next question gets the next caption, and a second answer is read afresh.
    let title = passphrase_caption(std::process::id(), comment, 2);
    let typist = std::thread::spawn(move || {
        wait_until_open(&title);
        assert!(answer_passphrase_dialog(&title, "second"));
    });
    let answer = runtime.block_on(prompter.passphrase(request(comment)));
    typist.join().expect("typist");
    assert_eq!(answer.as_ref().map(|p| p.as_str()), Some("second"));
}

#[test]
fn cancel_is_no_passphrase_even_with_text_typed() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let prompter = DialogPrompter::new(Duration::from_secs(60));
    let comment = "cancelled-key";
    let title = caption(comment);
    let user = std::thread::spawn(move || {
        wait_until_open(&title);
        // Text in the field, then Cancel: nothing may come back.
        assert!(type_into_passphrase_dialog(&title, "not to be returned"));
        assert!(cancel_passphrase_dialog(&title));
    });
    let started = Instant::now();
    let answer = runtime.block_on(prompter.passphrase(request(comment)));
    user.join().expect("user");
    assert!(answer.is_none(), "cancel returned a passphrase");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(!passphrase_dialog_open(&caption(comment)));
}

#[test]
fn an_unanswered_passphrase_dialog_times_out_and_closes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let prompter = DialogPrompter::new(Duration::from_millis(1500));
    let comment = "ignored-key";
    let title = caption(comment);
    // Typed but never confirmed: the timeout must not return it.
    let watcher = std::thread::spawn(move || {
        wait_until_open(&title);
        assert!(type_into_passphrase_dialog(
            &title,
            "typed, never confirmed"
        ));
    });
    let started = Instant::now();
    let answer = runtime.block_on(prompter.passphrase(request(comment)));
    let waited = started.elapsed();
    watcher.join().expect("the dialog was shown");
    eprintln!("passphrase dialog timed out after {waited:?}");
    assert!(answer.is_none());
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    assert!(waited < Duration::from_secs(15), "{waited:?}");
    assert!(!passphrase_dialog_open(&caption(comment)), "still open");
    runtime.shutdown_timeout(Duration::from_secs(10));
}

#[test]
fn an_unanswered_console_passphrase_is_none() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let prompter = ConsolePrompter::new(Duration::from_millis(500));
    let started = Instant::now();
    // No console, an empty line, or no answer in time: no passphrase.
    assert!(runtime
        .block_on(prompter.passphrase(request("console-key")))
        .is_none());
    assert!(started.elapsed() < Duration::from_secs(10));
    runtime.shutdown_timeout(Duration::from_millis(100));
}
