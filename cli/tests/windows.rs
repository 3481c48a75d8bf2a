//! The `agentry` binary on Windows (run under Wine by scripts/test): `start -D` serving a pipe,
//! the client commands through `SSH_AUTH_SOCK` naming that pipe, `openssh-config`, a squatted
//! pipe refused, `start` in the background followed by `stop`, and `--confirm-all` with its
//! timeout (the agent's native confirmation box answered from the test by its caption).
#![cfg(windows)]

use agentry_platform::windows::file_access::write_private_file;
use agentry_platform::windows::security::{current_user_sid, SecurityDescriptor};
use agentry_tests::tools::{command_without_agent, without_user_config};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn agentry() -> Command {
    let mut command = command_without_agent(env!("CARGO_BIN_EXE_agentry"));
    without_user_config(&mut command);
    command
}

/// A private copy of fixture key `name` in a fresh directory, as a user's key file is: agentry
/// refuses key files others may open (Win32-OpenSSH's rule), which a checkout's files may be.
fn private_key(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join(name);
    write_private_file(&key, &std::fs::read(fixture(name)).unwrap()).unwrap();
    (dir, key)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/keys")
        .join(name)
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run agentry")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn unique_pipe() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        r"\\.\pipe\agentry-cli-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `agentry start -D -a PIPE --no-window`, killed on drop.
struct Foreground(Child);

impl Foreground {
    fn start(pipe: &str) -> Self {
        Self::start_with(pipe, &[])
    }

    fn start_with(pipe: &str, extra: &[&str]) -> Self {
        let window = !extra.contains(&"--window");
        let extra: Vec<&str> = extra.iter().copied().filter(|a| *a != "--window").collect();
        let child = agentry()
            .args(["start", "-D", "-a", pipe])
            .args(window.then_some("--no-window"))
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
        // The pipe is served before the window is made: wait for the window too when asked for.
        let pageant = std::ffi::CString::new("Pageant").unwrap();
        while !window && !agentry_platform::windows::copydata::window_exists(&pageant) {
            assert!(
                Instant::now() < deadline,
                "agent did not make its Pageant window"
            );
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

fn client(pipe: &str, args: &[&str]) -> Output {
    run(agentry().env("SSH_AUTH_SOCK", pipe).args(args))
}

#[test]
fn client_commands_over_the_pipe() {
    let pipe = unique_pipe();
    let _agent = Foreground::start(&pipe);
    let empty = client(&pipe, &["list"]);
    assert_eq!(empty.status.code(), Some(1), "{}", text(&empty.stderr));
    assert!(text(&empty.stdout).contains("no identities"));
    let (_keys, key) = private_key("ed25519");
    let added = client(&pipe, &["add", key.to_str().unwrap()]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let listed = client(&pipe, &["list"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(
        text(&listed.stdout).contains("ED25519"),
        "{}",
        text(&listed.stdout)
    );
    let config = client(&pipe, &["openssh-config"]);
    assert_eq!(
        text(&config.stdout).trim(),
        format!("IdentityAgent \"{}\"", pipe.replace('\\', "/"))
    );
    let nobody = client(r"\\.\pipe\agentry-nobody-here", &["list"]);
    assert_eq!(nobody.status.code(), Some(2), "{}", text(&nobody.stderr));
}

#[test]
fn a_second_agent_on_the_same_pipe_is_refused() {
    let pipe = unique_pipe();
    let _agent = Foreground::start(&pipe);
    let second = run(agentry().args(["start", "-D", "--no-window", "-a", &pipe]));
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second.stderr).contains("already exists"),
        "{}",
        text(&second.stderr)
    );
}

#[test]
fn start_in_the_background_then_stop() {
    let pipe = unique_pipe();
    // Output to a file, not a pipe: the detached agent must not keep our pipe open.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("start.out");
    let status = agentry()
        .args(["start", "--no-window", "-a", &pipe])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .status()
        .expect("run agentry start");
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{out}");
    assert!(out.contains(&format!("SSH_AUTH_SOCK={pipe}")), "{out}");
    let pid = out
        .lines()
        .find_map(|l| l.strip_prefix("SSH_AGENT_PID="))
        .expect("pid line")
        .to_owned();
    assert_eq!(client(&pipe, &["list"]).status.code(), Some(1));
    let stopped = run(agentry().env("SSH_AGENT_PID", &pid).arg("stop"));
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    let deadline = Instant::now() + Duration::from_secs(10);
    while client(&pipe, &["list"]).status.code() != Some(2) {
        assert!(Instant::now() < deadline, "agent still answers after stop");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn openssh_pipe_is_served_on_request_and_a_holder_is_named() {
    let openssh = r"\\.\pipe\openssh-ssh-agent";
    let pipe = unique_pipe();
    let _agent = Foreground::start_with(&pipe, &["--openssh-pipe"]);
    let (_keys, key) = private_key("ed25519");
    let added = client(openssh, &["add", key.to_str().unwrap()]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    // The same agent behind both pipes.
    assert!(client(&pipe, &["list"]).status.success());
    let second = run(agentry().args([
        "start",
        "-D",
        "--no-window",
        "--openssh-pipe",
        "-a",
        &unique_pipe(),
    ]));
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second.stderr).contains("Stop-Service ssh-agent"),
        "{}",
        text(&second.stderr)
    );
}

#[test]
fn client_commands_over_wm_copydata() {
    let pipe = unique_pipe();
    let _agent = Foreground::start_with(&pipe, &["--window"]);
    let (_keys, key) = private_key("ed25519");
    let legacy = |args: &[&str]| run(agentry().args(["--transport", "copydata"]).args(args));
    let added = legacy(&["add", key.to_str().unwrap()]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let listed = legacy(&["list"]);
    assert!(
        text(&listed.stdout).contains("ED25519"),
        "{}",
        text(&listed.stderr)
    );
    let over_pipe =
        run(agentry()
            .env("SSH_AUTH_SOCK", &pipe)
            .args(["--transport", "pipe", "list"]));
    assert!(text(&over_pipe.stdout).contains("ED25519"));
    let second = run(agentry().args(["start", "-D", "-a", &unique_pipe()]));
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second.stderr).contains("\"Pageant\" window already exists"),
        "{}",
        text(&second.stderr)
    );
}

#[test]
fn the_agent_process_is_closed_to_other_programs() {
    use agentry_platform::windows::process::{process_sddl, USER_ACCESS};
    use agentry_platform::windows::security::current_user_sid;
    let pipe = unique_pipe();
    let agent = Foreground::start(&pipe);
    let sddl = process_sddl(agent.0.id()).expect("read the agent's DACL");
    let user = current_user_sid().unwrap().to_string_sid().unwrap();
    // Wine does not report the DACL's "protected" flag; Windows does.
    let lower = sddl.to_ascii_lowercase();
    let user_ace = format!("(a;;0x{USER_ACCESS:x};;;{user})").to_ascii_lowercase();
    assert!(
        lower.contains(&user_ace),
        "no limited ACE for the user: {sddl}"
    );
    assert!(
        !sddl.contains(&format!("(A;;GA;;;{user})")) && !sddl.contains(&format!("FA;;;{user})")),
        "the user has full access: {sddl}"
    );
    eprintln!("agent process DACL: {sddl}");
}

/// Signs with the agent's first identity (the plain key; `add` also loads its certificate)
/// over `pipe`; the reply's message type.
fn sign_over(pipe: &str) -> u8 {
    use agentry_core::proto::{Request, Response, SignRequest};
    use agentry_platform::client::AgentClient;
    let mut client = AgentClient::connect(Path::new(pipe)).expect("connect");
    let key_blob = match client.request(&Request::RequestIdentities).expect("list") {
        Response::Identities(ids) if !ids.is_empty() => ids[0].key_blob.clone(),
        other => panic!("expected identities: {other:?}"),
    };
    let sign = Request::Sign(SignRequest {
        key_blob,
        data: b"confirm-all test".to_vec(),
        flags: 0,
    });
    client.call(&sign.encode()).expect("sign")[0]
}

/// Presses a button on the agent's confirmation box `caption` once it appears.
fn answer(caption: &str, press: fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !press(caption) {
        assert!(Instant::now() < deadline, "no box titled {caption:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn confirm_all_asks_before_every_use_and_times_out_to_no() {
    use agentry_platform::windows::prompt::{close_with_no, confirm_caption, press_yes};
    const SIGN_RESPONSE: u8 = 14;
    const FAILURE: u8 = 5;
    let (_keys, key) = private_key("ed25519");
    // Without --confirm-all a key added without -c signs with no question.
    let plain = unique_pipe();
    let plain_agent = Foreground::start(&plain);
    let added = client(&plain, &["add", key.to_str().unwrap()]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert_eq!(sign_over(&plain), SIGN_RESPONSE);
    assert!(!close_with_no(&confirm_caption(plain_agent.0.id(), 1)));
    drop(plain_agent);

    let pipe = unique_pipe();
    let agent = Foreground::start_with(&pipe, &["--confirm-all", "--confirm-timeout", "3"]);
    let pid = agent.0.id();
    let added = client(&pipe, &["add", key.to_str().unwrap()]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    // The same key now asks, in a native box of the agent process: "Yes" signs, ...
    let signer = std::thread::spawn({
        let pipe = pipe.clone();
        move || sign_over(&pipe)
    });
    answer(&confirm_caption(pid, 1), press_yes);
    assert_eq!(signer.join().unwrap(), SIGN_RESPONSE);
    // ... "No" refuses, ...
    let signer = std::thread::spawn({
        let pipe = pipe.clone();
        move || sign_over(&pipe)
    });
    answer(&confirm_caption(pid, 2), close_with_no);
    assert_eq!(signer.join().unwrap(), FAILURE);
    // ... and nobody answering within --confirm-timeout refuses, closing the box (seen open).
    let third = confirm_caption(pid, 3);
    let watcher = std::thread::spawn({
        let third = third.clone();
        move || wait_for_box(&third, true)
    });
    let started = Instant::now();
    assert_eq!(sign_over(&pipe), FAILURE);
    let waited = started.elapsed();
    eprintln!("unanswered confirmation refused after {waited:?}");
    watcher.join().expect("the third box was shown");
    assert!(waited >= Duration::from_secs(3), "{waited:?}");
    assert!(waited < Duration::from_secs(20), "{waited:?}");
    wait_for_box(&third, false);
}

/// Waits (20 s at most) until the box titled `caption` is open, or closed when `open` is false.
fn wait_for_box(caption: &str, open: bool) {
    use agentry_platform::windows::prompt::confirm_box_open;
    let deadline = Instant::now() + Duration::from_secs(20);
    while confirm_box_open(caption) != open {
        assert!(
            Instant::now() < deadline,
            "the box titled {caption:?} is {}",
            if open { "not shown" } else { "still open" }
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_key_file_everyone_may_read_is_refused_like_win32_openssh_does() {
    let pipe = unique_pipe();
    let _agent = Foreground::start(&pipe);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_shared");
    let me = current_user_sid().unwrap().to_string_sid().unwrap();
    let mut file = SecurityDescriptor::from_sddl(&format!("D:P(A;;FA;;;{me})(A;;FR;;;WD)"))
        .unwrap()
        .create_file(&key)
        .unwrap();
    std::io::Write::write_all(&mut file, &std::fs::read(fixture("ed25519")).unwrap()).unwrap();
    drop(file);
    let added = client(&pipe, &["add", key.to_str().unwrap()]);
    assert_eq!(added.status.code(), Some(1), "{}", text(&added.stderr));
    let err = text(&added.stderr);
    assert!(
        err.contains("WARNING: UNPROTECTED PRIVATE KEY FILE!"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "Permissions for '{}' are too open.",
            key.display()
        )),
        "{err}"
    );
    assert!(err.contains("Everyone (S-1-1-0) may open it"), "{err}");
    let listed = client(&pipe, &["list"]);
    assert_eq!(listed.status.code(), Some(1), "the key was added anyway");
}

/// A child process killed (and reaped) on drop, so a failed assertion leaves none behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn relay(pipe: &str) -> Reaped {
    Reaped(
        agentry()
            .args(["relay", "--pipe", pipe])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn agentry relay"),
    )
}

#[test]
fn relay_carries_frames_between_standard_streams_and_the_pipe() {
    use std::io::{Read, Write};
    let pipe = unique_pipe();
    let _agent = Foreground::start(&pipe);
    let (_keys, key) = private_key("ed25519");
    let added = client(&pipe, &["add", key.to_str().unwrap()]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let mut relay = relay(&pipe);
    // Two requests at once, as a client may pipeline them; then the end of input.
    let list = [0u8, 0, 0, 1, 11];
    let mut stdin = relay.0.stdin.take().unwrap();
    stdin.write_all(&[list, list].concat()).unwrap();
    drop(stdin);
    let mut replies = Vec::new();
    relay
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut replies)
        .unwrap();
    let status = relay.0.wait().unwrap();
    assert!(status.success(), "relay exited with {status}");
    // Each reply: uint32 length, IDENTITIES_ANSWER (12), one identity.
    let first_len = u32::from_be_bytes(replies[..4].try_into().unwrap()) as usize;
    assert_eq!(replies.len(), 2 * (4 + first_len), "two whole replies");
    assert_eq!(replies[4..9], [12, 0, 0, 0, 1]);
    assert_eq!(replies[..4 + first_len], replies[4 + first_len..]);
}

#[test]
fn relay_stops_at_a_frame_the_agent_would_refuse() {
    use std::io::{Read, Write};
    let pipe = unique_pipe();
    let _agent = Foreground::start(&pipe);
    let mut relay = relay(&pipe);
    let mut stdin = relay.0.stdin.take().unwrap();
    stdin.write_all(&[0, 0, 0, 0]).unwrap();
    let status = relay.0.wait().unwrap();
    drop(stdin);
    let mut stderr = String::new();
    relay
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("standard input"), "{stderr}");
}

/// `agentry relay --mux` as `agentry bridge` drives it: the agent's confirmation box names the
/// Linux client the bridge reported, on its own line, and "Yes" signs.
#[test]
fn a_prompt_for_a_bridged_connection_names_the_reported_linux_program() {
    use agentry_core::mux::{MuxFrame, ReportedClient, MUX_VERSION};
    use agentry_core::proto::{Request, SignRequest};
    use agentry_platform::frame_io::read_mux_frame;
    use agentry_platform::windows::prompt::{confirm_caption, dialog_text, press_yes};
    use std::io::Write;
    let pipe = unique_pipe();
    let agent = Foreground::start_with(&pipe, &["--confirm-all", "--confirm-timeout", "60"]);
    let (_keys, key) = private_key("ed25519");
    let added = client(&pipe, &["add", key.to_str().unwrap()]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let mut relay = agentry()
        .args(["relay", "--mux", "--pipe", &pipe])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = relay.stdin.take().unwrap();
    let mut output = relay.stdout.take().unwrap();
    let mut send = |frame: MuxFrame| input.write_all(&frame.encode()).unwrap();
    send(MuxFrame::Hello {
        version: MUX_VERSION,
    });
    send(MuxFrame::Open {
        id: 7,
        client: ReportedClient {
            pid: 4242,
            program: "ssh".into(),
            distribution: "Debian".into(),
        },
    });
    send(MuxFrame::Data {
        id: 7,
        message: Request::RequestIdentities.encode().to_vec().into(),
    });
    let mut reply = || match read_mux_frame(&mut output).unwrap() {
        Some(MuxFrame::Data { id: 7, message }) => message,
        Some(MuxFrame::Hello { .. }) => match read_mux_frame(&mut output).unwrap() {
            Some(MuxFrame::Data { id: 7, message }) => message,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let listed = reply();
    let key_blob = match agentry_core::proto::Response::decode(&listed).unwrap() {
        agentry_core::proto::Response::Identities(ids) => ids[0].key_blob.clone(),
        other => panic!("{other:?}"),
    };
    send(MuxFrame::Data {
        id: 7,
        message: Request::Sign(SignRequest {
            key_blob,
            data: b"bridged".to_vec(),
            flags: 0,
        })
        .encode()
        .to_vec()
        .into(),
    });
    let caption = confirm_caption(agent.0.id(), 1);
    wait_for_box(&caption, true);
    let shown = dialog_text(&caption).expect("the box is open");
    eprintln!("the confirmation box says:\n{shown}");
    assert!(
        shown.contains(
            "\nReported by the bridge (not verified): ssh (pid 4242) in WSL Debian, via agentry bridge"
        ),
        "{shown}"
    );
    answer(&caption, press_yes);
    assert_eq!(reply()[0], 14, "signed");
    drop(input);
    let out = relay.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}
