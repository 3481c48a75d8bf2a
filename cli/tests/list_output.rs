//! `agentry list` shows what the agent holds, and the comments there are anyone's: a forwarded
//! host can add a key whose comment holds a newline and an escape sequence. Added here with
//! the real `ssh-add` from a file `ssh-keygen -c` gave such a comment, the key (and its
//! certificate) must still list on one line each, with the control characters shown escaped (`\x1b`, `\x0a`), in both `list` and
//! `list -L`; `ssh-add -l` on the same agent prints them raw, which is what is avoided.
#![cfg(unix)]

mod common;

use common::*;
use std::process::Command;

#[test]
fn comments_with_control_characters_are_listed_escaped_on_one_line() {
    let dir = private_tempdir();
    let agent = ForegroundAgent::start(&dir.path().join("agent.sock"), |_| {});
    let key = fixture_key(dir.path(), "ed25519");
    let comment = "mine\u{1b}[2J\nAllow? yes";
    let renamed = run(Command::new("ssh-keygen")
        .args(["-c", "-q", "-P", "", "-C", comment, "-f"])
        .arg(&key));
    assert!(renamed.status.success(), "{}", describe(&renamed));
    let added = run(agent.client("ssh-add").arg(&key));
    assert!(added.status.success(), "{}", describe(&added));
    let raw = text(&run(agent.client("ssh-add").arg("-l")).stdout);
    assert!(
        raw.contains('\u{1b}'),
        "the comment reached the agent as given: {raw:?}"
    );

    for args in [&["list"][..], &["list", "-L"][..]] {
        let out = run(agent.agentry().args(args));
        assert!(out.status.success(), "{}", describe(&out));
        let listed = text(&out.stdout);
        // The key and its certificate (ssh-add adds ed25519-cert.pub too): one line each.
        assert_eq!(listed.lines().count(), 2, "{args:?}: {listed:?}");
        assert!(!listed.contains('\u{1b}'), "{args:?}: {listed:?}");
        for line in listed.lines() {
            assert!(
                line.contains("mine\\x1b[2J\\x0aAllow? yes"),
                "{args:?}: {line:?}"
            );
        }
    }
}
