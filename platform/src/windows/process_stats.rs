//! Handle counts and memory of running processes, found by executable name: what the WSL
//! benchmark (`agentry-bench` under Wine) reads from the agent and the relay before and after
//! 1,000 connections, to show that neither grows. Read-only. Handles are counted in the system
//! handle table (`NtQuerySystemInformation(SystemExtendedHandleInformation)`), which Wine's
//! server fills in, where `GetProcessHandleCount` is a stub answering 0 under Wine 8; memory
//! comes from opening each process with `PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ`,
//! and a figure the process's DACL withholds (a hardened agent on Windows refuses
//! `PROCESS_VM_READ`) is `None`.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, Process32FirstW, Process32NextW, PROCESSENTRY32W, TH32CS_SNAPPROCESS,
};
use windows_sys::Win32::System::ProcessStatus::{K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::Threading::{
    OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_VM_READ,
};

#[link(name = "ntdll")]
extern "system" {
    fn NtQuerySystemInformation(class: u32, info: *mut u8, length: u32, returned: *mut u32) -> i32;
}

/// `SystemExtendedHandleInformation`.
const SYSTEM_EXTENDED_HANDLE_INFORMATION: u32 = 0x40;
/// `STATUS_INFO_LENGTH_MISMATCH`.
const STATUS_INFO_LENGTH_MISMATCH: i32 = 0xC000_0004_u32 as i32;
/// The table's header (`NumberOfHandles`, `Reserved`) and one entry
/// (`SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX`: object, process id, handle, access, two u16, attributes,
/// reserved) on a 64-bit system.
const HEADER: usize = 16;
const ENTRY: usize = 40;
/// Where an entry's `UniqueProcessId` is.
const ENTRY_PID: usize = 8;

/// One process's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStats {
    /// Its process id.
    pub pid: u32,
    /// How many handles it holds (entries in the system handle table).
    pub handles: Option<u32>,
    /// Its private bytes (`PROCESS_MEMORY_COUNTERS::PagefileUsage`).
    pub private_bytes: Option<usize>,
    /// Its working set in bytes.
    pub working_set: Option<usize>,
}

/// Every running process whose executable is `exe` (compared without regard to case, e.g.
/// `agentry.exe`), with its figures.
pub fn processes_named(exe: &str) -> io::Result<Vec<ProcessStats>> {
    // SAFETY: plain call; the returned handle is checked and owned below.
    let snapshot = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
    if snapshot == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a valid snapshot handle that nothing else owns.
    let snapshot = unsafe { OwnedHandle::from_raw_handle(snapshot) };
    // SAFETY: PROCESSENTRY32W is plain data; all zeroes is a valid value.
    let mut entry: PROCESSENTRY32W = unsafe { std::mem::zeroed() };
    entry.dwSize = std::mem::size_of::<PROCESSENTRY32W>() as u32;
    let handles = handle_counts();
    let mut found = Vec::new();
    // SAFETY: `entry` is a PROCESSENTRY32W with dwSize set, valid for writes.
    let mut more = unsafe { Process32FirstW(snapshot.as_raw_handle(), &mut entry) } != 0;
    while more {
        let len = entry
            .szExeFile
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(entry.szExeFile.len());
        let name = String::from_utf16_lossy(&entry.szExeFile[..len]);
        if name.eq_ignore_ascii_case(exe) {
            let mut stats = stats_of(entry.th32ProcessID);
            stats.handles = handles.as_ref().map(|table| {
                table
                    .iter()
                    .filter(|&&pid| pid == entry.th32ProcessID as usize)
                    .count() as u32
            });
            found.push(stats);
        }
        // SAFETY: as for Process32FirstW.
        more = unsafe { Process32NextW(snapshot.as_raw_handle(), &mut entry) } != 0;
    }
    Ok(found)
}

/// The owning process id of every handle in the system, or `None` when the table cannot be read.
fn handle_counts() -> Option<Vec<usize>> {
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let mut returned = 0u32;
        let length = u32::try_from(buffer.len()).ok()?;
        // SAFETY: `buffer` is valid for `length` bytes of writes and `returned` for a u32.
        let status = unsafe {
            NtQuerySystemInformation(
                SYSTEM_EXTENDED_HANDLE_INFORMATION,
                buffer.as_mut_ptr(),
                length,
                &mut returned,
            )
        };
        if status == STATUS_INFO_LENGTH_MISMATCH && buffer.len() < 1 << 30 {
            buffer = vec![0u8; (returned as usize).max(buffer.len() * 2)];
            continue;
        }
        if status < 0 {
            return None;
        }
        let word = |at: usize| -> Option<usize> {
            let bytes = buffer.get(at..at + 8)?;
            Some(u64::from_le_bytes(bytes.try_into().ok()?) as usize)
        };
        let count = word(0)?;
        return (0..count)
            .map(|i| word(HEADER + i * ENTRY + ENTRY_PID))
            .collect();
    }
}

/// The memory figures of process `pid`, each `None` where the process cannot be asked.
fn stats_of(pid: u32) -> ProcessStats {
    let mut stats = ProcessStats {
        pid,
        handles: None,
        private_bytes: None,
        working_set: None,
    };
    // SAFETY: plain call; a null result is checked.
    let handle =
        unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, 0, pid) };
    let handle = if handle.is_null() {
        // SAFETY: plain call; a null result is checked.
        unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) }
    } else {
        handle
    };
    if handle.is_null() {
        return stats;
    }
    // SAFETY: a process handle just opened that nothing else owns.
    let handle = unsafe { OwnedHandle::from_raw_handle(handle) };
    // SAFETY: PROCESS_MEMORY_COUNTERS is plain data; all zeroes is a valid value.
    let mut memory: PROCESS_MEMORY_COUNTERS = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
    memory.cb = size;
    // SAFETY: `memory` is valid for `size` bytes of writes.
    if unsafe { K32GetProcessMemoryInfo(handle.as_raw_handle(), &mut memory, size) } != 0 {
        stats.private_bytes = Some(memory.PagefileUsage);
        stats.working_set = Some(memory.WorkingSetSize);
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_with_handles_and_memory() {
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_name().unwrap().to_str().unwrap();
        let found = processes_named(name).unwrap();
        let me = found
            .iter()
            .find(|p| p.pid == std::process::id())
            .expect("this process");
        assert!(me.handles.is_some_and(|h| h > 0), "{me:?}");
        assert!(me.working_set.is_some_and(|w| w > 0), "{me:?}");
        assert!(processes_named("no-such-program.exe").unwrap().is_empty());
    }
}
