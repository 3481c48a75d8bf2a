//! A security-key middleware library with OpenSSH's API (`sk-api.h`: `sk_api_version`,
//! `sk_sign`), loaded with `dlopen` and asked for assertions. Loaded only in a helper process,
//! never in the agent: a faulty or hostile library can crash or read only that process.
//! Invariant: the library stays loaded for as long as a [`Middleware`] exists, and every
//! response it allocates is zeroized and freed exactly once, here.

use super::SkError;
use agentry_core::keys::{SkAlgorithm, SkAssertion};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;
use zeroize::Zeroize;

/// The API major version this client speaks (`SSH_SK_VERSION_MAJOR`, OpenSSH 8.9 and later:
/// the library is given the data to sign and hashes it itself).
const SK_VERSION_MAJOR: u32 = 0x000a_0000;
const SK_VERSION_MAJOR_MASK: u32 = 0xffff_0000;

const SK_ERR_UNSUPPORTED: c_int = -2;
const SK_ERR_PIN_REQUIRED: c_int = -3;
const SK_ERR_DEVICE_NOT_FOUND: c_int = -4;

/// `struct sk_sign_response`.
#[repr(C)]
struct SkSignResponse {
    flags: u8,
    counter: u32,
    sig_r: *mut u8,
    sig_r_len: usize,
    sig_s: *mut u8,
    sig_s_len: usize,
}

/// `struct sk_option` (only ever passed as a null list here).
#[repr(C)]
struct SkOption {
    name: *mut c_char,
    value: *mut c_char,
    required: u8,
}

type ApiVersionFn = unsafe extern "C" fn() -> u32;
type SignFn = unsafe extern "C" fn(
    alg: u32,
    data: *const u8,
    data_len: usize,
    application: *const c_char,
    key_handle: *const u8,
    key_handle_len: usize,
    flags: u8,
    pin: *const c_char,
    options: *mut *mut SkOption,
    sign_response: *mut *mut SkSignResponse,
) -> c_int;

/// A loaded middleware library.
#[derive(Debug)]
pub struct Middleware {
    handle: *mut c_void,
    sign: SignFn,
}

// SAFETY: the handle is only used to dlclose once, on drop; the library's functions are called
// from one thread at a time by the helper (it serves one request at a time), and dlopen'd
// handles are not tied to the thread that opened them.
unsafe impl Send for Middleware {}

impl Middleware {
    /// Loads the library at `path` (already resolved and checked against the allow-list) and
    /// checks that it speaks API version 10 (`0x000a....`).
    pub fn open(path: &Path) -> Result<Self, SkError> {
        use std::os::unix::ffi::OsStrExt;
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| SkError::Library("provider path contains a NUL byte".into()))?;
        // SAFETY: c_path is a valid NUL-terminated string for the duration of the call. Loading
        // runs the library's constructors: that is why this runs only in the helper process.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(SkError::Library(format!("cannot load: {}", dl_error())));
        }
        let loaded = Loaded(handle);
        let version: ApiVersionFn = loaded.symbol(c"sk_api_version")?;
        // SAFETY: sk_api_version takes no arguments and returns a u32 (sk-api.h); the symbol
        // was looked up by that name in this library, which stays loaded.
        let api = unsafe { version() };
        if api & SK_VERSION_MAJOR_MASK != SK_VERSION_MAJOR {
            return Err(SkError::Library(format!(
                "implements security-key API version 0x{api:08x}, not 0x{SK_VERSION_MAJOR:08x}"
            )));
        }
        let sign: SignFn = loaded.symbol(c"sk_sign")?;
        let handle = loaded.0;
        core::mem::forget(loaded);
        Ok(Self { handle, sign })
    }

    /// Asks the authenticator for an assertion over `data` (the library hashes it) for the key
    /// `key_handle` of `application`, with the key's `flags`; `pin` when the user gave one.
    pub fn sign(
        &self,
        alg: SkAlgorithm,
        data: &[u8],
        application: &str,
        key_handle: &[u8],
        flags: u8,
        pin: Option<&[u8]>,
    ) -> Result<SkAssertion, SkError> {
        let application = CString::new(application)
            .map_err(|_| SkError::Malformed("application contains a NUL byte"))?;
        let pin = pin
            .map(|p| CString::new(p.to_vec()))
            .transpose()
            .map_err(|_| SkError::Malformed("PIN contains a NUL byte"))?;
        let mut response: *mut SkSignResponse = core::ptr::null_mut();
        // SAFETY: every pointer is valid for the length passed with it for the duration of the
        // call (data, key_handle) or NUL-terminated (application, pin or null); options is a
        // null list, which sk_sign accepts (OpenSSH passes none when signing); response is a
        // valid out-pointer. The function pointer came from this library, still loaded.
        let rc = unsafe {
            (self.sign)(
                alg.api_value(),
                data.as_ptr(),
                data.len(),
                application.as_ptr(),
                key_handle.as_ptr(),
                key_handle.len(),
                flags,
                pin.as_ref().map_or(core::ptr::null(), |p| p.as_ptr()),
                core::ptr::null_mut(),
                &mut response,
            )
        };
        if let Some(mut pin) = pin.map(CString::into_bytes_with_nul) {
            pin.zeroize();
        }
        // Taken over before anything else, so that it is freed whatever happens below.
        let response = Response(response);
        match rc {
            0 => response.assertion(),
            SK_ERR_PIN_REQUIRED => Err(SkError::PinRequired),
            SK_ERR_DEVICE_NOT_FOUND => Err(SkError::DeviceNotFound),
            SK_ERR_UNSUPPORTED => Err(SkError::Unsupported),
            other => Err(SkError::Failed(other)),
        }
    }
}

impl Drop for Middleware {
    fn drop(&mut self) {
        drop(Loaded(self.handle));
    }
}

/// A dlopen handle closed on drop (while [`Middleware::open`] is still checking the library).
struct Loaded(*mut c_void);

impl Loaded {
    fn symbol<T: Copy>(&self, name: &CStr) -> Result<T, SkError> {
        // SAFETY: self.0 is a live handle from dlopen and name is NUL-terminated.
        let sym = unsafe { libc::dlsym(self.0, name.as_ptr()) };
        if sym.is_null() {
            return Err(SkError::Library(format!(
                "no {} in the library: not an OpenSSH security-key middleware",
                name.to_string_lossy()
            )));
        }
        debug_assert_eq!(size_of::<T>(), size_of::<*mut c_void>());
        // SAFETY: T is one of this module's `extern "C" fn` pointer types, the size of a data
        // pointer on every platform dlsym exists on; the symbol has that signature by
        // sk-api.h's contract, which the API version check (for sk_sign) backs.
        Ok(unsafe { core::mem::transmute_copy::<*mut c_void, T>(&sym) })
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        // SAFETY: the handle came from a successful dlopen and is closed only here, once; no
        // function pointer from it outlives its owner.
        unsafe { libc::dlclose(self.0) };
    }
}

/// A response the library allocated: zeroized and freed on drop (as OpenSSH's
/// `sshsk_free_sign_response`).
struct Response(*mut SkSignResponse);

impl Response {
    fn assertion(&self) -> Result<SkAssertion, SkError> {
        if self.0.is_null() {
            return Err(SkError::Malformed("no signature in the library's response"));
        }
        // SAFETY: sk_sign returned 0 and set this pointer to a response it allocated; it stays
        // valid until dropped below.
        let resp = unsafe { &*self.0 };
        Ok(SkAssertion {
            flags: resp.flags,
            counter: resp.counter,
            sig_r: copy(resp.sig_r, resp.sig_r_len)?,
            sig_s: copy(resp.sig_s, resp.sig_s_len)?,
        })
    }
}

/// Copies `len` bytes at `ptr` (a null pointer is an empty field).
fn copy(ptr: *const u8, len: usize) -> Result<Vec<u8>, SkError> {
    if ptr.is_null() {
        return Ok(Vec::new());
    }
    if len > 1024 {
        return Err(SkError::Malformed("signature field longer than 1024 bytes"));
    }
    // SAFETY: the library's response says `ptr` holds `len` bytes (bounded above).
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) }.to_vec())
}

impl Drop for Response {
    fn drop(&mut self) {
        if self.0.is_null() {
            return;
        }
        // SAFETY: the response and its two buffers were allocated by the library with malloc
        // (sk-api.h: the caller frees them); each non-null buffer holds its stated length, and
        // each is zeroized and freed once.
        unsafe {
            let resp = &mut *self.0;
            for (ptr, len) in [(resp.sig_r, resp.sig_r_len), (resp.sig_s, resp.sig_s_len)] {
                if !ptr.is_null() {
                    core::slice::from_raw_parts_mut(ptr, len.min(1024)).zeroize();
                    libc::free(ptr.cast());
                }
            }
            libc::free(self.0.cast());
        }
    }
}

fn dl_error() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string valid until the next dl* call on
    // this thread; it is copied at once.
    let msg = unsafe { libc::dlerror() };
    if msg.is_null() {
        return "unknown error".into();
    }
    // SAFETY: non-null, NUL-terminated (above).
    unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned()
}
