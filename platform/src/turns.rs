//! Questions that share one terminal or console: [`Turns`] runs each on a blocking thread once
//! the previous one is done, and gives up waiting after a timeout (the answer is then "none").
//! A turn is held until its read ends, even past the timeout, so a late answer to one question
//! is never taken as the answer to the next.

use agentry_core::prompt::PromptFuture;
use std::sync::Arc;
use std::time::Duration;

/// One-at-a-time questions with a timeout.
#[derive(Debug)]
pub(crate) struct Turns {
    timeout: Duration,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Turns {
    /// Questions that expire after `timeout`.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            lock: Arc::default(),
        }
    }

    /// Runs `ask` on a blocking thread once it is its turn, for up to the timeout.
    pub(crate) fn ask<T: Send + 'static>(
        &self,
        ask: impl FnOnce() -> Option<T> + Send + 'static,
    ) -> PromptFuture<Option<T>> {
        let (timeout, lock) = (self.timeout, Arc::clone(&self.lock));
        Box::pin(async move {
            let asked = async move {
                let turn = lock.lock_owned().await;
                tokio::task::spawn_blocking(move || {
                    let _turn = turn;
                    ask()
                })
                .await
                .ok()
                .flatten()
            };
            tokio::time::timeout(timeout, asked).await.ok().flatten()
        })
    }
}
