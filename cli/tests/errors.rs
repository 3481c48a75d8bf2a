//! The messages a new user meets on the first day, each from the real `agentry` binary with its
//! exit code, side by side with OpenSSH's `ssh-add` where there is one to compare with: why a
//! passphrase cannot be asked, why the agent refused (locked, no prompter, wrong or needless
//! unlock), files that are not key files, missing arguments, lifetimes, and `-h`. Every cause a
//! message names is one the client established (docs/protocol.md, "Why a request was refused");
//! against OpenSSH's ssh-agent, which cannot say it is locked, the messages say only "may be".
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `command` with `input` on its standard input (which it may refuse to read: a command that
/// exits first leaves the rest unwritten).
fn with_input(command: &mut Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    let written = child.stdin.take().unwrap().write_all(input.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

/// Asserts exit code `code` and exactly `stderr`.
fn says(out: &Output, code: i32, stderr: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", describe(out));
    assert_eq!(text(&out.stderr), stderr, "{}", describe(out));
}

/// An agentry agent without a prompter, on a socket in `dir`.
fn bare_agent(dir: &Path) -> ForegroundAgent {
    ForegroundAgent::start(&dir.join("agent.sock"), |_| {})
}

/// An askpass script that answers `answer` (and exits 0).
fn askpass(dir: &Path, answer: &str) -> PathBuf {
    script(&dir.join("askpass"), &format!("echo '{answer}'"))
}

#[test]
fn an_encrypted_key_that_cannot_be_asked_for_says_why() {
    let dir = private_tempdir();
    let agent = bare_agent(dir.path());
    let enc = fixture_key(dir.path(), "ed25519-encrypted");
    let shown = enc.display();
    let never_run = script(&dir.path().join("never"), "touch \"$0.ran\"; echo x");

    // No terminal, SSH_ASKPASS without DISPLAY, nothing on stdin: ssh-add fails (1) with its
    // prompt alone; agentry says why it could not ask.
    let ours = run(agent
        .agentry()
        .arg("add")
        .arg(&enc)
        .env("SSH_ASKPASS", &never_run));
    says(
        &ours,
        1,
        &format!("agentry: {shown}: cannot ask for a passphrase: no terminal, SSH_ASKPASS is set but askpass is used only with DISPLAY or WAYLAND_DISPLAY (or SSH_ASKPASS_REQUIRE=force), and standard input is empty\n"),
    );
    let theirs = run(agent
        .client("ssh-add")
        .arg(&enc)
        .env("SSH_ASKPASS", &never_run));
    assert_eq!(theirs.status.code(), Some(1), "{}", describe(&theirs));
    assert!(
        !dir.path().join("never.ran").exists(),
        "askpass ran without DISPLAY"
    );

    // No askpass at all.
    let ours = run(agent.agentry().arg("add").arg(&enc));
    says(
        &ours,
        1,
        &format!("agentry: {shown}: cannot ask for a passphrase: no terminal, no askpass (SSH_ASKPASS is not set and there is no DISPLAY), and standard input is empty\n"),
    );

    // An empty answer (stdin, then askpass) is not called a wrong passphrase.
    let empty = with_input(agent.agentry().arg("add").arg(&enc), "\n");
    let empty_said = format!(
        "agentry: {shown}: no passphrase given (the answer was empty); the key is encrypted\n"
    );
    says(&empty, 1, &empty_said);
    let blank = askpass(dir.path(), "");
    let by_askpass = run(agent
        .agentry()
        .arg("add")
        .arg(&enc)
        .env("SSH_ASKPASS", &blank)
        .env("SSH_ASKPASS_REQUIRE", "force"));
    says(&by_askpass, 1, &empty_said);

    // A wrong one, then nothing: said in that order.
    let wrong = with_input(agent.agentry().arg("add").arg(&enc), "wrong\n\n");
    assert_eq!(wrong.status.code(), Some(1), "{}", describe(&wrong));
    assert!(
        text(&wrong.stderr).ends_with(&format!(
            "agentry: {shown}: incorrect passphrase, then an empty answer\n"
        )),
        "{}",
        describe(&wrong)
    );
}

#[test]
fn confirm_and_encrypted_keys_on_an_agent_without_prompter_say_so() {
    let dir = private_tempdir();
    let agent = bare_agent(dir.path());
    let ed = fixture_key(dir.path(), "ed25519");
    let enc = fixture_key(dir.path(), "ed25519-encrypted");
    let how = "start it with SSH_ASKPASS set and a display (or SSH_ASKPASS_REQUIRE=force), with `askpass` in the config's [prompts], or in the foreground with `agentry start -D --tty-prompts`";

    let ours = run(agent.agentry().args(["add", "-c"]).arg(&ed));
    says(
        &ours,
        1,
        &format!(
            "agentry: cannot add {} (agentry-test-ed25519) with -c: the agent has no way to ask for confirmation (no prompter); {how}\n",
            ed.display()
        ),
    );
    let theirs = run(agent.client("ssh-add").arg("-c").arg(&ed));
    assert_eq!(theirs.status.code(), Some(1), "{}", describe(&theirs));

    let held = run(agent.agentry().args(["add", "--encrypted"]).arg(&enc));
    says(
        &held,
        1,
        &format!(
            "agentry: cannot hold {} encrypted: the agent has no way to ask for its passphrase at first use (no prompter); {how}, or add it decrypted now without --encrypted\n",
            enc.display()
        ),
    );
    let status = run(agent.agentry().arg("status"));
    assert!(
        text(&status.stdout)
            .contains("\nprompter: none (keys added with -c or --encrypted are refused)\n"),
        "{}",
        describe(&status)
    );

    // With a prompter the same add works, and status says so.
    let yes = script(&dir.path().join("yes"), "exit 0");
    let prompting = ForegroundAgent::start(&dir.path().join("p.sock"), |c| {
        c.env("SSH_ASKPASS", &yes)
            .env("SSH_ASKPASS_REQUIRE", "force");
    });
    let added = run(prompting.agentry().args(["add", "-c"]).arg(&ed));
    assert!(added.status.success(), "{}", describe(&added));
    let status = run(prompting.agentry().arg("status"));
    assert!(
        text(&status.stdout).contains("\nprompter: yes\n"),
        "{}",
        describe(&status)
    );
}

#[test]
fn every_command_on_a_locked_agent_says_it_is_locked() {
    let dir = private_tempdir();
    let agent = bare_agent(dir.path());
    let ed = fixture_key(dir.path(), "ed25519");
    let name = ed.display().to_string();
    assert!(run(agent.agentry().arg("add").arg(&ed)).status.success());
    let locked = with_input(agent.agentry().arg("lock"), "sesame\n");
    says(&locked, 0, "Agent locked.\n");
    let fingerprint = "SHA256:VuaEWKtxRYBSkSHp2MuadyIQ0Iv9wFWBo5KTU0Qnb2I";
    let reason = "the agent is locked (unlock it with `agentry unlock`)";

    let cases: [(&[&str], String); 7] = [
        (
            &["remove", &name],
            format!("cannot remove {name}: {reason}"),
        ),
        (
            &["remove", fingerprint],
            format!("cannot find {fingerprint}: {reason}"),
        ),
        (
            &["add", &name],
            format!("cannot add {name} (agentry-test-ed25519): {reason}"),
        ),
        (
            &["remove-all"],
            format!("cannot remove all identities: {reason}"),
        ),
        (&["query"], format!("cannot query the agent: {reason}")),
        (
            &["reencrypt", "--all"],
            format!("cannot re-encrypt: {reason}"),
        ),
        (
            &["list"],
            "the agent is locked: it lists no identities until `agentry unlock`".to_owned(),
        ),
    ];
    for (args, said) in cases {
        let out = run(agent.agentry().args(args));
        says(&out, 1, &format!("agentry: {said}\n"));
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
    let status = run(agent.agentry().arg("status"));
    assert_eq!(status.status.code(), Some(0), "{}", describe(&status));
    assert!(
        text(&status.stdout).contains("\nlock: locked (`agentry unlock`)\n"),
        "{}",
        describe(&status)
    );
    // ssh-add says "agent refused operation" for the same removal.
    let theirs = run(agent.client("ssh-add").arg("-d").arg(&ed));
    assert_eq!(theirs.status.code(), Some(1), "{}", describe(&theirs));

    // Unlocked again, the key is there and status says so.
    says(
        &with_input(agent.agentry().arg("unlock"), "sesame\n"),
        0,
        "Agent unlocked.\n",
    );
    let status = run(agent.agentry().arg("status"));
    assert!(
        text(&status.stdout).contains("\nlock: unlocked\nprompter: none"),
        "{}",
        describe(&status)
    );
    let removed = run(agent.agentry().arg("remove").arg(&ed));
    says(&removed, 0, &format!("Identity removed: {name}\n"));
    let again = run(agent.agentry().arg("remove").arg(&ed));
    says(
        &again,
        1,
        &format!("agentry: cannot remove {name}: the agent does not hold it\n"),
    );
}

#[test]
fn unlock_and_lock_refusals_say_which_one() {
    let dir = private_tempdir();
    let agent = bare_agent(dir.path());
    let sock = agent.socket.display().to_string();

    says(
        &with_input(agent.agentry().arg("unlock"), "sesame\n"),
        1,
        &format!("agentry: the agent at {sock} is not locked\n"),
    );
    says(
        &with_input(agent.agentry().arg("lock"), "\n"),
        1,
        "agentry: not locked: the lock passphrase is empty (agents refuse an empty one)\n",
    );
    says(
        &with_input(agent.agentry().arg("lock"), "sesame\n"),
        0,
        "Agent locked.\n",
    );
    says(
        &with_input(agent.agentry().arg("lock"), "other\n"),
        1,
        &format!("agentry: the agent at {sock} is already locked\n"),
    );
    says(
        &with_input(agent.agentry().arg("unlock"), "wrong\n"),
        1,
        "agentry: incorrect passphrase: the agent is still locked\n",
    );
    says(
        &with_input(agent.agentry().arg("unlock"), "\n"),
        1,
        "agentry: not unlocked: the passphrase is empty (no agent is locked with an empty one)\n",
    );
    says(
        &run(agent.agentry().arg("unlock")),
        1,
        "agentry: cannot ask for a passphrase: no terminal, no askpass (SSH_ASKPASS is not set and there is no DISPLAY), and standard input is empty\n",
    );
    says(
        &with_input(agent.agentry().arg("unlock"), "sesame\n"),
        0,
        "Agent unlocked.\n",
    );
}

/// OpenSSH's ssh-agent cannot say whether it is locked: agentry never claims it is, and says
/// only that it may be when the agent lists nothing and does not answer `query`.
#[test]
fn against_openssh_the_lock_is_never_claimed() {
    let dir = private_tempdir();
    let socket = dir.path().join("ssh-agent.sock");
    let mut child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut child);
    wait_for_agent(&socket);
    let agent = ForegroundAgent::attach(&socket);
    let sock = socket.display().to_string();
    let ed = fixture_key(dir.path(), "ed25519");
    let name = ed.display().to_string();

    // Unlocked and empty: the plain facts.
    let listed = run(agent.agentry().arg("list"));
    assert_eq!(listed.status.code(), Some(1));
    assert_eq!(text(&listed.stdout), "The agent has no identities.\n");
    assert_eq!(text(&listed.stderr), "");
    let status = run(agent.agentry().arg("status"));
    assert!(text(&status.stdout).contains("\nlock: unknown: it lists no keys and does not answer `query` (locked, or an agent without `query`)\n"), "{}", describe(&status));

    // Empty, an unlock refusal has two possible causes; holding a key (a locked agent lists
    // none) it is known not to be locked.
    says(
        &with_input(agent.agentry().arg("unlock"), "sesame\n"),
        1,
        &format!("agentry: the agent at {sock} refused to unlock (incorrect passphrase, or it is not locked)\n"),
    );
    assert!(run(agent.agentry().arg("add").arg(&ed)).status.success());
    says(
        &with_input(agent.agentry().arg("unlock"), "sesame\n"),
        1,
        &format!("agentry: the agent at {sock} is not locked\n"),
    );
    let status = run(agent.agentry().arg("status"));
    assert!(
        text(&status.stdout).contains("\nlock: unlocked\nidentities: 2\n"),
        "{}",
        describe(&status)
    );

    // Locked: "may be locked", never "is locked", never "does not hold it".
    says(
        &with_input(agent.agentry().arg("lock"), "sesame\n"),
        0,
        "Agent locked.\n",
    );
    says(
        &run(agent.agentry().arg("remove").arg(&ed)),
        1,
        &format!("agentry: cannot remove {name}: the agent lists no keys and does not answer `query`: it may be locked (`agentry unlock`)\n"),
    );
    says(
        &with_input(agent.agentry().arg("unlock"), "wrong\n"),
        1,
        &format!("agentry: the agent at {sock} refused to unlock (incorrect passphrase, or it is not locked)\n"),
    );
    says(
        &with_input(agent.agentry().arg("unlock"), "sesame\n"),
        0,
        "Agent unlocked.\n",
    );
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// `inner` run with at most 1 GiB of address space and ended after two minutes, so that a
/// regression (reading /dev/zero without end, waiting on a FIFO) fails this test instead of
/// exhausting the machine or hanging it. Neither limit is near what a working command uses.
fn guarded(inner: &Command) -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["120", "sh", "-c", "ulimit -v 1048576 && exec \"$0\" \"$@\""])
        .arg(inner.get_program())
        .args(inner.get_args())
        .stdin(Stdio::null());
    for (name, value) in inner.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command
}

#[test]
fn files_that_are_not_key_files_are_refused_before_reading() {
    let dir = private_tempdir();
    let agent = bare_agent(dir.path());
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'A'; 10 << 20]).unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    let too_big = "larger than 256 KiB, far larger than any key or config file";
    let cases: [(PathBuf, &str); 4] = [
        (PathBuf::from("/dev/zero"), "not a regular file (a device)"),
        (folder, "not a regular file (a directory)"),
        (fifo, "not a regular file (a FIFO)"),
        (big, too_big),
    ];
    for (path, why) in &cases {
        let said = format!("agentry: {}: {why}\n", path.display());
        for args in [
            &["add"][..],
            &["add", "--encrypted"],
            &["remove"],
            &["keyring", "import"],
        ] {
            let out = run(&mut guarded(agent.agentry().args(args).arg(path)));
            says(&out, 1, &said);
        }
        // The config file too, for every command that reads it.
        for args in [&["config", "check"][..], &["start", "-D"]] {
            let out = run(&mut guarded(agentry().arg("--config").arg(path).args(args)));
            says(&out, 1, &said);
        }
    }
    // Plain words, no "(os error 2)".
    let missing = dir.path().join("missing");
    says(
        &run(agent.agentry().arg("add").arg(&missing)),
        1,
        &format!(
            "agentry: {}: No such file or directory\n",
            missing.display()
        ),
    );
    says(
        &run(agentry().env("SSH_AUTH_SOCK", &missing).arg("list")),
        2,
        &format!(
            "agentry: cannot reach the agent at {}: No such file or directory\n",
            missing.display()
        ),
    );
}

#[test]
fn a_key_file_others_can_read_is_named_with_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = private_tempdir();
    let agent = bare_agent(dir.path());
    let key = fixture_key(dir.path(), "ed25519");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let name = key.display();
    let banner = format!(
        "{bar}\n@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @\n{bar}\nPermissions 0644 for '{name}' are too open.\nIt is required that your private key files are NOT accessible by others.\nThis private key will be ignored.\n",
        bar = "@".repeat(59)
    );
    let theirs = run(agent.client("ssh-add").arg(&key));
    assert_eq!(theirs.status.code(), Some(1));
    assert_eq!(
        text(&theirs.stderr).replace("\r\n", "\n"),
        banner,
        "ssh-add's banner"
    );
    says(
        &run(agent.agentry().arg("add").arg(&key)),
        1,
        &format!("{banner}agentry: {name}: mode 0644 is too open (others may read it); `chmod 600 {name}` and add it again\n"),
    );
}

#[test]
fn add_without_files_loads_the_default_keys_or_says_what_to_give() {
    let dir = private_tempdir();
    let agent = bare_agent(dir.path());
    let home = private_tempdir();
    let ssh = home.path().join(".ssh");
    says(
        &run(agent.agentry().arg("add").env("HOME", home.path())),
        1,
        &format!(
            "agentry: no key files given, and none of {0}/id_rsa, {0}/id_ecdsa, {0}/id_ed25519 exist: give key files (`agentry add FILE`, `-` for standard input) or `--keyring NAME`\n",
            ssh.display()
        ),
    );
    std::fs::create_dir(&ssh).unwrap();
    let key = fixture_key(&ssh, "ed25519");
    std::fs::rename(&key, ssh.join("id_ed25519")).unwrap();
    // ssh-add looks in the passwd entry's home, not $HOME, so only its words are compared:
    // "Identity added: PATH (COMMENT)".
    let ours = run(agent.agentry().arg("add").env("HOME", home.path()));
    says(
        &ours,
        0,
        &format!(
            "Identity added: {}/id_ed25519 (agentry-test-ed25519)\n",
            ssh.display()
        ),
    );
}

#[test]
fn add_dash_reads_the_key_from_standard_input_as_ssh_add() {
    let dir = private_tempdir();
    let agent = bare_agent(dir.path());
    let key = std::fs::read_to_string(fixtures().join("ed25519")).unwrap();
    let theirs = with_input(agent.client("ssh-add").arg("-"), &key);
    let ours = with_input(agent.agentry().args(["add", "-"]), &key);
    says(&ours, 0, "Identity added: (stdin) (agentry-test-ed25519)\n");
    assert_eq!(text(&ours.stderr), text(&theirs.stderr), "as ssh-add");
    let listed = run(agent.agentry().arg("list"));
    assert_eq!(
        text(&listed.stdout).lines().count(),
        1,
        "{}",
        describe(&listed)
    );

    let encrypted = std::fs::read_to_string(fixtures().join("ed25519-encrypted")).unwrap();
    says(
        &with_input(agent.agentry().args(["add", "-"]), &encrypted),
        1,
        "agentry: (stdin): cannot ask for a passphrase: no terminal, no askpass (SSH_ASKPASS is not set and there is no DISPLAY), and standard input held the key\n",
    );
    says(
        &with_input(agent.agentry().args(["add", "--encrypted", "-"]), &encrypted),
        1,
        "agentry: `-` (a key on standard input) cannot be held encrypted or remembered: give its file\n",
    );
}

#[test]
fn argument_mistakes_say_the_rule() {
    let dir = private_tempdir();
    let agent = bare_agent(dir.path());
    let key = fixture_key(dir.path(), "ed25519");
    says(
        &run(agent.agentry().arg("reencrypt")),
        2,
        "agentry: reencrypt needs the keys to re-encrypt (key files or fingerprints), or --all\n",
    );
    for (life, rule) in [
        (
            "0",
            "\"0\": a lifetime is at least 1 second (leave it out to keep keys until removed)",
        ),
        (
            "1x",
            "\"1x\" is not a lifetime: give seconds, or a number with units s m h d w, e.g. 1h30m",
        ),
        (
            "5000000000",
            "\"5000000000\": a lifetime is at most 4294967295 seconds (about 136 years)",
        ),
    ] {
        let out = run(agent.agentry().args(["add", "-t", life]).arg(&key));
        says(
            &out,
            2,
            &format!("error: invalid value '{life}' for '-t <LIFE>': {rule}\n\nFor more information, try '--help'.\n"),
        );
    }
    let theirs = run(agent.client("ssh-add").arg("-h"));
    let ours = run(agent.agentry().args(["add", "-h"]));
    assert_eq!(
        theirs.status.code(),
        Some(1),
        "ssh-add: {}",
        describe(&theirs)
    );
    says(
        &ours,
        2,
        "error: -h takes a destination (HOST, USER@HOST or FROM>TO), as ssh-add -h does\n\nFor help, use `agentry add --help`.\n",
    );
}

#[test]
fn list_names_a_dsa_key_held_by_openssh_as_ssh_add() {
    let dir = private_tempdir();
    let socket = dir.path().join("ssh-agent.sock");
    let mut child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_agent(&socket);
    let agent = ForegroundAgent::attach(&socket);
    let dsa = dir.path().join("id_dsa");
    let made = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "dsa", "-N", "", "-C", "old dsa", "-f"])
        .arg(&dsa));
    let outcome = std::panic::catch_unwind(|| {
        assert!(made.status.success(), "ssh-keygen: {}", describe(&made));
        let added = run(agent.client("ssh-add").arg(&dsa));
        assert!(added.status.success(), "{}", describe(&added));
        for (ours, theirs) in [(["list", "-l"], "-l"), (["list", "-L"], "-L")] {
            let listed = run(agent.agentry().args(ours));
            let expected = run(agent.client("ssh-add").arg(theirs));
            assert_eq!(
                text(&listed.stdout),
                text(&expected.stdout),
                "{}",
                describe(&listed)
            );
        }
        let listed = text(&run(agent.agentry().arg("list")).stdout);
        assert!(
            listed.starts_with("1024 SHA256:") && listed.ends_with(" old dsa (DSA)\n"),
            "{listed}"
        );
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn help_shows_examples_passphrase_sources_and_config_last() {
    let top = text(&run(agentry().arg("--help")).stdout);
    assert!(
        top.contains("\nExamples:\n  eval \"$(agentry start -s)\""),
        "{top}"
    );
    let options: Vec<&str> = top
        .split("Options:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(
        options
            .last()
            .unwrap()
            .trim_start()
            .starts_with("--config <PATH>"),
        "{top}"
    );
    for (command, needle) in [
        ("start", "(its directory must be yours, mode 0700)"),
        ("start", "-a <PATH>"),
        ("add", "agentry add --encrypted ~/.ssh/id_rsa"),
        ("add", "-h is ssh-add's destination option; help is --help."),
        ("stop", "eval \"$(agentry stop -s)\""),
        (
            "lock",
            "through SSH_ASKPASS when there is no terminal and a display",
        ),
        (
            "lock",
            "else read as one line from standard input. It may not be empty.",
        ),
        ("unlock", "else on the terminal, else read as one line from"),
    ] {
        let help = text(&run(agentry().args([command, "--help"])).stdout);
        assert!(
            help.contains(needle),
            "{command} --help lacks {needle:?}:\n{help}"
        );
        let last_option = help
            .split("Options:\n")
            .nth(1)
            .unwrap()
            .split("\nExamples:")
            .next()
            .unwrap()
            .lines()
            .rfind(|l| l.starts_with("  -") || l.starts_with("      --"))
            .unwrap();
        assert!(
            last_option.trim_start().starts_with("--config"),
            "{command}: {help}"
        );
    }
}

#[test]
fn config_check_reports_every_error_in_line_order_and_the_start_warnings() {
    let dir = private_tempdir();
    fixture_key(dir.path(), "ed25519-encrypted");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[agent]\nlifetime = \"soon\"\nbogus = 1\nsocket = 3\n\n[confirm]\nremember = \"0\"\n\n\
         [[key]]\nfile = \"gone\"\nlifetime = 0\nencrypted = \"yes\"\n\n\
         [[key]]\nkeyring = \"x\"\nfile = \"y\"\n\n[nonsense]\n",
    )
    .unwrap();
    let p = config.display();
    let out = run(agentry().args(["config", "check", "--config"]).arg(&config));
    let expected = [
        "2:12: \"soon\" is not a lifetime: give seconds, or a number with units s m h d w, e.g. 1h30m".to_owned(),
        "3:1: unknown field `bogus`, expected one of `socket`, `pipe`, `openssh_pipe`, `lifetime`, `allow_ssh_rsa_sha1`, `known_hosts`, `allowed_providers`".to_owned(),
        "4:10: invalid type: integer `3`, expected a string".to_owned(),
        "7:12: \"0\": a lifetime is at least 1 second (leave it out to keep keys until removed)".to_owned(),
        "11:12: \"0\": a lifetime is at least 1 second (leave it out to keep keys until removed)".to_owned(),
        "12:13: invalid type: string \"yes\", expected a boolean".to_owned(),
        "14:1: a [[key]] takes `file` or `keyring`, not both".to_owned(),
        "18:2: unknown field `nonsense`, expected one of `agent`, `prompts`, `confirm`, `key`, `pkcs11`".to_owned(),
    ];
    let mut said: String = expected.iter().map(|l| format!("{p}:{l}\n")).collect();
    said.push_str(&format!("agentry: {p}: 8 errors in the configuration\n"));
    says(&out, 1, &said);

    // Well-formed: the warnings `agentry start` would print here (no prompter), and OK.
    std::fs::write(
        &config,
        "[[key]]\nfile = \"ed25519-encrypted\"\nencrypted = true\n\n[[key]]\nkeyring = \"k\"\nconfirm = true\n",
    )
    .unwrap();
    let key = dir.path().join("ed25519-encrypted");
    let none = "needs a prompt, and the agent has none (set SSH_ASKPASS, or askpass in [prompts])";
    let out = run(agentry().args(["config", "check", "--config"]).arg(&config));
    says(
        &out,
        0,
        &format!(
            "{p}:1:1: warning: {}: an encrypted key {none}\n{p}:5:1: warning: keyring entry \"k\": `confirm = true` {none}\n",
            key.display()
        ),
    );
    assert_eq!(text(&out.stdout), "config OK: 2 keys\n");
    let yes = script(&dir.path().join("yes"), "exit 0");
    let out = run(agentry()
        .args(["config", "check", "--config"])
        .arg(&config)
        .env("SSH_ASKPASS", &yes)
        .env("SSH_ASKPASS_REQUIRE", "force"));
    says(&out, 0, "");
}
