//! The WSL bridge end to end, from the Linux side with real OpenSSH tools, to the real Windows
//! `agentry.exe` under Wine (`agentry_tests::wine`): `ssh-add -l`, `ssh-add KEY` (then seen by
//! `agentry.exe list` over the pipe), `ssh-keygen -Y sign`/`-Y verify`, an `ssh` login to a
//! loopback sshd and an `ssh -A` hop, through socat with the raw `agentry.exe relay` and through
//! `agentry bridge`; the Linux program named to the Windows agent; killing the relay in the
//! middle of a request; malformed mux frames both ways; 1,000 connections; `-s` reusing a bridge
//! already answering, and `agentry stop`.
#![cfg(target_os = "linux")]

use agentry_core::mux::{MuxFrame, ReportedClient, MUX_VERSION};
use agentry_platform::frame_io::{read_frame, read_mux_frame, write_frame};
use agentry_tests::chain::{SshChain, CHAIN_END};
use agentry_tests::fixtures::{key_path, private_key_copy};
use agentry_tests::server::private_tempdir;
use agentry_tests::sshd::{current_user, TestSshd};
use agentry_tests::tools::{
    agent_command, describe, open_descriptors, require_tool, run, ssh_keygen_verify,
    without_user_config,
};
use agentry_tests::wine::{WindowsAgent, Wine};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn agentry() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentry"));
    without_user_config(&mut command)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SSH_AGENT_PID")
        .stdin(Stdio::null());
    command
}

/// A process killed (and reaped) on drop, with a temp directory for its files.
struct Running {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `agentry bridge -D` to `agent`'s pipe through `wine agentry.exe relay --mux`, listening.
fn start_bridge(wine: &Wine, agent: &WindowsAgent, distribution: Option<&str>) -> Running {
    let dir = private_tempdir();
    let socket = dir.path().join("bridge.sock");
    let log = dir.path().join("bridge.log");
    let mut command = agentry();
    command
        .arg("bridge")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .arg("--")
        .args(wine.relay_argv(&["--mux", "--pipe", agent.pipe()]))
        .envs(wine.env())
        .env_remove("WSL_DISTRO_NAME")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    if let Some(name) = distribution {
        command.env("WSL_DISTRO_NAME", name);
    }
    let mut child = command.spawn().expect("start agentry bridge");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.starts_with(&format!("SSH_AUTH_SOCK={};", socket.display())),
        "{first:?}"
    );
    Running {
        child,
        socket,
        log,
        _dir: dir,
    }
}

/// `socat UNIX-LISTEN:SOCKET,fork EXEC:relay.sh`, relay.sh running `wine agentry.exe relay`.
fn start_socat(wine: &Wine, agent: &WindowsAgent) -> Running {
    use std::os::unix::fs::PermissionsExt;
    let socat = require_tool("socat", "socat");
    let dir = private_tempdir();
    let socket = dir.path().join("socat.sock");
    let script = dir.path().join("relay.sh");
    let quoted: Vec<String> = wine
        .relay_argv(&["--pipe", agent.pipe()])
        .iter()
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    std::fs::write(&script, format!("#!/bin/sh\nexec {}\n", quoted.join(" "))).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let log = dir.path().join("socat.log");
    let child = Command::new(socat)
        .arg(format!("UNIX-LISTEN:{},fork", socket.display()))
        .arg(format!("EXEC:{}", script.display()))
        .envs(wine.env())
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start socat");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "socat did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Running {
        child,
        socket,
        log,
        _dir: dir,
    }
}

fn tool(name: &str) -> PathBuf {
    require_tool(name, "openssh-client")
}

fn ed25519_pub() -> String {
    std::fs::read_to_string(key_path("ed25519.pub")).unwrap()
}

/// Every OpenSSH check through `socket`, which leads to `agent`.
fn openssh_tools_work(wine: &Wine, agent: &WindowsAgent, socket: &Path, what: &str) {
    let empty = run(agent_command(&tool("ssh-add"), socket).arg("-l"));
    assert_eq!(empty.status.code(), Some(1), "{what}: {}", describe(&empty));
    assert!(
        String::from_utf8_lossy(&empty.stdout).contains("no identities"),
        "{what}: {}",
        describe(&empty)
    );
    let keys = private_tempdir();
    let key = private_key_copy(keys.path(), "ed25519");
    let added = run(agent_command(&tool("ssh-add"), socket).arg(&key));
    assert!(added.status.success(), "{what}: {}", describe(&added));
    // Seen by a Windows client straight over the pipe.
    let listed = run(wine.agentry(&["list"]).env("SSH_AUTH_SOCK", agent.pipe()));
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("agentry-test-ed25519"),
        "{what}: agentry.exe list: {}",
        describe(&listed)
    );

    let message = keys.path().join("message");
    std::fs::write(&message, b"signed through the WSL bridge\n").unwrap();
    let public = keys.path().join("ed25519.pub");
    std::fs::copy(key_path("ed25519.pub"), &public).unwrap();
    let signed = run(agent_command(&tool("ssh-keygen"), socket)
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(&public)
        .arg(&message));
    assert!(signed.status.success(), "{what}: {}", describe(&signed));
    let verified = ssh_keygen_verify(
        &tool("ssh-keygen"),
        &public,
        &message,
        &keys.path().join("allowed_signers"),
    );
    assert!(verified.status.success(), "{what}: {}", describe(&verified));

    let sshd = TestSshd::start(&[ed25519_pub()]);
    let login = run(agent_command(&tool("ssh"), socket)
        .env("HOME", keys.path())
        .args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
        .args([
            "-o",
            "IdentityFile=/dev/null",
            "-o",
            "PreferredAuthentications=publickey",
        ])
        .arg("-p")
        .arg(sshd.port().to_string())
        .arg(format!("{}@127.0.0.1", current_user()))
        .arg("echo agentry-login-ok"));
    assert!(
        String::from_utf8_lossy(&login.stdout).contains("agentry-login-ok"),
        "{what}: ssh: {}\nsshd log:\n{}",
        describe(&login),
        sshd.log()
    );

    let chain = SshChain::start(&["a", "b"], &[], &[ed25519_pub()]);
    let hop = chain.hop(socket, &["host_a", "host_b"]);
    let out = String::from_utf8_lossy(&hop.stdout);
    assert!(
        hop.status.success() && out.contains(CHAIN_END) && out.contains("agentry-test-ed25519"),
        "{what}: ssh -A hop: {}\n{}",
        describe(&hop),
        chain.logs()
    );
}

#[test]
fn openssh_tools_through_socat_and_the_raw_relay() {
    let Some(wine) = Wine::find() else { return };
    let agent = WindowsAgent::start(&wine, &[], "");
    let socat = start_socat(&wine, &agent);
    openssh_tools_work(&wine, &agent, &socat.socket, "socat + agentry.exe relay");
    drop(socat);
}

#[test]
fn openssh_tools_through_the_bridge() {
    let Some(wine) = Wine::find() else { return };
    let agent = WindowsAgent::start(&wine, &[], "");
    let bridge = start_bridge(&wine, &agent, None);
    openssh_tools_work(&wine, &agent, &bridge.socket, "agentry bridge");
    assert!(bridge.log().contains("relay running"), "{}", bridge.log());
}

#[test]
fn the_windows_agent_hears_which_linux_program_asked() {
    let Some(wine) = Wine::find() else { return };
    let agent = WindowsAgent::start(&wine, &[], "agentry::proto=debug,info");
    let bridge = start_bridge(&wine, &agent, Some("TestDistro"));
    let child = agent_command(&tool("ssh-add"), &bridge.socket)
        .arg("-l")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _ = child.wait_with_output();
    agent.wait_for_log(&format!(
        "reported=ssh-add (pid {pid}) in WSL TestDistro, via agentry bridge"
    ));
}

/// The pids of `pid`'s children.
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        children.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    children
}

/// Waits (120 s at most) for the one relay process the bridge runs.
fn relay_of(bridge: &Running) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let [relay] = children_of(bridge.child.id())[..] {
            return relay;
        }
        assert!(Instant::now() < deadline, "no relay: {}", bridge.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for `child`, killing it after 120 s (so a hang fails instead of blocking the suite).
fn wait_bounded(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after 120 s: {:?}", child.wait_with_output());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn killing_the_relay_fails_the_request_in_flight_and_a_new_relay_serves() {
    let Some(wine) = Wine::find() else { return };
    // Every use asks, and nobody answers: a signature stays in flight until the relay dies.
    let agent = WindowsAgent::start(
        &wine,
        &["--confirm-all", "--confirm-timeout", "300"],
        "agentry::proto=debug,info",
    );
    let bridge = start_bridge(&wine, &agent, None);
    let keys = private_tempdir();
    let key = private_key_copy(keys.path(), "ed25519");
    let added = run(agent_command(&tool("ssh-add"), &bridge.socket).arg(&key));
    assert!(added.status.success(), "{}", describe(&added));
    let message = keys.path().join("message");
    std::fs::write(&message, b"never signed\n").unwrap();
    let public = keys.path().join("ed25519.pub");
    std::fs::copy(key_path("ed25519.pub"), &public).unwrap();
    let signer = agent_command(&tool("ssh-keygen"), &bridge.socket)
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(&public)
        .arg(&message)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its connection reached the agent; its sign request follows at once and waits there.
    agent.wait_for_log(&format!("reported=ssh-keygen (pid {})", signer.id()));
    std::thread::sleep(Duration::from_millis(500));
    let relay = relay_of(&bridge);
    let killed = Instant::now();
    let status = Command::new("kill")
        .args(["-KILL", &relay.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = wait_bounded(signer);
    eprintln!(
        "the request in flight failed {:?} after the relay was killed",
        killed.elapsed()
    );
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(!message.with_extension("sig").exists());
    // A new relay (a new process) serves the next connection, and the key is still there.
    let listed = run(agent_command(&tool("ssh-add"), &bridge.socket).arg("-l"));
    assert!(
        listed.status.success()
            && String::from_utf8_lossy(&listed.stdout).contains("agentry-test-ed25519"),
        "{}\n{}",
        describe(&listed),
        bridge.log()
    );
    assert_ne!(relay_of(&bridge), relay);
    assert!(bridge.log().contains("restarting in"), "{}", bridge.log());
}

/// One `REQUEST_IDENTITIES` on a fresh connection to `socket`; the reply's type.
fn list_once(socket: &Path) -> u8 {
    let mut stream = UnixStream::connect(socket).unwrap();
    write_frame(&mut stream, &[11]).unwrap();
    read_frame(&mut stream).unwrap().expect("a reply")[0]
}

fn descriptors_of_a_process_we_own(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn a_thousand_connections_through_the_bridge() {
    let Some(wine) = Wine::find() else { return };
    let agent = WindowsAgent::start(&wine, &[], "");
    let bridge = start_bridge(&wine, &agent, None);
    assert_eq!(list_once(&bridge.socket), 12);
    let relay = relay_of(&bridge);
    let (bridge_before, relay_before) = (
        open_descriptors(bridge.child.id()),
        descriptors_of_a_process_we_own(relay),
    );
    let started = Instant::now();
    for _ in 0..1000 {
        assert_eq!(list_once(&bridge.socket), 12);
    }
    eprintln!(
        "1000 connections through the bridge in {:?}",
        started.elapsed()
    );
    // Closes are asynchronous: one more round trip lets the last ones through.
    assert_eq!(list_once(&bridge.socket), 12);
    let (bridge_after, relay_after) = (
        open_descriptors(bridge.child.id()),
        descriptors_of_a_process_we_own(relay),
    );
    eprintln!("descriptors: bridge {bridge_before} -> {bridge_after}, relay {relay_before} -> {relay_after}");
    assert!(
        bridge_after <= bridge_before + 4,
        "bridge leaks descriptors"
    );
    assert!(relay_after <= relay_before + 16, "relay leaks descriptors");
    assert_eq!(relay_of(&bridge), relay, "one relay for every connection");
}

/// `wine agentry.exe relay --mux --pipe PIPE` with its stdin and stdout ours.
fn spawn_relay(wine: &Wine, pipe: &str) -> Child {
    let mut command = Command::new(wine.wine());
    command
        .args(wine.relay_argv(&["--mux", "--pipe", pipe]).iter().skip(1))
        .envs(wine.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().unwrap()
}

#[test]
fn the_relay_speaks_the_mux_and_ends_it_on_a_malformed_frame() {
    let Some(wine) = Wine::find() else { return };
    let agent = WindowsAgent::start(&wine, &[], "");
    let cases: [(&str, &[u8]); 3] = [
        ("oversized", &u32::MAX.to_be_bytes()),
        ("unknown type", &[0, 0, 0, 5, 9, 0, 0, 0, 1]),
        ("empty data", &[0, 0, 0, 5, 3, 0, 0, 0, 1]),
    ];
    for (what, bad) in cases {
        let mut relay = spawn_relay(&wine, agent.pipe());
        let mut input = relay.stdin.take().unwrap();
        let mut output = relay.stdout.take().unwrap();
        assert!(matches!(
            read_mux_frame(&mut output).unwrap(),
            Some(MuxFrame::Hello {
                version: MUX_VERSION
            })
        ));
        let client = ReportedClient {
            pid: 1,
            program: "test".into(),
            distribution: String::new(),
        };
        for frame in [
            MuxFrame::Hello {
                version: MUX_VERSION,
            },
            MuxFrame::Open { id: 1, client },
            MuxFrame::Data {
                id: 1,
                message: vec![11].into(),
            },
        ] {
            input.write_all(&frame.encode()).unwrap();
        }
        let Some(MuxFrame::Data { id: 1, message }) = read_mux_frame(&mut output).unwrap() else {
            panic!("{what}: no reply");
        };
        assert_eq!(message[0], 12, "{what}");
        input.write_all(bad).unwrap();
        input.flush().unwrap();
        let out = wait_bounded(relay);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The relay exits 1. Under load, Wine has reported that exit as a death by signal once
        // (a full scripts/test run, 5 December; not reproduced in 20 runs alone or beside two
        // busy loops): Wine's teardown of the relay's other threads, not the relay carrying on.
        let signal = std::os::unix::process::ExitStatusExt::signal(&out.status);
        assert!(
            out.status.code() == Some(1) || signal.is_some(),
            "{what}: exit {:?}, signal {signal:?}: {stderr}",
            out.status.code()
        );
        if signal.is_some() {
            eprintln!("{what}: the relay's exit was reported as signal {signal:?} (Wine)");
        }
        assert!(
            stderr.contains("mux from the bridge:") && stderr.contains("ending the mux"),
            "{what}: {stderr}"
        );
        let mut rest = Vec::new();
        let _ = output.read_to_end(&mut rest);
    }
}

#[test]
fn a_failed_pipe_connection_closes_only_its_logical_connection() {
    let Some(wine) = Wine::find() else { return };
    let agent = WindowsAgent::start(&wine, &[], "");
    let mut relay = spawn_relay(&wine, agent.pipe());
    let mut input = relay.stdin.take().unwrap();
    let mut output = relay.stdout.take().unwrap();
    assert!(read_mux_frame(&mut output).unwrap().is_some());
    let send = |input: &mut std::process::ChildStdin, frame: MuxFrame| {
        input.write_all(&frame.encode()).unwrap();
    };
    send(
        &mut input,
        MuxFrame::Hello {
            version: MUX_VERSION,
        },
    );
    send(
        &mut input,
        MuxFrame::Open {
            id: 1,
            client: ReportedClient::default(),
        },
    );
    let list = |input: &mut std::process::ChildStdin, id| {
        send(
            input,
            MuxFrame::Data {
                id,
                message: vec![11].into(),
            },
        );
    };
    list(&mut input, 1);
    assert!(matches!(
        read_mux_frame(&mut output).unwrap(),
        Some(MuxFrame::Data { id: 1, .. })
    ));
    // The agent goes: connection 1's pipe connection fails, and only connection 1 is closed.
    let pipe = agent.pipe().to_owned();
    drop(agent);
    list(&mut input, 1);
    assert!(matches!(
        read_mux_frame(&mut output).unwrap(),
        Some(MuxFrame::Close { id: 1 })
    ));
    // The relay goes on: a new agent on the same pipe serves connection 2.
    let _agent = WindowsAgent::start_on(&wine, &pipe, &[], "");
    send(
        &mut input,
        MuxFrame::Open {
            id: 2,
            client: ReportedClient::default(),
        },
    );
    list(&mut input, 2);
    let Some(MuxFrame::Data { id: 2, message }) = read_mux_frame(&mut output).unwrap() else {
        panic!("connection 2 not served");
    };
    assert_eq!(message[0], 12);
    drop(input);
    let out = wait_bounded(relay);
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn a_relay_that_breaks_the_framing_is_restarted_and_requests_fail_meanwhile() {
    // A "relay" that says a hello and then sends a frame longer than any allowed, every time.
    let dir = private_tempdir();
    let socket = dir.path().join("bridge.sock");
    let log = dir.path().join("bridge.log");
    let mut child = agentry()
        .args(["bridge", "-D", "-a"])
        .arg(&socket)
        .args(["--", "sh", "-c"])
        .arg(r"printf '\000\000\000\011\001\000\000\000\000\000\000\000\001\377\377\377\377'; sleep 30")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let bridge = Running {
        child,
        socket,
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !bridge.log().contains("restarting in") {
        assert!(Instant::now() < deadline, "{}", bridge.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        bridge.log().contains("mux from the relay:") && bridge.log().contains("ending the mux"),
        "{}",
        bridge.log()
    );
    // Served only through a relay that never holds: the request fails, nothing hangs.
    let listed = run(agent_command(&tool("ssh-add"), &bridge.socket).arg("-l"));
    assert_ne!(listed.status.code(), Some(0), "{}", describe(&listed));
}

#[test]
fn without_a_relay_command_or_agentry_exe_the_bridge_says_how_to_set_it() {
    let dir = private_tempdir();
    let out = run(agentry()
        .args(["bridge", "-D", "-a"])
        .arg(dir.path().join("b.sock"))
        .env_remove("AGENTRY_WINDOWS_EXE")
        .env("PATH", dir.path()));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no agentry.exe found: set AGENTRY_WINDOWS_EXE"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn bridge_s_reuses_a_bridge_already_answering_and_stop_ends_it() {
    let Some(wine) = Wine::find() else { return };
    let agent = WindowsAgent::start(&wine, &[], "");
    let dir = private_tempdir();
    let socket = dir.path().join("bridge.sock");
    let start = || {
        run(agentry()
            .args(["bridge", "-s", "-a"])
            .arg(&socket)
            .arg("--")
            .args(wine.relay_argv(&["--mux", "--pipe", agent.pipe()]))
            .envs(wine.env()))
    };
    let first = start();
    assert!(first.status.success(), "{}", describe(&first));
    let second = start();
    assert!(second.status.success(), "{}", describe(&second));
    assert_eq!(
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&second.stdout),
        "the same variables, the same bridge"
    );
    let pid: u32 = String::from_utf8_lossy(&first.stdout)
        .split("SSH_AGENT_PID=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|pid| pid.parse().ok())
        .expect("a pid");
    assert_eq!(list_once(&socket), 12);
    let stopped = run(agentry()
        .args(["stop", "-s"])
        .env("SSH_AGENT_PID", pid.to_string()));
    assert!(stopped.status.success(), "{}", describe(&stopped));
    let deadline = Instant::now() + Duration::from_secs(20);
    while Path::new(&format!("/proc/{pid}")).exists() || socket.exists() {
        assert!(Instant::now() < deadline, "the bridge did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_bridge_serves_the_socket_systemd_passes_it() {
    // As `agentry install --bridge`'s units run it: systemd binds, the bridge only serves.
    let Some(wine) = Wine::find() else { return };
    let agent = WindowsAgent::start(&wine, &[], "");
    let dir = private_tempdir();
    let socket = dir.path().join("activated.sock");
    let log = dir.path().join("bridge.log");
    // systemd-socket-activate passes on only the variables named with -E.
    let mut passed = Vec::new();
    for (name, value) in wine.env() {
        passed.push("-E".to_owned());
        passed.push(format!("{name}={}", value.to_string_lossy()));
    }
    let child = Command::new(require_tool("systemd-socket-activate", "systemd"))
        .arg("-l")
        .arg(&socket)
        .args(passed)
        .arg(env!("CARGO_BIN_EXE_agentry"))
        .args(["bridge", "--foreground", "--"])
        .args(wine.relay_argv(&["--mux", "--pipe", agent.pipe()]))
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let bridge = Running {
        child,
        socket: socket.clone(),
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "not listening: {}", bridge.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..2 {
        let listed = run(agent_command(&tool("ssh-add"), &socket).arg("-l"));
        assert_eq!(
            listed.status.code(),
            Some(1),
            "{}\n{}",
            describe(&listed),
            bridge.log()
        );
        assert!(
            String::from_utf8_lossy(&listed.stdout).contains("no identities"),
            "{}\n{}",
            describe(&listed),
            bridge.log()
        );
    }
}
