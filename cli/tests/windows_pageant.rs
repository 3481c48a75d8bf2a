//! Pageant's command line on Windows (under Wine by scripts/test, natively in CI):
//! `agentry.exe KEY.ppk` against a running agent, `--encrypted`, `-c cmd.exe /c …` running after
//! the keys are added (the command lists them) with its exit status passed on, and, with no
//! agent running, `agentryw.exe KEY.ppk --openssh-config FILE` (the windowless twin) starting
//! one on Pageant's own pipe and window, adding the key, writing the `IdentityAgent` line and,
//! with `--keylist`, opening its `agentry Key List` window; `--keylist` against a running agent
//! opens its window, and an agent started with `--no-tray` is named as having none.
//! Only that last test uses Pageant's names; the others use pipes of their own and no window.
#![cfg(windows)]

use agentry_platform::windows::file_access::write_private_file;
use agentry_tests::tools::{command_without_agent, describe, without_user_config};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn agentry() -> Command {
    program(env!("CARGO_BIN_EXE_agentry"))
}

fn program(path: &str) -> Command {
    let mut command = command_without_agent(path);
    without_user_config(&mut command);
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run agentry")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A private copy (agentry refuses key files others may open) of fixture key `name` in `dir`.
fn private_key(dir: &Path, name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/keys")
        .join(name);
    let to = dir.join(Path::new(name).file_name().unwrap());
    write_private_file(&to, &std::fs::read(from).unwrap()).unwrap();
    to
}

fn unique_pipe() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        r"\\.\pipe\agentry-pageant-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `agentry start -D -a PIPE --no-window` (with its tray, titled PIPE), killed on drop.
struct Foreground(Child);

impl Foreground {
    fn start(pipe: &str) -> Self {
        Self::start_with(pipe, &[])
    }

    fn start_with(pipe: &str, extra: &[&str]) -> Self {
        let child = agentry()
            .args(["start", "-D", "--no-window", "-a", pipe])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn agentry start -D");
        let started = Self(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(pipe)
            .is_err()
        {
            assert!(Instant::now() < deadline, "agent did not open {pipe}");
            std::thread::sleep(Duration::from_millis(50));
        }
        started
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn on(pipe: &str, args: &[&std::ffi::OsStr]) -> Output {
    run(agentry().env("SSH_AUTH_SOCK", pipe).args(args))
}

#[test]
fn key_files_go_to_the_running_agent_encrypted_or_not() {
    let pipe = unique_pipe();
    let _agent = Foreground::start(&pipe);
    let dir = tempfile::tempdir().unwrap();
    let plain = private_key(dir.path(), "ppk/ecdsa-p256.ppk");
    let encrypted = private_key(dir.path(), "ppk/ed25519-encrypted.ppk");
    let added = on(&pipe, &[plain.as_os_str()]);
    assert!(added.status.success(), "{}", describe(&added));
    assert_eq!(
        text(&added.stdout),
        "",
        "no agent started: {}",
        describe(&added)
    );
    let deferred = on(&pipe, &["--encrypted".as_ref(), encrypted.as_os_str()]);
    assert!(deferred.status.success(), "{}", describe(&deferred));
    let listed = text(&on(&pipe, &["list".as_ref()]).stdout);
    assert!(listed.contains("(ECDSA)"), "{listed}");
    assert!(listed.contains("(ED25519) (encrypted)"), "{listed}");
}

/// This test binary's directory's parent: where cargo put agentry.exe, as a Windows path
/// (cmd.exe takes a leading `/` for a switch).
fn agentry_windows_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("agentry.exe")
}

/// Waits (20 s at most) for agent `pid`'s key list window.
fn wait_for_key_list(pid: u32) -> usize {
    use agentry_platform::windows::desktop::probe::find_key_list;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(window) = find_key_list(pid) {
            return window;
        }
        assert!(
            Instant::now() < deadline,
            "no `agentry Key List` window of pid {pid}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keylist_opens_the_running_agents_key_list() {
    use agentry_platform::windows::desktop::probe::find_key_list;
    let pipe = unique_pipe();
    let agent = Foreground::start(&pipe);
    assert_eq!(find_key_list(agent.0.id()), None, "open before --keylist");
    let opened = on(&pipe, &["--keylist".as_ref()]);
    assert!(opened.status.success(), "{}", describe(&opened));
    wait_for_key_list(agent.0.id());
    // An agent with no tray says so.
    let trayless = unique_pipe();
    let _bare = Foreground::start_with(&trayless, &["--no-tray"]);
    let refused = on(&trayless, &["-keylist".as_ref()]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert!(
        text(&refused.stderr).contains("has no tray window"),
        "{}",
        describe(&refused)
    );
}

#[test]
fn the_command_after_c_runs_once_the_keys_are_added() {
    let pipe = unique_pipe();
    let _agent = Foreground::start(&pipe);
    let dir = tempfile::tempdir().unwrap();
    let key = private_key(dir.path(), "ppk/ed25519.ppk");
    let lister = agentry_windows_path();
    assert!(lister.is_file(), "{}", lister.display());
    // COMMAND lists the agent's keys through the SSH_AUTH_SOCK it is given: the key is there.
    let out = run(agentry()
        .env("SSH_AUTH_SOCK", &pipe)
        .arg(&key)
        .args(["-c", "cmd.exe", "/c"])
        .arg(&lister)
        .arg("list"));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        text(&out.stdout).contains("(ED25519)"),
        "{}",
        describe(&out)
    );
    // COMMAND's exit status is agentry's.
    let failed = run(agentry()
        .env("SSH_AUTH_SOCK", &pipe)
        .args(["-c", "cmd.exe", "/c", "exit", "7"]));
    assert_eq!(failed.status.code(), Some(7), "{}", describe(&failed));
}

/// Ends the agent `pid` (`agentry stop`) however the test ends.
struct Stop(Option<String>);

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(pid) = &self.0 {
            let _ = run(agentry().env("SSH_AGENT_PID", pid).arg("stop"));
        }
    }
}

#[test]
fn with_no_agent_the_windowless_twin_starts_one_on_pageants_names() {
    use agentry_platform::windows::name::{openssh_config_line, pageant_pipe_name};
    let dir = tempfile::tempdir().unwrap();
    let key = private_key(dir.path(), "ppk/ed25519.ppk");
    let config = dir.path().join("pageant.conf");
    // Output to a file, not a pipe: the detached agent must not keep our pipe open.
    let log = dir.path().join("out.txt");
    let status = program(env!("CARGO_BIN_EXE_agentryw"))
        .arg(&key)
        .arg("--openssh-config")
        .arg(&config)
        .arg("--keylist")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .status()
        .expect("run agentryw");
    let out = std::fs::read_to_string(&log).unwrap();
    let pid = out
        .lines()
        .find_map(|l| l.strip_prefix("SSH_AGENT_PID="))
        .map(str::to_owned);
    let _stop = Stop(pid.clone());
    assert!(status.success(), "{status}: {out}");
    let pid = pid.unwrap_or_else(|| panic!("no agent started: {out}"));
    // --keylist opened the new agent's key list window.
    wait_for_key_list(pid.parse().unwrap());
    let pipe = pageant_pipe_name().unwrap();
    assert!(out.contains(&format!("SSH_AUTH_SOCK={pipe}")), "{out}");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        format!("{}\n", openssh_config_line(&pipe))
    );
    // The key is in the agent behind Pageant's pipe and behind its WM_COPYDATA window.
    for transport in ["pipe", "copydata"] {
        let listed = run(agentry().args(["--transport", transport, "list"]));
        assert!(
            text(&listed.stdout).contains("(ED25519)"),
            "{transport}: {}",
            describe(&listed)
        );
    }
    // Now one runs: the same command line adds to it and starts nothing.
    let again = run(agentry().arg(&key));
    assert!(again.status.success(), "{}", describe(&again));
    assert_eq!(text(&again.stdout), "", "{}", describe(&again));
}

#[test]
fn the_windowless_twin_shows_a_failure_in_a_message_box_and_keeps_its_status() {
    use agentry_platform::windows::desktop::dialogs::{caption_of, AGENTRYW_FAILED};
    use agentry_platform::windows::desktop::probe::{click, find_dialog, message_box_text};
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-key");
    let pipe = unique_pipe();
    // What agentry itself says and exits with (no agent on that pipe).
    let direct = run(agentry()
        .env("SSH_AUTH_SOCK", &pipe)
        .arg("add")
        .arg(&missing));
    assert!(!direct.status.success(), "{}", describe(&direct));
    let said = text(&direct.stderr);
    let last = said.lines().last().expect("agentry says why").to_owned();
    let mut twin = program(env!("CARGO_BIN_EXE_agentryw"))
        .env("SSH_AUTH_SOCK", &pipe)
        .arg("add")
        .arg(&missing)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run agentryw");
    let caption = caption_of(twin.id(), AGENTRYW_FAILED);
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        if let Some(shown) = message_box_text(&caption) {
            break shown;
        }
        if Instant::now() > deadline {
            let _ = twin.kill();
            panic!("no message box {caption:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(shown.contains(&last), "{shown:?} lacks {last:?}");
    assert!(click(find_dialog(&caption).unwrap(), 1), "press OK");
    let out = twin.wait_with_output().unwrap();
    assert_eq!(out.status.code(), direct.status.code());
    assert!(text(&out.stderr).contains(&last), "{}", text(&out.stderr));
}

#[test]
fn the_windowless_twin_passes_output_and_status_through_on_success() {
    let out = run(program(env!("CARGO_BIN_EXE_agentryw"))
        .arg("--version")
        .stdin(Stdio::null()));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        text(&out.stdout).starts_with("agentry "),
        "{}",
        text(&out.stdout)
    );
}
