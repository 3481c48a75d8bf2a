//! Serving the agent on a Windows named pipe (Pageant's `\\.\pipe\pageant.<user>.<hex>`, or any
//! name given), with the shared connection loop of [`crate::serve`]. Every instance is a byte
//! pipe created with the private security descriptor of [`super::security`] (owner and only
//! grantee: the user; NETWORK denied) and `PIPE_REJECT_REMOTE_CLIENTS`. A name someone else
//! already holds is an error, not a silent second server: checked with `WaitNamedPipeW`, and the
//! first instance uses `FILE_FLAG_FIRST_PIPE_INSTANCE`. The client's process id comes from `GetNamedPipeClientProcessId`.

use super::security::{current_user_sid, SecurityDescriptor};
use crate::serve::{serve_acceptor, Acceptor, ServeOptions};
use agentry_core::{Agent, ClientInfo};
use std::future::Future;
use std::io;
use std::os::windows::io::AsRawHandle;
use tokio::net::windows::named_pipe::{NamedPipeServer, PipeMode, ServerOptions};
use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, ERROR_ACCESS_DENIED, ERROR_PIPE_BUSY, ERROR_SEM_TIMEOUT,
};
use windows_sys::Win32::System::Pipes::{GetNamedPipeClientProcessId, WaitNamedPipeW};
use windows_sys::Win32::System::Threading::{
    OpenProcess, QueryFullProcessImageNameW, PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// The transport name reported in [`ClientInfo::transport`].
pub const TRANSPORT_NAME: &str = "named pipe";

/// Why the pipe could not be created.
#[derive(Debug)]
pub enum PipeError {
    /// Another process (another agent, or a squatter) already holds the name.
    InUse(String),
    /// Any other failure while doing `what`.
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: io::Error,
    },
}

impl core::fmt::Display for PipeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::InUse(name) => write!(
                f,
                "the pipe {name} already exists: another agent (Pageant, agentry, or the Windows ssh-agent service) or another program holds it; stop it first"
            ),
            Self::Io { what, source } => write!(f, "cannot {what}: {source}"),
        }
    }
}

impl std::error::Error for PipeError {}

/// A named pipe waiting for clients: always one instance listening.
#[derive(Debug)]
pub struct PipeListener {
    name: String,
    options: ServerOptions,
    security: SecurityDescriptor,
    next: Option<NamedPipeServer>,
}

impl PipeListener {
    /// Creates the first instance of pipe `name` (needs a running tokio runtime).
    pub fn bind(name: &str) -> Result<Self, PipeError> {
        let user = current_user_sid().map_err(|source| PipeError::Io {
            what: "read the user's SID",
            source,
        })?;
        let security = SecurityDescriptor::private_to(&user).map_err(|source| PipeError::Io {
            what: "build the pipe's security descriptor",
            source,
        })?;
        let mut options = ServerOptions::new();
        options
            .pipe_mode(PipeMode::Byte)
            .reject_remote_clients(true)
            .access_inbound(true)
            .access_outbound(true);
        if pipe_exists(name) {
            return Err(PipeError::InUse(name.to_owned()));
        }
        let mut listener = Self {
            name: name.to_owned(),
            options,
            security,
            next: None,
        };
        let first = listener.create(true).map_err(|e| {
            let code = e.raw_os_error().map(|c| c as u32);
            if code == Some(ERROR_ACCESS_DENIED) || code == Some(ERROR_PIPE_BUSY) {
                PipeError::InUse(name.to_owned())
            } else {
                PipeError::Io {
                    what: "create the named pipe",
                    source: e,
                }
            }
        })?;
        listener.next = Some(first);
        Ok(listener)
    }

    /// The pipe's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn create(&self, first: bool) -> io::Result<NamedPipeServer> {
        let mut options = self.options.clone();
        options.first_pipe_instance(first);
        let mut attributes = self.security.attributes();
        // SAFETY: `attributes` is a valid SECURITY_ATTRIBUTES whose descriptor lives in
        // `self.security` for the whole call; CreateNamedPipeW only reads it.
        unsafe {
            options.create_with_security_attributes_raw(
                &self.name,
                (&mut attributes as *mut _ as *mut core::ffi::c_void).cast(),
            )
        }
    }
}

impl Acceptor for PipeListener {
    type Stream = NamedPipeServer;

    async fn accept(&mut self) -> io::Result<NamedPipeServer> {
        let server = match self.next.take() {
            Some(server) => server,
            None => self.create(false)?,
        };
        server.connect().await?;
        // The next client needs a listening instance before this one is handed out.
        self.next = self.create(false).ok();
        Ok(server)
    }

    fn identify(stream: &NamedPipeServer) -> Result<ClientInfo, String> {
        let mut pid = 0u32;
        // SAFETY: the handle is a live server pipe owned by `stream`; `pid` is a live u32.
        let ok = unsafe { GetNamedPipeClientProcessId(stream.as_raw_handle(), &mut pid) } != 0;
        let pid = ok.then_some(pid);
        Ok(ClientInfo {
            pid,
            exe: pid.and_then(process_exe),
            uid: None,
            transport: TRANSPORT_NAME.to_owned(),
            hints: Vec::new(),
            reported: None,
        })
    }
}

/// True when a server already listens on pipe `name` (free or busy). Wine 8 ignores
/// `FILE_FLAG_FIRST_PIPE_INSTANCE`, so this check comes first; on Windows the flag still closes
/// the window between the check and the creation.
fn pipe_exists(name: &str) -> bool {
    let wide: Vec<u16> = name.encode_utf16().chain([0]).collect();
    // SAFETY: `wide` is NUL-terminated; waiting 1 ms does not connect to the pipe.
    if unsafe { WaitNamedPipeW(wide.as_ptr(), 1) } != 0 {
        return true;
    }
    // SAFETY: reads this thread's last error, set by WaitNamedPipeW.
    unsafe { GetLastError() == ERROR_SEM_TIMEOUT }
}

/// The executable path of process `pid`, when we may query it.
pub fn process_exe(pid: u32) -> Option<String> {
    // SAFETY: plain call; a null handle means failure.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return None;
    }
    let mut buf = [0u16; 1024];
    let mut len = buf.len() as u32;
    // SAFETY: `buf` holds `len` u16s; `process` is the handle opened above.
    let ok = unsafe {
        QueryFullProcessImageNameW(process, PROCESS_NAME_WIN32, buf.as_mut_ptr(), &mut len)
    };
    // SAFETY: `process` was opened above and is closed once.
    unsafe { CloseHandle(process) };
    (ok != 0).then(|| String::from_utf16_lossy(&buf[..len as usize]))
}

/// Serves `agent` on `listener` until `shutdown` resolves, then drains in-flight replies.
pub async fn serve_pipe(
    listener: PipeListener,
    agent: Agent,
    shutdown: impl Future,
    options: ServeOptions,
) {
    serve_acceptor(listener, agent, shutdown, options).await;
}
