//! Process-level services for the agent and its launcher: hardening (no core dumps, no ptrace
//! by other processes of the same user on Linux), the open-file limit, detaching a re-executed daemon into its own
//! session with its standard streams on `/dev/null`, and signalling a running agent.

use std::io;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Keeps key material out of core dumps and away from same-user debuggers: `RLIMIT_CORE` 0
/// everywhere and, on Linux, `PR_SET_DUMPABLE` 0 (which also closes `/proc/PID/mem`).
pub fn harden_process() -> io::Result<()> {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `no_core` is a valid, initialised rlimit that outlives the call; setrlimit only
    // reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: PR_SET_DUMPABLE takes one integer argument; the unused ones are zero as the
        // man page asks. It changes only this process's dumpable flag.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Makes `command` start in a new session (no controlling terminal), like a daemon.
pub fn start_in_new_session(command: &mut Command) -> &mut Command {
    // SAFETY: the closure runs in the forked child before exec and calls only setsid, which is
    // async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Points stdin, stdout and stderr at `/dev/null` (a daemon that has told its launcher it is
/// ready must not write to the launcher's pipes any more).
pub fn redirect_stdio_to_null() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for target in 0..=2 {
        // SAFETY: both descriptors are open (`null` lives until the end of this function);
        // dup2 atomically replaces `target` and touches no Rust-owned memory.
        if unsafe { libc::dup2(null.as_raw_fd(), target) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Raises this process's soft open-file limit to `wanted` if the hard limit allows (else as
/// far as it does), and returns the soft limit then in force. Never lowers it.
#[allow(clippy::useless_conversion)] // `rlim_t` is u64 on Linux and macOS, i64 on FreeBSD
pub fn raise_open_file_limit(wanted: u64) -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit that getrlimit fills in; it outlives the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = libc::rlim_t::try_from(wanted).unwrap_or(libc::rlim_t::MAX);
    let raised = wanted.min(limit.rlim_max);
    if raised > limit.rlim_cur {
        let new = libc::rlimit {
            rlim_cur: raised,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `new` is a valid, initialised rlimit that outlives the call; setrlimit only
        // reads it. The soft limit stays within the hard one, so no privilege is needed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.rlim_cur = raised;
    }
    Ok(u64::try_from(limit.rlim_cur).unwrap_or(u64::MAX))
}

/// Sends SIGTERM to process `pid` (how `agentry stop` ends an agent).
pub fn terminate_process(pid: u32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid process id"))?;
    // SAFETY: kill only sends a signal; `pid` is positive, so it names one process and never a
    // process group or every process.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
