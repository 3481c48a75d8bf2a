//! The agent notices when its socket has gone from its path (`AgentSocket::watch`, on tokio's
//! paused clock): removed, or replaced by another file, within two check intervals; a socket
//! passed in by systemd is never watched. What took the socket's place is left alone when the
//! socket is dropped, and so is a directory that took the place of the one the agent created.
#![cfg(unix)]

use agentry_platform::unix::socket_watch::SOCKET_CHECK_INTERVAL;
use agentry_platform::unix::{bind_agent_socket, AgentSocket};
use std::os::unix::fs::PermissionsExt;

fn private_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_removed_or_replaced_socket_is_noticed_within_two_intervals() {
    for replaced in [false, true] {
        let dir = private_tempdir();
        let path = dir.path().join("agent.sock");
        let socket = bind_agent_socket(Some(&path)).unwrap();
        let gone = tokio::spawn(socket.watch().gone());
        tokio::time::sleep(SOCKET_CHECK_INTERVAL * 3).await;
        assert!(!gone.is_finished(), "the socket is still there");
        std::fs::remove_file(&path).unwrap();
        if replaced {
            std::fs::write(&path, b"someone else's").unwrap();
        }
        let why = tokio::time::timeout(SOCKET_CHECK_INTERVAL * 2, gone)
            .await
            .expect("noticed within two intervals")
            .unwrap();
        let expected = if replaced {
            "was replaced by another file"
        } else {
            "is gone"
        };
        assert!(why.contains(expected), "{why}");
        assert!(why.contains(&path.display().to_string()), "{why}");
        drop(socket);
        if replaced {
            assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_socket_systemd_passed_in_is_not_watched() {
    let dir = private_tempdir();
    let path = dir.path().join("activated.sock");
    let socket = AgentSocket::adopt(std::os::unix::net::UnixListener::bind(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    let watched = tokio::time::timeout(SOCKET_CHECK_INTERVAL * 10, socket.watch().gone()).await;
    assert!(watched.is_err(), "{watched:?}");
}

#[test]
fn a_directory_that_replaced_the_created_one_is_left_alone() {
    let dir = private_tempdir();
    let sub = dir.path().join("agentry");
    let socket = bind_agent_socket(Some(&sub.join("agent.sock"))).unwrap();
    std::fs::remove_dir_all(&sub).unwrap();
    std::fs::create_dir(&sub).unwrap();
    drop(socket);
    assert!(sub.is_dir(), "someone else's directory was removed");
}
