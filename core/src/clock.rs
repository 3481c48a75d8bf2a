//! Time as the core sees it. Key lifetimes and remembered confirmations are measured with
//! [`Clock::now`]; the default [`TokioClock`] follows tokio's clock, so tests pause and advance
//! it instead of sleeping. The real daemon uses the platform's boot clock, which also counts time
//! the machine was suspended (tokio's timer does not: see `agent/expiry.rs` for how the expiry
//! timer copes). Certificate validity is checked against [`Clock::unix_time`], the wall clock by
//! default.

use tokio::time::Instant;

/// A monotonic clock. It may run ahead of tokio's clock (by time spent suspended).
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;

    /// Wall-clock time in seconds since 1970 (host certificate validity).
    fn unix_time(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// tokio's monotonic clock (pausable in tests with `tokio::time::pause`).
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
