//! Shutdown by signal. SIGTERM under load: the real binary, started with `start -D -a
//! DIR/agent.sock`, is kept busy by several client loops listing and signing, then sent SIGTERM.
//! It must exit 0 and leave no socket file behind. Client errors once the agent is going away
//! are expected and ignored. SIGINT and SIGHUP: the same clean exit, and the directory the agent
//! created at the default place is removed with the socket.
#![cfg(unix)]

use agentry_core::frame::{body_len_from_header, encode_frame, HEADER_LEN};
use agentry_core::proto::{msg, Request, SignRequest};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

/// One request/reply exchange; `None` once the agent is gone.
fn call(stream: &mut UnixStream, body: &[u8]) -> Option<Vec<u8>> {
    stream.write_all(&encode_frame(body)).ok()?;
    let mut header = [0u8; HEADER_LEN];
    stream.read_exact(&mut header).ok()?;
    let mut reply = vec![0u8; body_len_from_header(u32::from_be_bytes(header)).ok()?];
    stream.read_exact(&mut reply).ok()?;
    Some(reply)
}

fn wait_for_socket(socket: &Path) -> UnixStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(stream) = UnixStream::connect(socket) {
            return stream;
        }
        assert!(
            Instant::now() < deadline,
            "the agent never started listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The agent's process, killed on drop unless it has exited: a failing test leaves none behind.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to 15 s for the agent to exit after `signal`, failing if it does not (a liveness
/// bound; the agent is then killed on drop).
fn wait_for_exit(agent: &mut Agent, signal: &str) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = agent.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "agentry did not exit within 15 s of {signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `agentry start -D` with `args`, quiet, no agent variables inherited.
fn start_agent(args: &[&OsStr], runtime_dir: Option<&Path>) -> Agent {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentry"));
    agentry_tests::tools::without_user_config(&mut command)
        .args(["start", "-D"])
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("XDG_RUNTIME_DIR")
        .env("AGENTRY_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let Some(dir) = runtime_dir {
        command.env("XDG_RUNTIME_DIR", dir);
    }
    Agent(command.spawn().expect("start agentry"))
}

#[test]
fn sigterm_during_load_exits_cleanly_and_removes_the_socket() {
    let dir = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap();
    let socket = dir.path().join("agent.sock");
    let mut child = start_agent(&["-a".as_ref(), socket.as_os_str()], None);

    let mut first = wait_for_socket(&socket);
    let add = std::fs::read(fixture("requests/ssh-add-ed25519.bin")).unwrap();
    assert_eq!(call(&mut first, &add), Some(vec![msg::SUCCESS]));
    let public = ssh_key::PublicKey::read_openssh_file(fixture("keys/ed25519.pub")).unwrap();
    let sign = Request::Sign(SignRequest {
        key_blob: ssh_encoding::Encode::encode_vec(public.key_data()).unwrap(),
        data: b"shutdown under load".to_vec(),
        flags: 0,
    })
    .encode()
    .to_vec();

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let loops: Vec<_> = (0..4)
        .map(|_| {
            let (socket, sign, stop, served) =
                (socket.clone(), sign.clone(), stop.clone(), served.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut stream) = UnixStream::connect(&socket) else {
                        return;
                    };
                    for _ in 0..10 {
                        let listed = call(&mut stream, &[msg::REQUEST_IDENTITIES]);
                        let signed = call(&mut stream, &sign);
                        if listed.is_none() || signed.is_none() {
                            return;
                        }
                        served.fetch_add(2, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let loaded = Instant::now() + Duration::from_secs(10);
    while served.load(Ordering::Relaxed) < 200 {
        assert!(Instant::now() < loaded, "the client loops made no progress");
        std::thread::sleep(Duration::from_millis(10));
    }

    agentry_platform::unix::process::terminate_process(child.0.id()).expect("send SIGTERM");
    let status = wait_for_exit(&mut child, "SIGTERM");
    stop.store(true, Ordering::Relaxed);
    for client in loops {
        client.join().unwrap();
    }
    drop(first);
    assert!(status.success(), "agentry exited with {status}");
    assert!(!socket.exists(), "{} was left behind", socket.display());
}

#[test]
fn sigint_and_sighup_also_stop_the_agent_and_remove_its_directory() {
    for signal in ["INT", "HUP"] {
        let runtime = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .unwrap();
        // The default place: the agent creates `agentry/` itself, so it must remove it too.
        let socket = runtime.path().join("agentry/agent.sock");
        let mut child = start_agent(&[], Some(runtime.path()));
        let mut stream = wait_for_socket(&socket);
        assert!(call(&mut stream, &[msg::REQUEST_IDENTITIES]).is_some());
        drop(stream);

        let sent = Command::new("kill")
            .args(["-s", signal, &child.0.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -s {signal}");
        let status = wait_for_exit(&mut child, &format!("SIG{signal}"));
        assert!(
            status.success(),
            "SIG{signal}: agentry exited with {status}"
        );
        assert!(!socket.exists(), "SIG{signal}: socket left behind");
        assert!(
            !runtime.path().join("agentry").exists(),
            "SIG{signal}: directory left behind"
        );
    }
}
