//! Time as the core sees it. Lifetimes and unlock delays are measured with [`Clock::now`]; the
//! default [`TokioClock`] follows tokio's clock, so tests pause and advance it instead of sleeping.
//! Certificate validity is checked against [`Clock::unix_time`], the wall clock by default.

use tokio::time::Instant;

/// A monotonic clock.
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
