//! Windows security objects the transports need: the user's SID (from the process token), the
//! owner SID of our own process object (Pageant's "default SID", accepted for old clients), the
//! owner of any kernel object (a client's file mapping), and the private security descriptor the
//! pipe is created with: owner = the user, DACL granting only the user and denying NETWORK, as
//! PuTTY's `make_private_security_descriptor` does (Everyone gets nothing).

use std::io;
use std::os::windows::io::{AsRawHandle, BorrowedHandle};
use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, ERROR_SUCCESS, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    ConvertSecurityDescriptorToStringSecurityDescriptorW, ConvertSidToStringSidW,
    ConvertStringSecurityDescriptorToSecurityDescriptorW, ConvertStringSidToSidW, GetSecurityInfo,
    SetSecurityInfo, SDDL_REVISION_1, SE_KERNEL_OBJECT, SE_OBJECT_TYPE,
};
use windows_sys::Win32::Security::{
    GetAce, GetLengthSid, GetSecurityDescriptorDacl, GetTokenInformation, TokenUser,
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, DACL_SECURITY_INFORMATION, INHERIT_ONLY_ACE,
    OBJECT_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER,
};

use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// `ACCESS_ALLOWED_ACE_TYPE` and `ACCESS_DENIED_ACE_TYPE` (winnt.h).
const ACCESS_ALLOWED_ACE_TYPE: u32 = 0;
const ACCESS_DENIED_ACE_TYPE: u32 = 1;

/// An owned copy of a binary SID. Two SIDs are equal when their bytes are.
#[derive(Clone, PartialEq, Eq)]
pub struct Sid(Vec<u8>);

impl core::fmt::Debug for Sid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.to_string_sid() {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "SID({:02x?})", self.0),
        }
    }
}

impl Sid {
    /// Copies the SID at `psid`.
    ///
    /// # Safety
    /// `psid` must point to a valid SID.
    unsafe fn copy_from(psid: PSID) -> Self {
        // SAFETY: the caller guarantees a valid SID, whose length GetLengthSid reads from it.
        let len = unsafe { GetLengthSid(psid) } as usize;
        // SAFETY: a valid SID is `len` readable bytes.
        Self(unsafe { std::slice::from_raw_parts(psid.cast::<u8>(), len) }.to_vec())
    }

    /// Parses the `S-1-5-…` form.
    pub fn from_string_sid(text: &str) -> io::Result<Self> {
        let wide: Vec<u16> = text.encode_utf16().chain([0]).collect();
        let mut psid: PSID = std::ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated; `psid` receives a LocalAlloc'd SID freed below.
        if unsafe { ConvertStringSidToSidW(wide.as_ptr(), &mut psid) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: on success `psid` is a valid SID.
        let sid = unsafe { Self::copy_from(psid) };
        // SAFETY: allocated by ConvertStringSidToSidW, freed once.
        unsafe { LocalFree(psid) };
        Ok(sid)
    }

    /// A pointer for APIs that read a SID (they do not write through it).
    pub fn as_psid(&self) -> PSID {
        self.0.as_ptr().cast_mut().cast()
    }

    /// The `S-1-5-…` form.
    pub fn to_string_sid(&self) -> io::Result<String> {
        let mut wide: *mut u16 = std::ptr::null_mut();
        // SAFETY: `self` holds a valid SID; on success `wide` receives a NUL-terminated string
        // allocated with LocalAlloc, which take_local_string reads and frees.
        if unsafe { ConvertSidToStringSidW(self.as_psid(), &mut wide) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: see above.
        Ok(unsafe { take_local_string(wide) })
    }
}

/// Reads and frees a NUL-terminated UTF-16 string allocated with `LocalAlloc`.
///
/// # Safety
/// `wide` must be such a string, not used afterwards.
unsafe fn take_local_string(wide: *mut u16) -> String {
    // SAFETY: `wide` is NUL-terminated (caller's promise); we stop at the NUL.
    let len = (0..).take_while(|&i| unsafe { *wide.add(i) } != 0).count();
    // SAFETY: `len` u16s before the NUL are readable.
    let s = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(wide, len) });
    // SAFETY: allocated with LocalAlloc (caller's promise), freed once.
    unsafe { LocalFree(wide.cast()) };
    s
}

/// The SID of the user this process runs as (its token's user).
pub fn current_user_sid() -> io::Result<Sid> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle; `token` receives a handle we close.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut needed = 0u32;
    // SAFETY: a size query: null buffer of length 0, `needed` receives the size.
    unsafe { GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut needed) };
    // u64s keep the TOKEN_USER inside suitably aligned.
    let mut buf = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    // SAFETY: `buf` is writable for at least `needed` bytes.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buf.as_mut_ptr().cast(),
            (buf.len() * 8) as u32,
            &mut needed,
        )
    };
    let result = if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: on success `buf` starts with a TOKEN_USER whose SID points inside `buf`.
        Ok(unsafe { Sid::copy_from((*buf.as_ptr().cast::<TOKEN_USER>()).User.Sid) })
    };
    // SAFETY: `token` is a handle we opened above and close once.
    unsafe { CloseHandle(token) };
    result
}

/// A security descriptor read from an object, with pointers to its owner and DACL inside it
/// (null when not asked for or absent), freed on drop.
pub(crate) struct ObjectSecurity {
    descriptor: PSECURITY_DESCRIPTOR,
    owner: PSID,
    dacl: *mut ACL,
    info: OBJECT_SECURITY_INFORMATION,
}

impl ObjectSecurity {
    /// Reads the owner and DACL of `handle`, an object of type `object`.
    pub(crate) fn read(handle: BorrowedHandle<'_>, object: SE_OBJECT_TYPE) -> io::Result<Self> {
        let info = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
        let (mut owner, mut dacl): (PSID, *mut ACL) = (std::ptr::null_mut(), std::ptr::null_mut());
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: the out pointers are live locals; the group and SACL ones are null, as
        // allowed. On success `owner` and `dacl` point inside `descriptor`, LocalAlloc'd and
        // freed by Drop.
        let err = unsafe {
            GetSecurityInfo(
                handle.as_raw_handle(),
                object,
                info,
                &mut owner,
                std::ptr::null_mut(),
                &mut dacl,
                std::ptr::null_mut(),
                &mut descriptor,
            )
        };
        if err != ERROR_SUCCESS {
            return Err(io::Error::from_raw_os_error(err as i32));
        }
        Ok(Self {
            descriptor,
            owner,
            dacl,
            info,
        })
    }

    /// The owner.
    pub(crate) fn owner(&self) -> io::Result<Sid> {
        if self.owner.is_null() {
            return Err(io::Error::other("the object has no owner"));
        }
        // SAFETY: GetSecurityInfo succeeded, so `owner` is a valid SID inside the descriptor.
        Ok(unsafe { Sid::copy_from(self.owner) })
    }

    /// The DACL's entries in order; `None` for a null DACL (everyone has full access).
    pub(crate) fn dacl_entries(&self) -> io::Result<Option<Vec<AclEntry>>> {
        if self.dacl.is_null() {
            return Ok(None);
        }
        // SAFETY: `dacl` is a valid ACL inside the descriptor (GetSecurityInfo succeeded).
        let count = unsafe { (*self.dacl).AceCount };
        let mut entries = Vec::with_capacity(usize::from(count));
        for i in 0..u32::from(count) {
            let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
            // SAFETY: `i` is below the ACL's count; `ace` receives a pointer into the ACL.
            if unsafe { GetAce(self.dacl, i, &mut ace) } == 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: every ACE starts with an ACE_HEADER.
            let header = unsafe { *ace.cast::<ACE_HEADER>() };
            let allowed = match u32::from(header.AceType) {
                ACCESS_ALLOWED_ACE_TYPE => true,
                ACCESS_DENIED_ACE_TYPE => false,
                _ => continue,
            };
            // SAFETY: allowed and denied ACEs share ACCESS_ALLOWED_ACE's layout: header, mask,
            // then the trustee's SID starting at SidStart, inside the ACE.
            let (mask, sid) = unsafe {
                let body = ace.cast::<ACCESS_ALLOWED_ACE>();
                let sid = std::ptr::addr_of_mut!((*body).SidStart).cast();
                ((*body).Mask, Sid::copy_from(sid))
            };
            entries.push(AclEntry {
                allowed,
                inherit_only: u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0,
                mask,
                sid,
            });
        }
        Ok(Some(entries))
    }

    /// Owner and DACL as SDDL.
    pub(crate) fn sddl(&self) -> io::Result<String> {
        let mut wide: *mut u16 = std::ptr::null_mut();
        // SAFETY: `descriptor` is valid; `wide` receives a LocalAlloc'd string.
        let ok = unsafe {
            ConvertSecurityDescriptorToStringSecurityDescriptorW(
                self.descriptor,
                SDDL_REVISION_1,
                self.info,
                &mut wide,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: on success `wide` is a NUL-terminated LocalAlloc'd string.
        Ok(unsafe { take_local_string(wide) })
    }
}

impl Drop for ObjectSecurity {
    fn drop(&mut self) {
        // SAFETY: allocated by GetSecurityInfo with LocalAlloc, freed once.
        unsafe { LocalFree(self.descriptor) };
    }
}

/// One allow or deny entry of a DACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AclEntry {
    pub(crate) allowed: bool,
    /// Applies only to objects created inside this one, not to it.
    pub(crate) inherit_only: bool,
    pub(crate) mask: u32,
    pub(crate) sid: Sid,
}

/// The owner SID of the kernel object `handle`.
pub fn object_owner(handle: BorrowedHandle<'_>) -> io::Result<Sid> {
    ObjectSecurity::read(handle, SE_KERNEL_OBJECT)?.owner()
}

/// The owner and DACL of the kernel object `handle`, as SDDL (for tests and diagnostics).
pub fn object_sddl(handle: BorrowedHandle<'_>) -> io::Result<String> {
    ObjectSecurity::read(handle, SE_KERNEL_OBJECT)?.sddl()
}

/// The owner of our own process object: Pageant's "default SID".
pub fn process_owner_sid() -> io::Result<Sid> {
    // SAFETY: GetCurrentProcess returns the pseudo-handle -1, valid for the whole process
    // lifetime (BorrowedHandle allows -1 for exactly this).
    object_owner(unsafe { BorrowedHandle::borrow_raw(GetCurrentProcess()) })
}

/// A self-relative security descriptor made from SDDL, freed on drop.
#[derive(Debug)]
pub struct SecurityDescriptor(PSECURITY_DESCRIPTOR);

// SAFETY: the descriptor is an immutable heap block owned by this value alone.
unsafe impl Send for SecurityDescriptor {}
// SAFETY: nothing mutates it after creation.
unsafe impl Sync for SecurityDescriptor {}

impl SecurityDescriptor {
    /// Owner and group `user`; the protected DACL denies NETWORK and grants only `user`.
    pub fn private_to(user: &Sid) -> io::Result<Self> {
        Self::from_sddl(&Self::private_sddl(user)?)
    }

    /// The SDDL of [`SecurityDescriptor::private_to`].
    pub fn private_sddl(user: &Sid) -> io::Result<String> {
        let sid = user.to_string_sid()?;
        Ok(format!("O:{sid}G:{sid}D:P(D;;GA;;;NU)(A;;GA;;;{sid})"))
    }

    /// Parses SDDL.
    pub fn from_sddl(sddl: &str) -> io::Result<Self> {
        let wide: Vec<u16> = sddl.encode_utf16().chain([0]).collect();
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated; `descriptor` receives a LocalAlloc'd block we own.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                wide.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(descriptor))
    }

    /// Sets this descriptor's DACL, protected from inheritance, on the kernel object `handle`.
    pub fn apply_dacl(&self, handle: BorrowedHandle<'_>) -> io::Result<()> {
        let (mut present, mut defaulted) = (0, 0);
        let mut dacl: *mut ACL = std::ptr::null_mut();
        // SAFETY: `self.0` is a valid descriptor; `dacl` receives a pointer into it.
        let ok =
            unsafe { GetSecurityDescriptorDacl(self.0, &mut present, &mut dacl, &mut defaulted) };
        if ok == 0 || present == 0 {
            return Err(io::Error::other("the descriptor has no DACL"));
        }
        // SAFETY: `dacl` points into `self`, alive across the call, which only reads it.
        let err = unsafe {
            SetSecurityInfo(
                handle.as_raw_handle(),
                SE_KERNEL_OBJECT,
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                dacl,
                std::ptr::null(),
            )
        };
        if err != ERROR_SUCCESS {
            return Err(io::Error::from_raw_os_error(err as i32));
        }
        Ok(())
    }

    /// Creates the new file `path` (it must not exist yet) with this descriptor, open for
    /// writing.
    pub fn create_file(&self, path: &std::path::Path) -> io::Result<std::fs::File> {
        use std::os::windows::ffi::OsStrExt;
        use std::os::windows::io::FromRawHandle;
        use windows_sys::Win32::Foundation::{GENERIC_WRITE, INVALID_HANDLE_VALUE};
        use windows_sys::Win32::Storage::FileSystem::{
            CreateFileW, CREATE_NEW, FILE_ATTRIBUTE_NORMAL,
        };
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
        let attributes = self.attributes();
        // SAFETY: `wide` is NUL-terminated; `attributes` points at this descriptor, alive
        // across the call, which only reads it. The result is a new handle we own, or
        // INVALID_HANDLE_VALUE.
        let handle = unsafe {
            CreateFileW(
                wide.as_ptr(),
                GENERIC_WRITE,
                0,
                &attributes,
                CREATE_NEW,
                FILE_ATTRIBUTE_NORMAL,
                std::ptr::null_mut(),
            )
        };
        if handle == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a valid handle just created, owned by the File from now on.
        Ok(unsafe { std::fs::File::from_raw_handle(handle) })
    }

    /// `SECURITY_ATTRIBUTES` pointing at this descriptor (valid while `self` lives).
    pub fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.0,
            bInheritHandle: 0,
        }
    }
}

impl Drop for SecurityDescriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW, freed once.
        unsafe { LocalFree(self.0) };
    }
}
