//! systemd socket activation (`sd_listen_fds` without libsystemd): when `LISTEN_PID` is our pid
//! and `LISTEN_FDS` is at least 1, the listening Unix socket is file descriptor 3. The
//! variables are removed so children do not inherit them, and the descriptor is marked
//! close-on-exec.

use std::io;
use std::os::unix::io::FromRawFd;
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, Ordering};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;

static TAKEN: AtomicBool = AtomicBool::new(false);

/// The socket systemd passed us, if any. Call once, before starting threads that read the
/// environment.
pub fn listener_from_systemd() -> io::Result<Option<UnixListener>> {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|pid| pid == std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    if !for_us || count == 0 {
        return Ok(None);
    }
    if count > 1 {
        tracing::warn!(target: "agentry::unix", count, "systemd passed several sockets; using the first");
    }
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Err(io::Error::other("the systemd socket was already taken"));
    }
    // SAFETY: fcntl on an integer descriptor touches no memory; it fails with EBADF if fd 3 is
    // not open, which we report.
    if unsafe { libc::fcntl(LISTEN_FDS_START, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: systemd handed fd 3 to this process for us to own (LISTEN_PID is our pid), it is
    // open (fcntl above succeeded), and TAKEN guarantees no second owner is ever created.
    let listener = unsafe { UnixListener::from_raw_fd(LISTEN_FDS_START) };
    listener.local_addr().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("systemd passed a socket that is not a Unix socket: {e}"),
        )
    })?;
    Ok(Some(listener))
}
