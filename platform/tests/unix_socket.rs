//! Socket path rules of `bind_agent_socket`: private directory, 0600 socket, stale socket
//! replaced, live socket refused, cleanup on drop.
#![cfg(unix)]

use agentry_platform::unix::{bind_agent_socket, SocketError};
use std::os::unix::fs::PermissionsExt;

fn private_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn socket_is_0600_and_removed_on_drop() {
    let dir = private_tempdir();
    let path = dir.path().join("agent.sock");
    let socket = bind_agent_socket(Some(&path)).unwrap();
    assert_eq!(socket.path(), path);
    assert_eq!(mode(&path), 0o600);
    drop(socket);
    assert!(!path.exists(), "socket left behind");
}

#[test]
fn default_temp_directory_is_private_and_removed_on_drop() {
    // Without XDG_RUNTIME_DIR the socket goes to a fresh /tmp/agentry-XXXXXX directory.
    let socket = bind_agent_socket_in_temp();
    let dir = socket.path().parent().unwrap().to_owned();
    assert!(dir
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("agentry-"));
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(
        socket.path().file_name().unwrap().to_str().unwrap(),
        format!("agent.{}", std::process::id())
    );
    drop(socket);
    assert!(!dir.exists(), "temp directory left behind");
}

fn bind_agent_socket_in_temp() -> agentry_platform::unix::AgentSocket {
    // No other test in this binary reads the environment, and std serialises env access.
    std::env::remove_var("XDG_RUNTIME_DIR");
    bind_agent_socket(None).unwrap()
}

#[test]
fn created_directory_is_0700_and_removed_on_drop() {
    let dir = private_tempdir();
    let sub = dir.path().join("agentry");
    let path = sub.join("agent.sock");
    let socket = bind_agent_socket(Some(&path)).unwrap();
    assert_eq!(mode(&sub), 0o700);
    drop(socket);
    assert!(!sub.exists(), "created directory left behind");
}

#[test]
fn group_readable_directory_is_refused() {
    let dir = private_tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
    let err = bind_agent_socket(Some(&dir.path().join("s"))).unwrap_err();
    assert!(matches!(err, SocketError::UnsafeDirectory { .. }), "{err}");
    assert!(err.to_string().contains("0750"), "{err}");
}

#[test]
fn live_socket_is_refused_and_stale_one_replaced() {
    let dir = private_tempdir();
    let path = dir.path().join("agent.sock");
    let first = bind_agent_socket(Some(&path)).unwrap();
    let err = bind_agent_socket(Some(&path)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("an agent is already listening at {}", path.display())
    );
    // A socket file nobody listens on any more.
    std::mem::forget(first);
    let stale = std::os::unix::net::UnixListener::bind(dir.path().join("other")).unwrap();
    drop(stale);
    std::fs::rename(dir.path().join("other"), &path).unwrap();
    let second = bind_agent_socket(Some(&path)).unwrap();
    assert!(std::os::unix::net::UnixStream::connect(second.path()).is_ok());
}

#[test]
fn regular_file_is_not_replaced() {
    let dir = private_tempdir();
    let path = dir.path().join("agent.sock");
    std::fs::write(&path, b"keep me").unwrap();
    let err = bind_agent_socket(Some(&path)).unwrap_err();
    assert!(matches!(err, SocketError::NotASocket(_)), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
}
