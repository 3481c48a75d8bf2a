//! A named file mapping and one writable view of it: what a `WM_COPYDATA` request travels in.
//! The client creates it (`PageantRequest%08x`), the agent opens it by name. Bytes are only
//! copied in and out through raw pointers, never borrowed as slices, because the other process
//! can write to the memory at any time. Unmapped and closed on drop.

use super::security::{object_owner, SecurityDescriptor, Sid};
use std::ffi::CString;
use std::io;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingA, MapViewOfFile, OpenFileMappingA, UnmapViewOfFile, VirtualQuery,
    FILE_MAP_ALL_ACCESS, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS,
    PAGE_READWRITE,
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
                PAGE_READWRITE,
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
        let mut info: MEMORY_BASIC_INFORMATION = Default::default();
        // SAFETY: `view` is a mapped address and `info` a live, correctly sized buffer.
        let got = unsafe {
            VirtualQuery(
                view.Value,
                &mut info,
                std::mem::size_of::<MEMORY_BASIC_INFORMATION>(),
            )
        };
        let size = if got == 0 { 0 } else { info.RegionSize };
        Ok(Self { handle, view, size })
    }

    /// The usable size of the view, as `VirtualQuery` reports it (whole pages).
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

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the view and the handle were created by `map` and are released once.
        unsafe {
            UnmapViewOfFile(self.view);
            CloseHandle(self.handle);
        }
    }
}
