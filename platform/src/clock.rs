//! The clock the real agent runs on: [`BootClock`] counts time the machine was suspended, as
//! OpenSSH's `monotime()` does, so a key's lifetime (`ssh-add -t`) ends after that much real time
//! whether or not the machine slept meanwhile. Its source, [`since_boot`], is `CLOCK_BOOTTIME` on
//! Linux and Android (`CLOCK_MONOTONIC` if the kernel lacks it, and on other Unix systems, as
//! OpenSSH), and `GetTickCount64` on Windows (milliseconds since boot, sleep and hibernation
//! included, in steps of the system timer, 10–16 ms; implemented by Wine too, where it counts
//! what the host's clock counts). Both are monotonic; on Unix the clock never runs behind
//! tokio's, on Windows it may by less than one timer step.

use agentry_core::clock::Clock;
use std::time::Duration;
use tokio::time::Instant;

/// A [`Clock`] that counts suspended time: tokio's instant at creation plus the time since
/// boot elapsed since then. It runs ahead of tokio's clock by the time spent suspended.
#[derive(Debug, Clone, Copy)]
pub struct BootClock {
    origin: Instant,
    boot_origin: Duration,
}

impl BootClock {
    /// A clock starting now.
    pub fn new() -> Self {
        // Boot time first, so the origin pair never makes `now` run behind tokio's clock.
        let boot_origin = since_boot();
        Self {
            origin: Instant::now(),
            boot_origin,
        }
    }
}

impl Default for BootClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for BootClock {
    fn now(&self) -> Instant {
        let elapsed = since_boot().saturating_sub(self.boot_origin);
        // An instant past the platform's range (centuries of uptime) cannot arise; fall back
        // to tokio's clock rather than panic.
        self.origin
            .checked_add(elapsed)
            .unwrap_or_else(Instant::now)
    }
}

/// Time since boot, including time suspended (see the module documentation for the source).
pub fn since_boot() -> Duration {
    imp::since_boot()
}

#[cfg(unix)]
mod imp {
    use std::time::Duration;

    pub(super) fn since_boot() -> Duration {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(t) = read(libc::CLOCK_BOOTTIME) {
            return t;
        }
        read(libc::CLOCK_MONOTONIC).unwrap_or_default()
    }

    /// `clock_gettime(clock)`, or `None` if the kernel does not know that clock.
    pub(super) fn read(clock: libc::clockid_t) -> Option<Duration> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec that outlives the call; clock_gettime only
        // writes into it, and reports an unknown clock by its return value.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        if rc != 0 {
            return None;
        }
        let secs = u64::try_from(ts.tv_sec).ok()?;
        let nanos = u32::try_from(ts.tv_nsec).ok()?;
        Some(Duration::new(secs, nanos))
    }
}

#[cfg(windows)]
mod imp {
    use std::time::Duration;

    pub(super) fn since_boot() -> Duration {
        // SAFETY: GetTickCount64 takes no arguments, touches no memory of ours and cannot fail.
        let millis = unsafe { windows_sys::Win32::System::SystemInformation::GetTickCount64() };
        Duration::from_millis(millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_clock_is_monotonic() {
        let clock = BootClock::new();
        let mut last = clock.now();
        for _ in 0..1000 {
            let now = clock.now();
            assert!(now >= last, "went backwards");
            last = now;
        }
    }

    /// It moves: 100 ms of sleep is several steps of Windows' 10–16 ms tick.
    #[test]
    fn boot_clock_advances() {
        let clock = BootClock::new();
        let start = clock.now();
        std::thread::sleep(Duration::from_millis(100));
        assert!(clock.now() > start, "stood still");
    }

    #[cfg(unix)]
    #[test]
    fn boot_clock_never_runs_behind_tokios_clock() {
        let clock = BootClock::new();
        for _ in 0..1000 {
            let tokio_now = Instant::now();
            assert!(clock.now() >= tokio_now, "behind tokio's clock");
        }
    }

    /// CLOCK_BOOTTIME is CLOCK_MONOTONIC plus time suspended: never behind it.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn since_boot_reads_clock_boottime_which_is_at_least_clock_monotonic() {
        let mut last = Duration::ZERO;
        for _ in 0..1000 {
            let monotonic = imp::read(libc::CLOCK_MONOTONIC).unwrap();
            let boot = since_boot();
            assert!(
                boot >= monotonic,
                "{boot:?} < CLOCK_MONOTONIC {monotonic:?}"
            );
            assert!(boot >= last, "went backwards");
            last = boot;
        }
        let boottime = imp::read(libc::CLOCK_BOOTTIME).expect("the kernel has CLOCK_BOOTTIME");
        assert!(since_boot() >= boottime);
    }
}
