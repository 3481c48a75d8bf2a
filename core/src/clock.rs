//! Time as the core sees it. Lifetimes and unlock delays are measured with [`Clock::now`]; the
//! default [`TokioClock`] follows tokio's clock, so tests pause and advance it instead of sleeping.

use tokio::time::Instant;

/// A monotonic clock.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// tokio's monotonic clock (pausable in tests with `tokio::time::pause`).
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
