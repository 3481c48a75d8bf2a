//! A named file mapping and one writable view of it: what a `WM_COPYDATA` request travels in.
//! The client creates it (`PageantRequest%08x`), the agent opens it by name. Bytes are only
//! copied in and out through raw pointers, never borrowed as slices, because the other process
//! can write to the memory at any time. Only the committed pages at the start of the view are
//! ever touched ([`Mapping::size`]): a reserved page would fault. Unmapped and closed on drop.

use super::security::{object_owner, SecurityDescriptor, Sid};
use std::ffi::CString;
use std::io;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingA, MapViewOfFile, OpenFileMappingA, UnmapViewOfFile, VirtualAlloc,
    VirtualQuery, FILE_MAP_ALL_ACCESS, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION,
    MEMORY_MAPPED_VIEW_ADDRESS, MEM_COMMIT, PAGE_PROTECTION_FLAGS, PAGE_READWRITE, SEC_RESERVE,
};

/// A mapped view of a named file mapping.
pub struct Mapping {
    handle: HANDLE,
    view: MEMORY_MAPPED_VIEW_ADDRESS,
    size: usize,
}

impl core::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mapping").field("size", &self.size).finish()
    }
}

impl Mapping {
    /// Creates a pagefile-backed mapping of `size` bytes named `name`, owned by `owner` and
    /// open to `owner` only (PuTTY's client sets the owner and leaves a NULL DACL).
    pub fn create(name: &str, size: u32, owner: &Sid) -> io::Result<Self> {
        Self::create_with(name, size, owner, PAGE_READWRITE)
    }

    /// Like [`Mapping::create`], but with `SEC_RESERVE`: its pages are reserved, not committed,
    /// until [`Mapping::commit`]. Touching an uncommitted page faults; a hostile client can send
    /// such a mapping (tests do).
    pub fn create_reserved(name: &str, size: u32, owner: &Sid) -> io::Result<Self> {
        Self::create_with(name, size, owner, PAGE_READWRITE | SEC_RESERVE)
    }

    /// Commits the first `len` bytes (whole pages) of a [`Mapping::create_reserved`] mapping.
    pub fn commit(&mut self, len: usize) -> io::Result<()> {
        // SAFETY: the range starts at our view and VirtualAlloc checks it lies inside it.
        let at = unsafe { VirtualAlloc(self.view.Value, len, MEM_COMMIT, PAGE_READWRITE) };
        if at.is_null() {
            return Err(io::Error::last_os_error());
        }
        self.size = committed_size(self.view);
        Ok(())
    }

    fn create_with(
        name: &str,
        size: u32,
        owner: &Sid,
        protection: PAGE_PROTECTION_FLAGS,
    ) -> io::Result<Self> {
        let name = CString::new(name).map_err(io::Error::other)?;
        let sid = owner.to_string_sid()?;
        let security = SecurityDescriptor::from_sddl(&format!("O:{sid}D:P(A;;GA;;;{sid})"))?;
        let attributes = security.attributes();
        // SAFETY: `name` is NUL-terminated and `attributes` (with its descriptor) lives across
        // the call; the returned handle is owned by the Mapping below.
        let handle = unsafe {
            CreateFileMappingA(
                INVALID_HANDLE_VALUE,
                &attributes,
                protection,
                0,
                size,
                name.as_ptr().cast(),
            )
        };
        Self::map(handle)
    }

    /// Opens the existing mapping `name` (a NUL-terminated byte string) for reading and writing.
    pub fn open(name: &[u8]) -> io::Result<Self> {
        if name.last() != Some(&0) {
            return Err(io::Error::other("mapping name is not NUL-terminated"));
        }
        // SAFETY: `name` is NUL-terminated (checked above).
        let handle = unsafe { OpenFileMappingA(FILE_MAP_ALL_ACCESS, 0, name.as_ptr()) };
        Self::map(handle)
    }

    fn map(handle: HANDLE) -> io::Result<Self> {
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `handle` is a live mapping handle; 0 bytes maps the whole mapping.
        let view = unsafe { MapViewOfFile(handle, FILE_MAP_WRITE, 0, 0, 0) };
        if view.Value.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: `handle` is ours and closed once.
            unsafe { CloseHandle(handle) };
            return Err(e);
        }
        let size = committed_size(view);
        Ok(Self { handle, view, size })
    }

    /// The usable size of the view: its committed pages from the start, as `VirtualQuery`
    /// reports them (0 when the first page is not committed).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The owner SID of the mapping object.
    pub fn owner(&self) -> io::Result<Sid> {
        // SAFETY: `self.handle` stays open as long as `self`, which outlives the borrow.
        object_owner(unsafe { std::os::windows::io::BorrowedHandle::borrow_raw(self.handle) })
    }

    /// Copies `len` bytes from `offset` out (panics past the end).
    pub fn read(&self, offset: usize, len: usize) -> Vec<u8> {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.size));
        let mut out = vec![0u8; len];
        // SAFETY: `offset + len <= size` bytes of the view are mapped (asserted above); `out`
        // is a separate buffer of `len` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.view.Value.cast::<u8>().add(offset),
                out.as_mut_ptr(),
                len,
            )
        };
        out
    }

    /// Copies `bytes` in at `offset` (panics past the end).
    pub fn write(&self, offset: usize, bytes: &[u8]) {
        assert!(offset
            .checked_add(bytes.len())
            .is_some_and(|end| end <= self.size));
        // SAFETY: the destination range is inside the writable view (asserted above) and
        // does not overlap `bytes`, which is our own memory.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.view.Value.cast::<u8>().add(offset),
                bytes.len(),
            )
        };
    }
}

/// The usable size of the view at `view`: the run of committed pages from its start.
fn committed_size(view: MEMORY_MAPPED_VIEW_ADDRESS) -> usize {
    let mut info: MEMORY_BASIC_INFORMATION = Default::default();
    // SAFETY: `view` is a mapped address and `info` a live, correctly sized buffer.
    let got = unsafe {
        VirtualQuery(
            view.Value,
            &mut info,
            std::mem::size_of::<MEMORY_BASIC_INFORMATION>(),
        )
    };
    // Only committed pages can be touched: a mapping made with SEC_RESERVE has reserved
    // pages that fault when read. The region VirtualQuery reports is the run of pages with
    // the same state from the view's start, so a view with no committed first page is
    // unusable (size 0, refused) and a partly committed one is its committed pages.
    if got == 0 || info.State != MEM_COMMIT {
        0
    } else {
        info.RegionSize
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the view and the handle were created by `map` and are released once.
        unsafe {
            UnmapViewOfFile(self.view);
            CloseHandle(self.handle);
        }
    }
}
