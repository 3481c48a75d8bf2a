//! Process hardening on Windows, after Pageant's `restrict_process_acl`: the agent process gets
//! a protected DACL that lets SYSTEM do anything and the user only stop it, wait for it, ask
//! its name and read its security (`taskkill` and `agentry stop` keep working), so another
//! program running as the same user cannot read or write its memory (where keys live), inject
//! threads or duplicate its handles without administrator rights. If it ever crashes, Windows
//! Error Reporting shows no dialog and leaves the heap (where keys live) out of its report.

use super::security::{current_user_sid, object_sddl, SecurityDescriptor};
use std::io;
use std::os::windows::io::{BorrowedHandle, FromRawHandle, OwnedHandle};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_TERMINATE,
};

/// `READ_CONTROL`: read the security descriptor.
const READ_CONTROL: u32 = 0x0002_0000;
/// `SYNCHRONIZE`: wait for the process to end.
const SYNCHRONIZE: u32 = 0x0010_0000;

/// What the user may still do to the agent process.
pub const USER_ACCESS: u32 =
    PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE | READ_CONTROL;

/// Restricts the current process's DACL and keeps its heap out of crash reports (see the
/// module documentation).
pub fn harden_process() -> io::Result<()> {
    // The DACL first: a failure with crash reports must not leave the process open.
    let user = current_user_sid()?.to_string_sid()?;
    let sddl = format!("D:P(A;;GA;;;SY)(A;;0x{USER_ACCESS:x};;;{user})");
    // SAFETY: GetCurrentProcess returns the pseudo-handle -1, valid for the whole process
    // lifetime (BorrowedHandle allows -1 for exactly this).
    let process = unsafe { BorrowedHandle::borrow_raw(GetCurrentProcess()) };
    SecurityDescriptor::from_sddl(&sddl)?.apply_dacl(process)?;
    if keep_heap_out_of_crash_reports()? == CrashReports::Unsupported {
        tracing::debug!("no Windows Error Reporting here: nothing to keep out of crash reports");
    }
    Ok(())
}

/// What [`keep_heap_out_of_crash_reports`] could do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CrashReports {
    /// Windows Error Reporting will leave the heap out of this process's reports.
    HeapLeftOut,
    /// This system has no Windows Error Reporting (`WerSetFlags` is not implemented: Wine).
    Unsupported,
}

/// No Windows Error Reporting dialog for this process, and no heap in its crash reports (the
/// stack and registers still go in: keys are on the heap, and signing copies are zeroized).
fn keep_heap_out_of_crash_reports() -> io::Result<CrashReports> {
    use windows_sys::Win32::Foundation::E_NOTIMPL;
    use windows_sys::Win32::System::Diagnostics::Debug::{
        GetErrorMode, SetErrorMode, SEM_FAILCRITICALERRORS, SEM_NOGPFAULTERRORBOX,
    };
    use windows_sys::Win32::System::ErrorReporting::{
        WerSetFlags, WER_FAULT_REPORTING_FLAG_NOHEAP,
    };
    // SAFETY: plain calls with flag arguments; they change only this process's settings.
    unsafe { SetErrorMode(GetErrorMode() | SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX) };
    // SAFETY: as above.
    let set = unsafe { WerSetFlags(WER_FAULT_REPORTING_FLAG_NOHEAP) };
    if set < 0 && set != E_NOTIMPL {
        return Err(io::Error::from_raw_os_error(set));
    }
    // Read the flag back: Wine accepts the call but keeps nothing (and has no reporting).
    match crash_report_flags() {
        Ok(flags) if flags & WER_FAULT_REPORTING_FLAG_NOHEAP != 0 => Ok(CrashReports::HeapLeftOut),
        Ok(flags) => Err(io::Error::other(format!(
            "Windows Error Reporting flags {flags:#x} lack NOHEAP after setting it"
        ))),
        Err(e) if e.raw_os_error() == Some(E_NOTIMPL) => Ok(CrashReports::Unsupported),
        Err(e) => Err(e),
    }
}

/// This process's Windows Error Reporting flags (`WER_FAULT_REPORTING_*`).
fn crash_report_flags() -> io::Result<u32> {
    use windows_sys::Win32::System::ErrorReporting::WerGetFlags;
    let mut flags = 0;
    // SAFETY: the current-process pseudo-handle, and `flags` a live local WerGetFlags writes.
    let result = unsafe { WerGetFlags(GetCurrentProcess(), &mut flags) };
    if result < 0 {
        return Err(io::Error::from_raw_os_error(result));
    }
    Ok(flags)
}

/// The owner and DACL of process `pid` as SDDL (for tests and diagnostics).
pub fn process_sddl(pid: u32) -> io::Result<String> {
    // SAFETY: plain call; a null handle means failure, else we own the handle.
    let handle = unsafe { OpenProcess(READ_CONTROL, 0, pid) };
    if handle.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `handle` is a fresh handle we own; OwnedHandle closes it.
    let handle = unsafe { OwnedHandle::from_raw_handle(handle) };
    object_sddl(std::os::windows::io::AsHandle::as_handle(&handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Natively the flag is set and reads back (checked inside, and again here); under Wine
    /// there is no error reporting, and the call must say so rather than fail.
    #[test]
    fn crash_reports_leave_the_heap_out() {
        use windows_sys::Win32::System::ErrorReporting::WER_FAULT_REPORTING_FLAG_NOHEAP;
        let outcome = keep_heap_out_of_crash_reports().unwrap();
        eprintln!("crash reports: {outcome:?}");
        if crate::windows::privilege::running_under_wine() {
            return;
        }
        assert_eq!(outcome, CrashReports::HeapLeftOut);
        let flags = crash_report_flags().expect("WerGetFlags on Windows");
        assert_ne!(
            flags & WER_FAULT_REPORTING_FLAG_NOHEAP,
            0,
            "flags {flags:#x}"
        );
    }
}
