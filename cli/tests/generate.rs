//! Shell completions and the man page come from the same clap definitions as the parser: every
//! subcommand appears in each, bash accepts its script, and the man page is roff for section 1.
#![cfg(unix)]

mod common;

use common::*;

const SUBCOMMANDS: &[&str] = &["start", "stop", "list", "add", "reencrypt", "remove-all"];

#[test]
fn completions_for_every_shell_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(agentry().args(["completions", shell]));
        assert!(out.status.success(), "{shell}: {}", describe(&out));
        let script = text(&out.stdout);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let unknown = run(agentry().args(["completions", "tcsh"]));
    assert_eq!(unknown.status.code(), Some(2), "{}", describe(&unknown));
}

#[test]
fn bash_accepts_the_completion_script() {
    let dir = private_tempdir();
    let path = dir.path().join("agentry.bash");
    std::fs::write(&path, run(agentry().args(["completions", "bash"])).stdout).unwrap();
    let checked = run(std::process::Command::new("bash").arg("-n").arg(&path));
    assert!(checked.status.success(), "{}", describe(&checked));
    let loaded = run(std::process::Command::new("bash").arg("-c").arg(format!(
        "source '{}' && complete -p agentry",
        path.display()
    )));
    assert!(
        text(&loaded.stdout).contains("_agentry"),
        "{}",
        describe(&loaded)
    );
}

#[test]
fn the_man_page_is_section_one_roff_with_every_subcommand() {
    let out = run(agentry().arg("man-page"));
    assert!(out.status.success(), "{}", describe(&out));
    let page = text(&out.stdout);
    assert!(page.contains(".TH agentry 1"), "{page}");
    for sub in SUBCOMMANDS {
        // roff escapes '-' as '\-'.
        assert!(
            page.contains(&sub.replace('-', "\\-")),
            "man page lacks {sub}"
        );
    }
}
