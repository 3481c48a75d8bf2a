//! Where a helper writes its replies. A provider library may print to standard output (debug
//! builds do), which would corrupt the reply frames; so on Unix the helper keeps a private
//! duplicate of its standard output for the frames and points descriptor 1 at standard error
//! before any library is loaded. Invariant: after [`take`], only reply frames reach the agent's
//! pipe. On Windows the handle is left as it is (a library's C runtime may have bound it
//! already): a library that prints there fails its load with a bad reply, and the agent kills
//! that helper.

use std::io::{self, Write};

/// The reply channel, taken once at the helper's start.
pub(super) fn take() -> io::Result<Box<dyn Write>> {
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor table and returns a new descriptor
        // (closed on exec, so no child of a library inherits the pipe); descriptor 1 is open.
        let frames = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_DUPFD_CLOEXEC, 3) };
        if frames < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: dup2 replaces descriptor 1 with a copy of 2; both are open, and nothing in
        // this process holds descriptor 1 as a Rust object but `std::io::stdout`, which then
        // writes to standard error.
        if unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) } < 0 {
            let e = io::Error::last_os_error();
            // SAFETY: `frames` is the descriptor fcntl returned above, owned by nobody else.
            unsafe { libc::close(frames) };
            return Err(e);
        }
        // SAFETY: `frames` is a fresh descriptor this function owns; the File takes it over.
        Ok(Box::new(unsafe { std::fs::File::from_raw_fd(frames) }))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::new(io::stdout()))
    }
}
