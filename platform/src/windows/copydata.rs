//! Pageant's legacy transport: a hidden top-level window of class and title "Pageant", owned by
//! its own thread with its own message loop, answering `WM_COPYDATA` as PuTTY's
//! `windows/pageant.c` does. The message names a file mapping holding `u32 length || body`; the
//! reply is written back into it. The window thread only moves bytes: each request goes to the
//! async core over a channel and the thread blocks until the answer comes back, so prompts
//! and slow signatures never run on it (other transports keep being served meanwhile).
//!
//! Checks, in order (any failure answers 0 and leaves the mapping alone unless noted): `dwData`
//! is `0x804e50ba`; `cbData > 0` and the name's last byte is NUL; the mapping opens; its owner
//! is our user SID or our process's owner SID; the view's committed pages are at least 5 bytes
//! (a reserved, uncommitted page is never touched). Then a length that does not fit the view (or
//! that the core's framing refuses) gets `00 00 00 01 05` (FAILURE) written in place, and so
//! does a reply that does not fit; the answer is 1.
//!
//! Who sent a message is not known (Windows does not say); the program owning the thread whose
//! id PuTTY puts in the mapping's name (`PageantRequest%08x`) is passed to prompts as an
//! unverified hint ([`ClientInfo::hints`]), never as the client's identity.
//!
//! The client can write the mapping while we read it, so each byte is read once: the header is
//! copied out and only that copy is checked and used, then the body is copied once into a
//! zeroizing buffer; the core sees only that copy.

use super::mapping::Mapping;
use super::security::{current_user_sid, process_owner_sid, Sid};
use agentry_core::frame::{body_len_from_header, encode_frame, HEADER_LEN};
use agentry_core::proto::msg;
use agentry_core::{Agent, ClientInfo, Session};
use std::cell::RefCell;
use std::ffi::CString;
use std::io;
use tokio::sync::{mpsc, oneshot};
use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, ERROR_CLASS_ALREADY_EXISTS, HWND, LPARAM, LRESULT, WPARAM,
};
use windows_sys::Win32::System::DataExchange::COPYDATASTRUCT;
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleA;
use windows_sys::Win32::System::Threading::{
    GetProcessIdOfThread, OpenThread, THREAD_QUERY_LIMITED_INFORMATION,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExA, DefWindowProcA, DestroyWindow, DispatchMessageA, FindWindowA, GetMessageA,
    PostMessageA, PostQuitMessage, RegisterClassA, MSG, WM_CLOSE, WM_COPYDATA, WM_DESTROY,
    WNDCLASSA, WS_OVERLAPPEDWINDOW,
};
use zeroize::Zeroizing;

/// `dwData` of a Pageant request (`AGENT_COPYDATA_ID`).
pub const AGENT_COPYDATA_ID: usize = 0x804e_50ba;

/// The transport name reported in [`ClientInfo::transport`].
pub const TRANSPORT_NAME: &str = "WM_COPYDATA";

/// What the window thread sends the core: a request body, what the mapping's name suggests about
/// the sender (unverified), and where to put the reply.
type Job = (Zeroizing<Vec<u8>>, Vec<String>, oneshot::Sender<Vec<u8>>);

/// What the window procedure needs, per window thread.
struct Context {
    jobs: mpsc::Sender<Job>,
    sids: Vec<Sid>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// The running window; closed (and its thread joined) on drop.
#[derive(Debug)]
pub struct CopyDataWindow {
    hwnd: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CopyDataWindow {
    /// Opens the window `name` (class and title; Pageant's is "Pageant") serving `agent`. Must
    /// be called inside a tokio runtime, which runs the requests. Refuses to start when a
    /// window of that class and title exists already (Pageant or another agentry).
    pub fn start(name: &str, agent: Agent) -> io::Result<Self> {
        let cname = CString::new(name).map_err(io::Error::other)?;
        if window_exists(&cname) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("a \"{name}\" window already exists: Pageant or another agent is running; quit it first"),
            ));
        }
        let mut sids = vec![current_user_sid()?];
        sids.extend(process_owner_sid().ok());
        let (jobs, mut requests) = mpsc::channel::<Job>(16);
        tokio::spawn(async move {
            while let Some((body, hints, reply)) = requests.recv().await {
                let agent = agent.clone();
                tokio::spawn(async move {
                    let mut session = Session::new(ClientInfo {
                        transport: TRANSPORT_NAME.to_owned(),
                        hints,
                        reported: None,
                        ..ClientInfo::default()
                    });
                    let _ = reply.send(agent.handle_message(&mut session, &body).await);
                });
            }
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("{name} window"))
            .spawn(move || window_thread(&cname, Context { jobs, sids }, &ready_tx))?;
        match ready_rx.recv() {
            Ok(Ok(hwnd)) => Ok(Self {
                hwnd,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("the window thread died")),
        }
    }
}

impl CopyDataWindow {
    /// Serves until `shutdown` resolves, then closes the window and joins its thread: the same
    /// contract as the socket and pipe loops (`serve(listener, agent, shutdown)`).
    pub async fn serve_until(self, shutdown: impl std::future::Future) {
        shutdown.await;
        tracing::debug!(target: "agentry::serve", "closing the WM_COPYDATA window");
        drop(self);
    }
}

impl Drop for CopyDataWindow {
    fn drop(&mut self) {
        // SAFETY: posting to a window handle is harmless even if it was destroyed meanwhile.
        unsafe { PostMessageA(self.hwnd as HWND, WM_CLOSE, 0, 0) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// True when a top-level window of class and title `name` exists.
pub fn window_exists(name: &CString) -> bool {
    // SAFETY: both strings are NUL-terminated.
    !unsafe { FindWindowA(name.as_ptr().cast(), name.as_ptr().cast()) }.is_null()
}

fn window_thread(
    name: &CString,
    context: Context,
    ready: &std::sync::mpsc::Sender<io::Result<usize>>,
) {
    CONTEXT.with(|c| *c.borrow_mut() = Some(context));
    let created = create_window(name);
    let ok = created.is_ok();
    let _ = ready.send(created);
    if !ok {
        return;
    }
    let mut message: MSG = Default::default();
    // SAFETY: `message` is a live MSG; GetMessageA returns 0 on WM_QUIT and -1 on error.
    while unsafe { GetMessageA(&mut message, std::ptr::null_mut(), 0, 0) } > 0 {
        // SAFETY: `message` was filled by GetMessageA.
        unsafe { DispatchMessageA(&message) };
    }
    CONTEXT.with(|c| c.borrow_mut().take());
}

fn create_window(name: &CString) -> io::Result<usize> {
    // SAFETY: null asks for this executable's module handle.
    let instance = unsafe { GetModuleHandleA(std::ptr::null()) };
    let class = WNDCLASSA {
        lpfnWndProc: Some(window_proc),
        hInstance: instance,
        lpszClassName: name.as_ptr().cast(),
        ..Default::default()
    };
    // SAFETY: `class` is fully initialised and its class name outlives the window (it is
    // copied by RegisterClassA). A second window of the same class in this process (tests)
    // finds it registered already.
    let registered = unsafe { RegisterClassA(&class) } != 0;
    // SAFETY: reads this thread's last error, set by RegisterClassA.
    if !registered && unsafe { GetLastError() } != ERROR_CLASS_ALREADY_EXISTS {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: class and title are NUL-terminated; the window is never shown.
    let hwnd = unsafe {
        CreateWindowExA(
            0,
            name.as_ptr().cast(),
            name.as_ptr().cast(),
            WS_OVERLAPPEDWINDOW,
            0,
            0,
            0,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            instance,
            std::ptr::null(),
        )
    };
    if hwnd.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(hwnd as usize)
}

unsafe extern "system" fn window_proc(
    hwnd: HWND,
    message: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    match message {
        WM_COPYDATA => {
            // SAFETY: for WM_COPYDATA, lParam is a COPYDATASTRUCT valid during the call.
            let data = unsafe { (lparam as *const COPYDATASTRUCT).as_ref() };
            data.map_or(0, answer)
        }
        WM_CLOSE => {
            // SAFETY: `hwnd` is our window, destroyed on its own thread.
            unsafe { DestroyWindow(hwnd) };
            0
        }
        WM_DESTROY => {
            // SAFETY: ends this thread's message loop.
            unsafe { PostQuitMessage(0) };
            0
        }
        // SAFETY: default handling of a message we were given.
        _ => unsafe { DefWindowProcA(hwnd, message, wparam, lparam) },
    }
}

/// Answers one `WM_COPYDATA`: 0 when refused, 1 when something was written to the mapping.
fn answer(data: &COPYDATASTRUCT) -> LRESULT {
    if data.dwData != AGENT_COPYDATA_ID || data.cbData == 0 || data.lpData.is_null() {
        return 0;
    }
    // SAFETY: the sender guarantees `cbData` readable bytes at `lpData` during the call.
    let name =
        unsafe { std::slice::from_raw_parts(data.lpData.cast::<u8>(), data.cbData as usize) };
    let Ok(mapping) = Mapping::open(name) else {
        return 0;
    };
    let owner_ok = mapping.owner().is_ok_and(|owner| {
        CONTEXT.with(|c| c.borrow().as_ref().is_some_and(|c| c.sids.contains(&owner)))
    });
    if !owner_ok {
        tracing::warn!(target: "agentry::copydata", "request in a mapping owned by another user: refused");
        return 0;
    }
    let size = mapping.size();
    if size < HEADER_LEN + 1 {
        return 0;
    }
    let announced = u32::from_be_bytes(mapping.read(0, HEADER_LEN).try_into().unwrap_or([0xff; 4]));
    let room = size - HEADER_LEN;
    let body_len = match body_len_from_header(announced) {
        Ok(n) if n <= room => n,
        _ => {
            mapping.write(0, &encode_frame(&[msg::FAILURE]));
            return 1;
        }
    };
    let body = Zeroizing::new(mapping.read(HEADER_LEN, body_len));
    let hints = likely_sender(name).into_iter().collect();
    let mut reply = ask_core(body, hints).unwrap_or_else(|| vec![msg::FAILURE]);
    if reply.len() > room {
        reply = vec![msg::FAILURE];
    }
    mapping.write(0, &Zeroizing::new(encode_frame(&reply)));
    1
}

/// Hands `body` to the core and blocks this (window) thread until the reply.
fn ask_core(body: Zeroizing<Vec<u8>>, hints: Vec<String>) -> Option<Vec<u8>> {
    let jobs = CONTEXT.with(|c| c.borrow().as_ref().map(|c| c.jobs.clone()))?;
    let (tx, rx) = oneshot::channel();
    jobs.blocking_send((body, hints, tx)).ok()?;
    rx.blocking_recv().ok()
}

/// The program PuTTY's mapping name points at: `PageantRequest%08x` holds the sending thread's
/// id, whose process is looked up while it waits in `SendMessage`. Any client can name any
/// thread, so this is only a hint for the prompt, marked unverified.
fn likely_sender(name: &[u8]) -> Option<String> {
    let thread = thread_id_in(name)?;
    // SAFETY: opening a thread by id for a query; the handle is closed below.
    let handle = unsafe { OpenThread(THREAD_QUERY_LIMITED_INFORMATION, 0, thread) };
    if handle.is_null() {
        return None;
    }
    // SAFETY: `handle` is the thread handle opened above, closed once.
    let pid = unsafe {
        let pid = GetProcessIdOfThread(handle);
        CloseHandle(handle);
        pid
    };
    if pid == 0 {
        return None;
    }
    let exe = super::pipe::process_exe(pid).unwrap_or_else(|| "a process".to_owned());
    Some(format!(
        "Likely sender: {exe} (pid {pid}), from the thread id in the request's name (unverified)"
    ))
}

/// The thread id in `PageantRequest%08x` (NUL-terminated), if the name has that form.
fn thread_id_in(name: &[u8]) -> Option<u32> {
    let name = name.strip_suffix(&[0])?;
    let hex = name.strip_prefix(b"PageantRequest")?;
    if hex.len() != 8 {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::thread_id_in;

    #[test]
    fn the_thread_id_is_read_from_putty_names_only() {
        assert_eq!(thread_id_in(b"PageantRequest0000abcd\0"), Some(0xabcd));
        assert_eq!(thread_id_in(b"PageantRequest0000abcd"), None);
        assert_eq!(thread_id_in(b"PageantRequest00abcd\0"), None);
        assert_eq!(thread_id_in(b"Other0000abcd\0"), None);
        assert_eq!(thread_id_in(b"PageantRequestzzzzzzzz\0"), None);
    }
}
