//! Parsing config.toml: every option, and errors that name the file, line and column.

use super::{Backend, Config, KeySource, Pos};
use crate::destinations::DestinationSpec;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PATH: &str = "/etc/agentry/config.toml";

fn parse(text: &str) -> Config {
    Config::parse(text, Path::new(PATH)).unwrap_or_else(|e| panic!("{:?}", e.problems))
}

/// The rendered problems of a file that must not parse.
fn errors(text: &str) -> Vec<String> {
    let e = Config::parse(text, Path::new(PATH)).expect_err("accepted");
    e.problems.iter().map(|p| p.render(&e.path)).collect()
}

#[cfg(unix)]
const BACKEND: (&str, Backend) = ("askpass", Backend::Askpass);
#[cfg(windows)]
const BACKEND: (&str, Backend) = ("dialog", Backend::Dialog);

#[test]
fn reads_every_option() {
    let text = format!(
        r#"# agentry
[agent]
socket = "/run/agentry.sock"
pipe = '\\.\pipe\agentry'
openssh_pipe = true
lifetime = "1h30m"
allow_ssh_rsa_sha1 = true
known_hosts = ["hosts", "/etc/ssh/ssh_known_hosts"]

[prompts]
backend = "{}"
askpass = "/usr/bin/ssh-askpass"
timeout = 30

[confirm]
all = true
forwarded_only = true
remember = "5m"

[[key]]
file = "keys/id_ed25519"
encrypted = true
confirm = true
lifetime = 600
destinations = ["host", "git@github.com", "jump>me@inner"]

[[key]]
keyring = "work"
"#,
        BACKEND.0
    );
    let c = parse(&text);
    assert_eq!(c.path.as_deref(), Some(Path::new(PATH)));
    assert_eq!(c.socket.as_deref(), Some(Path::new("/run/agentry.sock")));
    assert_eq!(c.pipe.as_deref(), Some(r"\\.\pipe\agentry"));
    assert!(c.openssh_pipe && c.allow_ssh_rsa_sha1);
    assert_eq!(c.lifetime, Some(Duration::from_secs(5400)));
    assert_eq!(
        c.known_hosts,
        Some(vec![
            PathBuf::from("/etc/agentry/hosts"),
            PathBuf::from("/etc/ssh/ssh_known_hosts")
        ])
    );
    assert_eq!(c.backend, Some((Pos { line: 11, col: 11 }, BACKEND.1)));
    assert_eq!(
        c.askpass.as_deref(),
        Some(Path::new("/usr/bin/ssh-askpass"))
    );
    assert_eq!(c.prompt_timeout, Some(Duration::from_secs(30)));
    assert!(c.confirm_all && c.confirm_forwarded_only);
    assert_eq!(c.confirm_remember, Some(Duration::from_secs(300)));
    assert_eq!(c.keys.len(), 2);
    let k = &c.keys[0];
    assert_eq!(k.pos, Pos { line: 20, col: 1 });
    assert_eq!(
        k.source,
        KeySource::File(PathBuf::from("/etc/agentry/keys/id_ed25519"))
    );
    assert!(k.encrypted && k.confirm);
    assert_eq!(k.lifetime, Some(Duration::from_secs(600)));
    let dests: Vec<_> = k.destinations.iter().map(|(pos, d)| (pos.col, d)).collect();
    assert_eq!(
        dests,
        vec![
            (17, &DestinationSpec::parse("host").unwrap()),
            (25, &DestinationSpec::parse("git@github.com").unwrap()),
            (43, &DestinationSpec::parse("jump>me@inner").unwrap()),
        ]
    );
    let k = &c.keys[1];
    assert_eq!(k.source, KeySource::Keyring("work".into()));
    assert!(!k.encrypted && !k.confirm && k.lifetime.is_none() && k.destinations.is_empty());
}

#[test]
fn an_empty_file_is_all_defaults() {
    let c = parse("");
    assert_eq!(
        c,
        Config {
            path: Some(PATH.into()),
            ..Config::default()
        }
    );
}

#[test]
fn home_paths_are_expanded() {
    let home = directories::BaseDirs::new()
        .expect("a home directory (HOME, or the user's profile on Windows) to expand ~ in")
        .home_dir()
        .to_owned();
    let c = parse("[[key]]\nfile = \"~/.ssh/id_ed25519\"\n");
    assert_eq!(
        c.keys[0].source,
        KeySource::File(home.join(".ssh").join("id_ed25519"))
    );
}

#[test]
fn a_crlf_file_names_the_same_line_and_column() {
    let e = errors("[agent]\r\nsocket = \"/s\"\r\n\r\n  lifetim = 3\r\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(&format!("{PATH}:4:3: unknown field `lifetim`")),
        "{e:?}"
    );
}

#[test]
fn unknown_keys_name_their_line_and_column() {
    let e = errors("[agent]\nsocket = \"/s\"\n\n  lifetim = 3\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(&format!(
            "{PATH}:4:3: unknown field `lifetim`, expected one of"
        )),
        "{e:?}"
    );
    assert!(e[0].contains("`lifetime`"), "{e:?}");
    let e =
        errors("[[key]]\nfile = \"a\"\n[[key]]\nfile = \"b\"\nconfirm = true\ndestination = []\n");
    assert!(
        e[0].starts_with(&format!("{PATH}:6:1: unknown field `destination`")),
        "{e:?}"
    );
    let e = errors("[agents]\n");
    assert!(
        e[0].starts_with(&format!("{PATH}:1:2: unknown field `agents`")),
        "{e:?}"
    );
}

#[test]
fn bad_values_name_their_line_and_column() {
    let cases = [
        (
            "[agent]\nlifetime = \"1x\"\n",
            "2:12: \"1x\" is not a lifetime",
        ),
        (
            "[agent]\nlifetime = 0\n",
            "2:12: \"0\": a lifetime is at least 1 second",
        ),
        (
            "[agent]\nlifetime = true\n",
            "2:12: invalid type: boolean `true`, expected a duration",
        ),
        (
            "[confirm]\nremember = \"\"\n",
            "2:12: \"\" is not a lifetime",
        ),
        (
            "[prompts]\nbackend = \"zenity\"\n",
            "2:11: unknown variant `zenity`",
        ),
        (
            "[agent]\nopenssh_pipe = \"yes\"\n",
            "2:16: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "[[key]]\nfile = 7\n",
            "2:8: invalid type: integer `7`, expected a string",
        ),
        ("[[key]]\nfile = \"a\"\nlifetime = \"forever\"\n", "3:12: "),
        (
            "[agent]\nsocket = \"a\"\nsocket = \"b\"\n",
            "3:1: duplicate key",
        ),
        ("x = [\n", "1:6: "),
        // Columns count characters, not bytes.
        (
            "[agent]\nsocket = \"é\"\nlifetime = \"ß\"\n",
            "3:12: \"ß\" is not a lifetime",
        ),
    ];
    for (text, want) in cases {
        let e = errors(text);
        assert!(
            e.len() == 1 && e[0].starts_with(&format!("{PATH}:{want}")),
            "{text:?}: {e:?}"
        );
    }
}

#[test]
fn bad_key_entries_name_the_key_line() {
    let text = "[agent]\nlifetime = 5\n\n[[key]]\nfile = \"a\"\nkeyring = \"b\"\n\n[[key]]\nconfirm = true\n\n[[key]]\nkeyring = \"w\"\nencrypted = true\n\n[[key]]\nfile = \" \"\n";
    let e = errors(text);
    assert_eq!(
        e,
        vec![
            format!("{PATH}:4:1: a [[key]] takes `file` or `keyring`, not both"),
            format!("{PATH}:8:1: a [[key]] needs `file = \"PATH\"` or `keyring = \"NAME\"`"),
            format!("{PATH}:11:1: `encrypted` applies to key files; keyring keys are stored by the OS keyring"),
            format!("{PATH}:15:1: `file` is empty"),
        ]
    );
}

#[test]
fn bad_destinations_name_their_place() {
    let text =
        "[[key]]\nfile = \"a\"\ndestinations = [\n  \"ok\",\n  \"u@jump>host\",\n  \"a>b>c\",\n]\n";
    let e = errors(text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with(&format!(
            "{PATH}:5:3: bad destination \"u@jump>host\": the `from` host cannot name a user"
        )),
        "{e:?}"
    );
    assert!(
        e[1].starts_with(&format!("{PATH}:6:3: bad destination \"a>b>c\"")),
        "{e:?}"
    );
}

#[test]
fn a_prompt_backend_of_the_other_os_is_an_error() {
    #[cfg(unix)]
    let (other, why) = ("dialog", "is for Windows");
    #[cfg(windows)]
    let (other, why) = ("askpass", "is for Unix");
    let e = errors(&format!("[prompts]\nbackend = \"{other}\"\n"));
    assert!(
        e[0].starts_with(&format!("{PATH}:2:11: prompts backend")) && e[0].contains(why),
        "{e:?}"
    );
    assert_eq!(
        parse("[prompts]\nbackend = \"terminal\"\n")
            .backend
            .unwrap()
            .1,
        Backend::Terminal
    );
}

#[test]
fn positions_count_lines_and_characters() {
    let text = "ab\nçd\n";
    assert_eq!(Pos::at(text, 0), Pos { line: 1, col: 1 });
    assert_eq!(Pos::at(text, 3), Pos { line: 2, col: 1 });
    assert_eq!(Pos::at(text, 5), Pos { line: 2, col: 2 });
    assert_eq!(
        Pos::at(text, 4),
        Pos { line: 2, col: 1 },
        "inside a character"
    );
    assert_eq!(Pos::at(text, 99), Pos { line: 3, col: 1 });
}

#[test]
fn the_example_in_docs_config_md_parses() {
    // LF in the repository (.gitattributes), but a checkout may have converted it.
    let doc = include_str!("../../../docs/config.md").replace("\r\n", "\n");
    let start = doc.find("```toml\n").expect("an example") + "```toml\n".len();
    let example = &doc[start..start + doc[start..].find("```").unwrap()];
    // The example is for Unix; on Windows the prompt backend is the dialog.
    let example = example.replace(
        "backend = \"askpass\"",
        &format!("backend = \"{}\"", BACKEND.0),
    );
    let c = parse(&example);
    // The same file saved with CRLF line ends (a Windows editor) says the same.
    assert_eq!(parse(&example.replace('\n', "\r\n")), c);
    assert_eq!(c.keys.len(), 3);
    assert_eq!(c.lifetime, Some(Duration::from_secs(8 * 3600)));
    assert_eq!(c.keys[1].destinations.len(), 2);
    assert_eq!(c.keys[2].source, KeySource::Keyring("deploy".into()));
}

#[test]
fn every_bad_value_is_reported_in_line_order() {
    let e = errors(
        "[[key]]\nfile = 7\nlifetime = \"x\"\n\n[agent]\nlifetime = 0\nbogus = true\n\n[[key]]\nfile = \"a\"\nkeyring = \"b\"\n",
    );
    let places: Vec<String> = e
        .iter()
        .map(|line| {
            let rest = line.strip_prefix(&format!("{PATH}:")).unwrap();
            rest.splitn(3, ':').take(2).collect::<Vec<_>>().join(":")
        })
        .collect();
    assert_eq!(places, ["2:8", "3:12", "6:12", "7:1", "9:1"], "{e:?}");
}

#[test]
fn a_syntax_error_stops_before_values_and_every_one_is_reported() {
    let e = errors("[agent\nlifetime = 0\n[confirm]\nall = tru\n");
    assert!(e.len() >= 2, "{e:?}");
    assert!(e[0].starts_with(&format!("{PATH}:1:")), "{e:?}");
    assert!(e.iter().all(|l| !l.contains("at least 1 second")), "{e:?}");
}

#[test]
fn pkcs11_entries_and_the_allow_list() {
    let c = parse(
        "[agent]\nallowed_providers = \"/opt/tokens/*\"\n\n[[pkcs11]]\nprovider = \"/usr/lib/softhsm/libsofthsm2.so\"\npin = \"keyring\"\nconfirm = true\nlifetime = \"1h\"\n\n[[pkcs11]]\nprovider = \"/usr/lib/opensc-pkcs11.so\"\n",
    );
    assert_eq!(c.allowed_providers.as_deref(), Some("/opt/tokens/*"));
    assert_eq!(c.pkcs11.len(), 2);
    let first = &c.pkcs11[0];
    assert_eq!(first.pos, Pos { line: 4, col: 1 });
    assert!(first.pin_from_keyring && first.confirm);
    assert_eq!(first.lifetime, Some(Duration::from_secs(3600)));
    assert!(!c.pkcs11[1].pin_from_keyring && !c.pkcs11[1].confirm);
    let e = errors("[[pkcs11]]\npin = \"none\"\n\n[[pkcs11]]\nprovider = \"\"\n");
    assert_eq!(
        e,
        vec![
            format!("{PATH}:1:1: a [[pkcs11]] needs `provider = \"PATH\"` (the PKCS#11 library)"),
            format!("{PATH}:5:12: `provider` is empty"),
        ]
    );
    let e = errors("[[pkcs11]]\nprovider = \"x\"\npin = \"ask\"\n");
    assert_eq!(
        e,
        vec![format!(
            "{PATH}:3:7: unknown variant `ask`, expected `keyring` or `none`"
        )]
    );
}
