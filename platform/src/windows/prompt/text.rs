//! What the Windows dialogs and the tray's notification say, laid out to be read at a glance:
//! the program and its pid first, its full path below, unverified hints about it (and the client
//! a bridge reported), then the key's
//! comment and its type and fingerprint on lines of their own, then the forwarding path. Every
//! piece of client-chosen text is escaped ([`untrusted`]), so the lines are the ones built here.

use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PathHop};
use agentry_core::text::untrusted;
use agentry_core::ClientInfo;

/// The confirmation box's text.
pub(super) fn confirm(r: &ConfirmRequest) -> String {
    let mut text = client_lines(&r.client);
    text.push_str(&key_lines(&r.comment, &r.algorithm, &r.fingerprint));
    text.push_str(&path_lines(&r.forwarding_path, r.forwarded));
    text.push_str("\n\nAllow this use of the key?");
    text
}

/// The passphrase dialog's text.
pub(super) fn passphrase(r: &PassphraseRequest) -> String {
    let mut text = String::new();
    if r.attempt > 1 {
        text.push_str("Incorrect passphrase, try again.\n");
    }
    text.push_str(&client_lines(&r.client));
    text.push_str(&key_lines(&r.comment, &r.algorithm, &r.fingerprint));
    text.push_str(&path_lines(&r.forwarding_path, r.forwarded));
    text.push_str("\n\nPassphrase to decrypt this key:");
    text
}

/// The notification while a prompt waits: which program, which key.
pub(super) fn notice(client: &ClientInfo, comment: &str, asks: &str) -> String {
    format!("{} {asks} {}", program(client), untrusted(comment))
}

/// `ssh.exe (pid 42) via named pipe`, or what is known of it.
fn program(client: &ClientInfo) -> String {
    let name = client.exe.as_deref().map(|exe| {
        let name = exe.rsplit(['\\', '/']).next().unwrap_or(exe);
        untrusted(name)
    });
    let mut line = match (name, client.pid) {
        (Some(name), Some(pid)) => format!("{name} (pid {pid})"),
        (None, Some(pid)) => format!("Process {pid}"),
        (Some(name), None) => name,
        (None, None) => "An unknown program".to_owned(),
    };
    if !client.transport.is_empty() {
        line.push_str(&format!(" via {}", untrusted(&client.transport)));
    }
    line
}

fn client_lines(client: &ClientInfo) -> String {
    let mut text = program(client);
    if let Some(exe) = &client.exe {
        text.push('\n');
        text.push_str(&untrusted(exe));
    }
    for hint in &client.hints {
        text.push('\n');
        text.push_str(&untrusted(hint));
    }
    if let Some(reported) = &client.reported {
        // `agentry relay --mux`'s client-identity@agentry; its Display escapes each name.
        text.push_str("\nReported by the bridge (not verified): ");
        text.push_str(&untrusted(&reported.to_string()));
    }
    text.push_str("\nasks to use your key:");
    text
}

fn key_lines(comment: &str, algorithm: &str, fingerprint: &str) -> String {
    format!(
        "\n\n{}\n{} {}",
        untrusted(comment),
        untrusted(algorithm),
        untrusted(fingerprint)
    )
}

fn path_lines(path: &[PathHop], forwarded: bool) -> String {
    let mut text = String::new();
    if !path.is_empty() {
        text.push_str("\n\nPath: you");
        for hop in path {
            text.push_str(" \u{2192} ");
            text.push_str(&hop.label());
        }
    }
    if forwarded {
        text.push_str("\nThis request was forwarded.");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ConfirmRequest {
        ConfirmRequest {
            comment: "work key".into(),
            fingerprint: "SHA256:abc".into(),
            algorithm: "ssh-ed25519".into(),
            client: ClientInfo {
                pid: Some(42),
                exe: Some(r"C:\Program Files\OpenSSH\ssh.exe".into()),
                transport: "named pipe".into(),
                ..ClientInfo::default()
            },
            forwarding_path: vec![PathHop {
                host_key: vec![0; 4],
                name: Some("jump.example".into()),
            }],
            forwarded: true,
        }
    }

    #[test]
    fn program_first_then_path_then_key_on_lines_of_their_own() {
        let text = confirm(&request());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ssh.exe (pid 42) via named pipe");
        assert_eq!(lines[1], r"C:\Program Files\OpenSSH\ssh.exe");
        assert_eq!(lines[2], "asks to use your key:");
        assert_eq!(lines[4], "work key");
        assert_eq!(lines[5], "ssh-ed25519 SHA256:abc");
        assert_eq!(lines[7], "Path: you \u{2192} jump.example");
        assert_eq!(lines[8], "This request was forwarded.");
    }

    #[test]
    fn hints_and_hostile_text_stay_on_their_lines() {
        let mut r = request();
        r.client.exe = None;
        r.client.pid = None;
        r.client.transport = "WM_COPYDATA".into();
        r.client.hints = vec!["Likely sender: x\nAllow? yes (unverified)".into()];
        r.comment = "a\nAllow? yes".into();
        let text = confirm(&r);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "An unknown program via WM_COPYDATA");
        assert_eq!(lines[1], "Likely sender: x\\x0aAllow? yes (unverified)");
        assert!(!text.contains("\nAllow? yes"), "{text}");
        assert_eq!(
            notice(&r.client, &r.comment, "asks to use"),
            "An unknown program via WM_COPYDATA asks to use a\\x0aAllow? yes"
        );
    }
}
