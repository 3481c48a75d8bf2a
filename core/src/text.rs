//! Text a client chose (key comments, key type names, extension names, host names from
//! destination constraints and known_hosts, executable paths), made safe to show in a prompt or
//! a log line. The invariant: what [`untrusted`] returns contains no character that can hide,
//! reorder or forge text around it — no C0 or C1 control (so no newline, carriage return,
//! backspace or escape sequence), no DEL, no line or paragraph separator, no bidirectional
//! override, embedding, isolate or mark. Each such character is replaced by a visible escape
//! (`\x1b`, `\u{202e}`), so the user sees that it was there. Every prompt message and every log
//! field carrying client text goes through it.

use core::fmt::Write;

/// `text` with every character that could hide or forge lines replaced by a visible escape.
/// Idempotent: its output contains no such character, so escaping it again changes nothing.
pub fn untrusted(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if u32::from(c) < 0x100 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        }
    }
    out
}

/// `bytes` (not necessarily UTF-8: comments are sent as bytes) as [`untrusted`] text; invalid
/// UTF-8 shows as U+FFFD.
pub fn untrusted_bytes(bytes: &[u8]) -> String {
    untrusted(&String::from_utf8_lossy(bytes))
}

/// True for characters that must not reach a prompt or a log as they are.
fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'          // C0 controls: newline, CR, tab, backspace, ESC, ...
        | '\u{7f}'..='\u{9f}'       // DEL and C1 controls (NEL, CSI, ...)
        | '\u{61c}'                 // Arabic letter mark
        | '\u{200e}' | '\u{200f}'   // left-to-right / right-to-left marks
        | '\u{2028}' | '\u{2029}'   // line and paragraph separators
        | '\u{202a}'..='\u{202e}'   // bidi embeddings and overrides
        | '\u{2066}'..='\u{2069}'   // bidi isolates
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_unchanged() {
        for text in [
            "me@laptop",
            "ключ 🔑 — ok",
            "C:\\Program Files\\PuTTY\\plink.exe",
            "",
        ] {
            assert_eq!(untrusted(text), text);
        }
    }

    #[test]
    fn controls_separators_and_bidi_are_escaped() {
        assert_eq!(
            untrusted("a\nAllow? yes\r\x1b[2J\u{7f}\u{85}\u{9b}"),
            "a\\x0aAllow? yes\\x0d\\x1b[2J\\x7f\\x85\\x9b"
        );
        assert_eq!(
            untrusted("x\u{202e}gpj.exe\u{2066}\u{2069}\u{2028}\u{2029}\u{200f}\u{61c}"),
            "x\\u{202e}gpj.exe\\u{2066}\\u{2069}\\u{2028}\\u{2029}\\u{200f}\\u{061c}"
        );
        assert_eq!(untrusted("tab\there"), "tab\\x09here");
    }

    #[test]
    fn escaping_is_idempotent() {
        let once = untrusted("a\n\u{202e}b\x1b");
        assert_eq!(untrusted(&once), once);
        assert!(!once.chars().any(is_unsafe));
    }

    #[test]
    fn bytes_that_are_not_utf8_show_as_replacement() {
        assert_eq!(untrusted_bytes(b"k\xff\n"), "k\u{fffd}\\x0a");
    }
}
