//! The `internal` security-key provider on Windows: `webauthn.dll`'s
//! `WebAuthNAuthenticatorGetAssertion`, which owns the USB/NFC/BLE transports (applications
//! may not open FIDO devices directly on Windows 10 1903 and later) and shows Windows' own
//! "touch your security key" dialog.
//!
//! The request is built so that the authenticator signs exactly what OpenSSH's middleware has
//! it sign: the relying party is the key's application, the "client data" is the data to sign
//! itself (Windows hashes it with SHA-256, as libfido2 does), and the only allowed credential
//! is the key's handle. The assertion's authenticator data carries the flags and counter
//! OpenSSH's signature format needs; ECDSA signatures come back DER-encoded and are split into
//! `r` and `s`. [`AssertionRequest`] and [`assertion_from`] are plain code, unit-tested on
//! every OS; the call itself ([`get_assertion`]) exists only on Windows and is not exercised
//! under Wine (Wine has no FIDO transport): see docs/hardware-keys.md.

use super::SkError;
use agentry_core::keys::{SecurityKey, SkAlgorithm, SkAssertion, SK_USER_VERIFICATION_REQD};
use zeroize::Zeroizing;

/// `WEBAUTHN_USER_VERIFICATION_REQUIREMENT_REQUIRED`.
pub const USER_VERIFICATION_REQUIRED: u32 = 1;
/// `WEBAUTHN_USER_VERIFICATION_REQUIREMENT_DISCOURAGED`.
pub const USER_VERIFICATION_DISCOURAGED: u32 = 3;
/// How long Windows waits for the user (its dialog can also be cancelled).
pub const TIMEOUT_MS: u32 = 60_000;

/// What `WebAuthNAuthenticatorGetAssertion` is given for one signature.
#[derive(Clone, PartialEq, Eq)]
pub struct AssertionRequest {
    /// The relying party id (the key's application), NUL-terminated UTF-16.
    pub rp_id: Vec<u16>,
    /// The "client data": the data to sign.
    pub client_data: Vec<u8>,
    /// The one credential allowed: the key handle.
    pub credential_id: Zeroizing<Vec<u8>>,
    /// `WEBAUTHN_USER_VERIFICATION_REQUIREMENT_*`: required for `verify-required` keys.
    pub user_verification: u32,
}

impl core::fmt::Debug for AssertionRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AssertionRequest")
            .field("rp_id", &String::from_utf16_lossy(&self.rp_id))
            .field("client_data_len", &self.client_data.len())
            .field("user_verification", &self.user_verification)
            .finish_non_exhaustive()
    }
}

impl AssertionRequest {
    /// The request for `key`'s signature of `data`.
    pub fn new(key: &SecurityKey, data: &[u8]) -> Self {
        let rp_id = key.application().encode_utf16().chain([0]).collect();
        let user_verification = if key.flags() & SK_USER_VERIFICATION_REQD != 0 {
            USER_VERIFICATION_REQUIRED
        } else {
            USER_VERIFICATION_DISCOURAGED
        };
        Self {
            rp_id,
            client_data: data.to_vec(),
            credential_id: Zeroizing::new(key.key_handle().to_vec()),
            user_verification,
        }
    }
}

/// The assertion in `WebAuthNAuthenticatorGetAssertion`'s answer: the flags (byte 32) and
/// counter (bytes 33..37, big-endian) from the authenticator data, and the signature (64 raw
/// bytes for Ed25519, DER `SEQUENCE { INTEGER r, INTEGER s }` for ECDSA).
pub fn assertion_from(
    alg: SkAlgorithm,
    authenticator_data: &[u8],
    signature: &[u8],
) -> Result<SkAssertion, SkError> {
    let (Some(&flags), Some(counter)) =
        (authenticator_data.get(32), authenticator_data.get(33..37))
    else {
        return Err(SkError::Malformed(
            "authenticator data shorter than 37 bytes",
        ));
    };
    let counter = u32::from_be_bytes([counter[0], counter[1], counter[2], counter[3]]);
    let (sig_r, sig_s) = match alg {
        SkAlgorithm::Ed25519 if signature.len() == 64 => (signature.to_vec(), Vec::new()),
        SkAlgorithm::Ed25519 => return Err(SkError::Malformed("Ed25519 signature not 64 bytes")),
        SkAlgorithm::EcdsaP256 => der_ecdsa(signature)?,
    };
    Ok(SkAssertion {
        flags,
        counter,
        sig_r,
        sig_s,
    })
}

/// `r` and `s` from a DER ECDSA signature (short lengths only: a P-256 signature is at most 72
/// bytes).
fn der_ecdsa(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SkError> {
    const BAD: SkError = SkError::Malformed("ECDSA signature is not DER");
    let body = match der {
        [0x30, len, body @ ..] if usize::from(*len) == body.len() && *len < 0x80 => body,
        _ => return Err(BAD),
    };
    let integer = |bytes: &[u8]| -> Result<(Vec<u8>, usize), SkError> {
        match bytes {
            [0x02, len, rest @ ..] if *len < 0x80 && usize::from(*len) <= rest.len() => {
                let value = &rest[..usize::from(*len)];
                if value.is_empty() || value[0] & 0x80 != 0 {
                    return Err(BAD);
                }
                Ok((value.to_vec(), 2 + value.len()))
            }
            _ => Err(BAD),
        }
    };
    let (r, used) = integer(body)?;
    let (s, used_s) = integer(&body[used..])?;
    if used + used_s != body.len() {
        return Err(BAD);
    }
    Ok((r, s))
}

/// Asks Windows for `key`'s signature of `data`. Blocks until the user answers Windows' dialog
/// (or it times out): call it off the async runtime.
#[cfg(windows)]
pub fn get_assertion(key: &SecurityKey, data: &[u8]) -> Result<SkAssertion, SkError> {
    use windows_sys::Win32::Networking::WindowsWebServices as wa;
    let request = AssertionRequest::new(key, data);
    let api = WebAuthnDll::load()?;
    let mut credential = wa::WEBAUTHN_CREDENTIAL {
        dwVersion: wa::WEBAUTHN_CREDENTIAL_CURRENT_VERSION,
        cbId: u32::try_from(request.credential_id.len())
            .map_err(|_| SkError::Malformed("key handle too long"))?,
        pbId: request.credential_id.as_ptr().cast_mut(),
        pwszCredentialType: wa::WEBAUTHN_CREDENTIAL_TYPE_PUBLIC_KEY,
    };
    let client_data = wa::WEBAUTHN_CLIENT_DATA {
        dwVersion: wa::WEBAUTHN_CLIENT_DATA_CURRENT_VERSION,
        cbClientDataJSON: u32::try_from(request.client_data.len())
            .map_err(|_| SkError::Malformed("data too long"))?,
        pbClientDataJSON: request.client_data.as_ptr().cast_mut(),
        pwszHashAlgId: wa::WEBAUTHN_HASH_ALGORITHM_SHA_256,
    };
    let options = wa::WEBAUTHN_AUTHENTICATOR_GET_ASSERTION_OPTIONS {
        dwVersion: wa::WEBAUTHN_AUTHENTICATOR_GET_ASSERTION_OPTIONS_VERSION_1,
        dwTimeoutMilliseconds: TIMEOUT_MS,
        CredentialList: wa::WEBAUTHN_CREDENTIALS {
            cCredentials: 1,
            pCredentials: &mut credential,
        },
        dwAuthenticatorAttachment: wa::WEBAUTHN_AUTHENTICATOR_ATTACHMENT_CROSS_PLATFORM,
        dwUserVerificationRequirement: request.user_verification,
        ..Default::default()
    };
    let mut assertion: *mut wa::WEBAUTHN_ASSERTION = core::ptr::null_mut();
    // SAFETY: GetForegroundWindow has no preconditions; a null result is allowed (Windows then
    // centres its dialog on the screen).
    let hwnd = unsafe { windows_sys::Win32::UI::WindowsAndMessaging::GetForegroundWindow() };
    // SAFETY: every pointer refers to a local that outlives the call (rp_id NUL-terminated,
    // client data and credential id with their lengths); options is a version-1 structure with
    // the other fields zero; assertion is a valid out-pointer. The function pointer came from
    // webauthn.dll, still loaded (`api`).
    let hr = unsafe {
        (api.get_assertion)(
            hwnd,
            request.rp_id.as_ptr(),
            &client_data,
            &options,
            &mut assertion,
        )
    };
    if hr < 0 || assertion.is_null() {
        return Err(SkError::Failed(hr));
    }
    // SAFETY: the call succeeded and returned an assertion Windows allocated; its data pointers
    // hold their stated lengths until WebAuthNFreeAssertion, called once below after copying.
    let result = unsafe {
        let a = &*assertion;
        let auth = slice(a.pbAuthenticatorData, a.cbAuthenticatorData);
        let sig = slice(a.pbSignature, a.cbSignature);
        assertion_from(key.algorithm(), auth, sig)
    };
    // SAFETY: as above; freed once.
    unsafe { (api.free_assertion)(assertion) };
    result
}

/// The bytes at `ptr` (empty for null).
///
/// # Safety
/// `ptr` is null or valid for `len` bytes for the returned lifetime.
#[cfg(windows)]
unsafe fn slice<'a>(ptr: *const u8, len: u32) -> &'a [u8] {
    if ptr.is_null() {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { core::slice::from_raw_parts(ptr, len as usize) }
}

/// webauthn.dll, loaded from the system directory at the first signature (not linked: the
/// agent starts where it is missing, Wine included).
#[cfg(windows)]
struct WebAuthnDll {
    module: windows_sys::Win32::Foundation::HMODULE,
    get_assertion: GetAssertionFn,
    free_assertion: FreeAssertionFn,
}

#[cfg(windows)]
type GetAssertionFn = unsafe extern "system" fn(
    windows_sys::Win32::Foundation::HWND,
    *const u16,
    *const windows_sys::Win32::Networking::WindowsWebServices::WEBAUTHN_CLIENT_DATA,
    *const windows_sys::Win32::Networking::WindowsWebServices::WEBAUTHN_AUTHENTICATOR_GET_ASSERTION_OPTIONS,
    *mut *mut windows_sys::Win32::Networking::WindowsWebServices::WEBAUTHN_ASSERTION,
) -> windows_sys::core::HRESULT;
#[cfg(windows)]
type FreeAssertionFn = unsafe extern "system" fn(
    *const windows_sys::Win32::Networking::WindowsWebServices::WEBAUTHN_ASSERTION,
);

#[cfg(windows)]
impl WebAuthnDll {
    fn load() -> Result<Self, SkError> {
        use windows_sys::Win32::System::LibraryLoader::{
            GetProcAddress, LoadLibraryExW, LOAD_LIBRARY_SEARCH_SYSTEM32,
        };
        let name: Vec<u16> = "webauthn.dll".encode_utf16().chain([0]).collect();
        // SAFETY: name is NUL-terminated UTF-16; the flags restrict the search to System32.
        let module = unsafe {
            LoadLibraryExW(
                name.as_ptr(),
                core::ptr::null_mut(),
                LOAD_LIBRARY_SEARCH_SYSTEM32,
            )
        };
        if module.is_null() {
            return Err(SkError::NoInternalProvider(
                "webauthn.dll is missing (Windows 10 1903 or later has it)".into(),
            ));
        }
        let dll = Loaded(module);
        // SAFETY: module is loaded; the names are NUL-terminated.
        let (get, free) = unsafe {
            (
                GetProcAddress(module, c"WebAuthNAuthenticatorGetAssertion".as_ptr().cast()),
                GetProcAddress(module, c"WebAuthNFreeAssertion".as_ptr().cast()),
            )
        };
        let (Some(get), Some(free)) = (get, free) else {
            return Err(SkError::NoInternalProvider(
                "webauthn.dll lacks WebAuthNAuthenticatorGetAssertion".into(),
            ));
        };
        core::mem::forget(dll);
        // SAFETY: the two exports have these signatures (webauthn.h, as windows-sys declares
        // them); the module stays loaded while `Self` lives.
        unsafe {
            Ok(Self {
                module,
                get_assertion: core::mem::transmute::<
                    unsafe extern "system" fn() -> isize,
                    GetAssertionFn,
                >(get),
                free_assertion: core::mem::transmute::<
                    unsafe extern "system" fn() -> isize,
                    FreeAssertionFn,
                >(free),
            })
        }
    }
}

#[cfg(windows)]
impl Drop for WebAuthnDll {
    fn drop(&mut self) {
        drop(Loaded(self.module));
    }
}

/// A module handle freed on drop.
#[cfg(windows)]
struct Loaded(windows_sys::Win32::Foundation::HMODULE);

#[cfg(windows)]
impl Drop for Loaded {
    fn drop(&mut self) {
        // SAFETY: the handle came from a successful LoadLibraryExW and is freed once.
        unsafe { windows_sys::Win32::Foundation::FreeLibrary(self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentry_core::keys::PrivateKey;
    use agentry_core::wire::{Reader, Writer};

    fn sk_key(application: &str, flags: u8) -> SecurityKey {
        let mut w = Writer::new();
        w.string(b"sk-ssh-ed25519@openssh.com")
            .string(&[3; 32])
            .string(application.as_bytes())
            .u8(flags)
            .string(b"credential-id")
            .string(b"");
        let bytes = w.into_bytes();
        let key = PrivateKey::decode_wire(&mut Reader::new(&bytes)).unwrap();
        key.as_security_key().unwrap().clone()
    }

    #[test]
    fn request_names_the_application_and_only_the_key_handle() {
        let key = sk_key("ssh:work", 0x01);
        let request = AssertionRequest::new(&key, b"data to sign");
        assert_eq!(String::from_utf16_lossy(&request.rp_id), "ssh:work\0");
        assert_eq!(request.client_data, b"data to sign");
        assert_eq!(request.credential_id.as_slice(), b"credential-id");
        assert_eq!(request.user_verification, USER_VERIFICATION_DISCOURAGED);
        assert!(!format!("{request:?}").contains("credential"));
        let verify = AssertionRequest::new(&sk_key("ssh:", 0x05), b"");
        assert_eq!(verify.user_verification, USER_VERIFICATION_REQUIRED);
    }

    fn authenticator_data(flags: u8, counter: u32) -> Vec<u8> {
        let mut data = vec![0xAA; 32];
        data.push(flags);
        data.extend(counter.to_be_bytes());
        data
    }

    #[test]
    fn ed25519_response_decodes() {
        let a =
            assertion_from(SkAlgorithm::Ed25519, &authenticator_data(0x05, 9), &[7; 64]).unwrap();
        assert_eq!((a.flags, a.counter), (0x05, 9));
        assert_eq!(a.sig_r, vec![7; 64]);
        assert!(a.sig_s.is_empty());
        assert!(assertion_from(SkAlgorithm::Ed25519, &authenticator_data(1, 1), &[7; 63]).is_err());
        assert!(assertion_from(SkAlgorithm::Ed25519, &[0; 36], &[7; 64]).is_err());
    }

    #[test]
    fn ecdsa_der_response_splits_into_r_and_s() {
        let r = [&[0u8][..], &[0x90; 32]].concat();
        let s = vec![0x11; 31];
        let mut der = vec![0x30, (4 + r.len() + s.len()) as u8, 0x02, r.len() as u8];
        der.extend(&r);
        der.extend([0x02, s.len() as u8]);
        der.extend(&s);
        let a = assertion_from(
            SkAlgorithm::EcdsaP256,
            &authenticator_data(1, 0x0102_0304),
            &der,
        )
        .unwrap();
        assert_eq!((a.sig_r, a.sig_s), (r, s));
        assert_eq!(a.counter, 0x0102_0304);
        let mut trailing = der.clone();
        trailing.push(0);
        for bad in [
            &der[..der.len() - 1],
            &trailing[..],
            &[0x30, 0][..],
            &[][..],
        ] {
            assert!(
                assertion_from(SkAlgorithm::EcdsaP256, &authenticator_data(1, 1), bad).is_err()
            );
        }
        // A negative integer is not a signature.
        let negative = [0x30, 6, 0x02, 1, 0x80, 0x02, 1, 1];
        assert!(
            assertion_from(SkAlgorithm::EcdsaP256, &authenticator_data(1, 1), &negative).is_err()
        );
    }
}
