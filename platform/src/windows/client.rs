//! The client side of the Windows transports, as PuTTY's `windows/named-pipe-client.c` and
//! `windows/agent-client.c` do it: open a pipe (retrying while all instances are busy) and
//! refuse it unless its owner is our user; or put a framed request in a mapping named
//! `PageantRequest%08x` (our thread id), find the "Pageant" window and `SendMessage` it a
//! `WM_COPYDATA` naming the mapping. [`CopyDataStream`] makes the latter look like a stream.

use super::copydata::AGENT_COPYDATA_ID;
use super::mapping::Mapping;
use super::security::{current_user_sid, object_owner};
use agentry_core::frame::{decode_frame, FrameStatus, HEADER_LEN, MAX_MESSAGE_LEN};
use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::windows::io::AsHandle;
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::ERROR_PIPE_BUSY;
use windows_sys::Win32::System::DataExchange::COPYDATASTRUCT;
use windows_sys::Win32::System::Threading::GetCurrentThreadId;
use windows_sys::Win32::UI::WindowsAndMessaging::{FindWindowA, SendMessageA, WM_COPYDATA};

/// The size of the mappings this client creates: room for the largest frame agentry accepts.
pub const MAPPING_SIZE: u32 = (MAX_MESSAGE_LEN + HEADER_LEN) as u32;

/// Opens the agent pipe `name`, checking that our user owns it (a squatter would not).
pub fn connect_pipe(name: &str) -> io::Result<std::fs::File> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let file = loop {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name)
        {
            Ok(file) => break file,
            Err(e)
                if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    };
    let owner = object_owner(file.as_handle())?;
    if owner != current_user_sid()? {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("the owner of {name} is {owner:?}, not us: refusing to use it"),
        ));
    }
    Ok(file)
}

/// Sends `WM_COPYDATA` with `dw_data` and `payload` to the window `window` (class and title);
/// returns what the window procedure answered.
pub fn send_copydata(window: &str, dw_data: usize, payload: &[u8]) -> io::Result<isize> {
    let name = CString::new(window).map_err(io::Error::other)?;
    // SAFETY: both strings are NUL-terminated.
    let hwnd = unsafe { FindWindowA(name.as_ptr().cast(), name.as_ptr().cast()) };
    if hwnd.is_null() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no \"{window}\" window (Pageant) is running"),
        ));
    }
    let data = COPYDATASTRUCT {
        dwData: dw_data,
        cbData: payload.len() as u32,
        lpData: payload.as_ptr().cast_mut().cast(),
    };
    // SAFETY: `data` and `payload` outlive the synchronous SendMessage; the receiver only reads.
    Ok(unsafe { SendMessageA(hwnd, WM_COPYDATA, 0, &data as *const _ as isize) })
}

/// The mapping name PuTTY uses for this thread's requests.
pub fn request_mapping_name() -> String {
    // SAFETY: no arguments, cannot fail.
    format!("PageantRequest{:08x}", unsafe { GetCurrentThreadId() })
}

/// Sends one framed request over `WM_COPYDATA` to `window` and returns the reply body.
pub fn copydata_call(window: &str, frame: &[u8]) -> io::Result<Vec<u8>> {
    if frame.len() > MAPPING_SIZE as usize {
        return Err(io::Error::other("request too long for WM_COPYDATA"));
    }
    let name = request_mapping_name();
    let mapping = Mapping::create(&name, MAPPING_SIZE, &current_user_sid()?)?;
    mapping.write(0, frame);
    let answered = send_copydata(window, AGENT_COPYDATA_ID, format!("{name}\0").as_bytes())?;
    if answered == 0 {
        return Err(io::Error::other(
            "the agent refused the WM_COPYDATA request",
        ));
    }
    let len = u32::from_be_bytes(mapping.read(0, HEADER_LEN).try_into().expect("4 bytes")) as usize;
    if len == 0 || len > MAPPING_SIZE as usize - HEADER_LEN {
        return Err(io::Error::other(format!(
            "bad reply length {len} in the mapping"
        )));
    }
    Ok(mapping.read(HEADER_LEN, len))
}

/// `WM_COPYDATA` as a byte stream: written frames are sent one by one when read from.
#[derive(Debug)]
pub struct CopyDataStream {
    window: String,
    outgoing: Vec<u8>,
    incoming: Vec<u8>,
}

impl CopyDataStream {
    /// A stream to the window `window` (class and title), which must exist.
    pub fn connect(window: &str) -> io::Result<Self> {
        let name = CString::new(window).map_err(io::Error::other)?;
        if !super::copydata::window_exists(&name) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no \"{window}\" window"),
            ));
        }
        Ok(Self {
            window: window.to_owned(),
            outgoing: Vec::new(),
            incoming: Vec::new(),
        })
    }
}

impl Write for CopyDataStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for CopyDataStream {
    /// Sends the next whole buffered frame when no reply bytes are left. A frame the core's
    /// framing refuses (length 0 or too long) is not sent: the stream ends, as a socket
    /// connection would be closed.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.incoming.is_empty() {
            let frame_len = match decode_frame(&self.outgoing) {
                Ok(FrameStatus::Complete { body_len }) => HEADER_LEN + body_len,
                _ => {
                    self.outgoing.clear();
                    return Ok(0);
                }
            };
            let frame: Vec<u8> = self.outgoing.drain(..frame_len).collect();
            let reply = copydata_call(&self.window, &frame)?;
            self.incoming = agentry_core::frame::encode_frame(&reply);
        }
        let n = buf.len().min(self.incoming.len());
        buf[..n].copy_from_slice(&self.incoming[..n]);
        self.incoming.drain(..n);
        Ok(n)
    }
}
