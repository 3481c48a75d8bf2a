//! The connection slots of one serving loop: which connections are open, which of them are idle
//! (between requests: no byte of a frame read, no request being handled, no reply being
//! written) and since when, and which have been asked to close. When every slot is taken, the
//! longest-idle connection is asked to close to make room for a new client; when none is idle,
//! the new client waits until one is.
//!
//! Invariant: a connection is asked to close only while it is idle, and a connection that has
//! been asked to close never starts a request. Both are decided under one lock, so a request in
//! progress (a confirmation prompt the user has not answered yet, say) is never cut off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The slots of one serving loop, at most `cap` connections.
#[derive(Debug)]
pub(crate) struct Slots {
    cap: usize,
    open: Mutex<Open>,
    /// Woken when a slot frees or a connection goes idle: room may be made now.
    changed: Notify,
}

#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    slots: HashMap<u64, Slot>,
    /// Whether "the cap is reached" has been logged.
    warned: bool,
}

#[derive(Debug)]
struct Slot {
    /// `Some(since)` while idle, `None` while a request is in progress.
    idle_since: Option<Instant>,
    /// Asked to close to make room.
    asked_to_close: bool,
    close: Arc<Notify>,
}

impl Slots {
    /// Room for `cap` connections (at least 1).
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            open: Mutex::default(),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        // The map stays consistent whatever a panicking holder was doing.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until one more connection fits, asking the longest-idle connections to close when
    /// every slot is taken, then takes the slot (idle from now).
    pub(crate) async fn take(self: &Arc<Self>) -> SlotGuard {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(slot) = self.try_take() {
                return slot;
            }
            changed.await;
        }
    }

    /// Takes a slot if one is free; otherwise asks as many idle connections to close as are
    /// needed to free one (the longest-idle first) and returns `None`.
    fn try_take(self: &Arc<Self>) -> Option<SlotGuard> {
        let mut open = self.lock();
        if open.slots.len() < self.cap {
            let id = open.next_id;
            open.next_id += 1;
            let close = Arc::new(Notify::new());
            open.slots.insert(
                id,
                Slot {
                    idle_since: Some(Instant::now()),
                    asked_to_close: false,
                    close: Arc::clone(&close),
                },
            );
            return Some(SlotGuard {
                slots: Arc::clone(self),
                id,
                close,
            });
        }
        if !open.warned {
            open.warned = true;
            tracing::warn!(target: "agentry::serve", cap = self.cap, "connection cap reached: closing the longest-idle connection for each new client");
        }
        let needed = open.slots.len() + 1 - self.cap;
        let mut closing = open.slots.values().filter(|s| s.asked_to_close).count();
        while closing < needed {
            let longest_idle = open
                .slots
                .values_mut()
                .filter(|s| !s.asked_to_close)
                .filter_map(|s| Some((s.idle_since?, s)))
                .min_by_key(|(since, _)| *since);
            let Some((since, slot)) = longest_idle else {
                tracing::debug!(target: "agentry::serve", "every connection is busy: the new client waits");
                break;
            };
            slot.asked_to_close = true;
            slot.close.notify_one();
            tracing::debug!(target: "agentry::serve", idle_secs = since.elapsed().as_secs(), "closing the longest-idle connection to make room");
            closing += 1;
        }
        None
    }
}

/// One connection's slot, freed on drop.
#[derive(Debug)]
pub(crate) struct SlotGuard {
    slots: Arc<Slots>,
    id: u64,
    close: Arc<Notify>,
}

impl SlotGuard {
    /// Resolves once this connection has been asked to close to make room.
    pub(crate) async fn asked_to_close(&self) {
        self.close.notified().await;
    }

    /// Marks a request as started; false when the connection has been asked to close (it must
    /// then close without handling anything).
    pub(crate) fn begin_request(&self) -> bool {
        let mut open = self.slots.lock();
        match open.slots.get_mut(&self.id) {
            Some(slot) if !slot.asked_to_close => {
                slot.idle_since = None;
                true
            }
            _ => false,
        }
    }

    /// Marks the request as finished: the connection is idle from now.
    pub(crate) fn end_request(&self) {
        if let Some(slot) = self.slots.lock().slots.get_mut(&self.id) {
            slot.idle_since = Some(Instant::now());
        }
        self.slots.changed.notify_one();
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.slots.lock().slots.remove(&self.id);
        self.slots.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn now_or_never<T>(future: impl std::future::Future<Output = T>) -> Option<T> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_longest_idle_connection_is_asked_to_close_and_a_busy_one_never() {
        let slots = Slots::new(3);
        let busy = slots.take().await;
        tokio::time::advance(Duration::from_secs(1)).await;
        let used_later = slots.take().await;
        tokio::time::advance(Duration::from_secs(1)).await;
        let idle_longest = slots.take().await;
        assert!(busy.begin_request());
        // `used_later` was opened before `idle_longest` but has been idle for less time.
        assert!(used_later.begin_request());
        tokio::time::advance(Duration::from_secs(1)).await;
        used_later.end_request();

        let mut new = std::pin::pin!(slots.take());
        assert!(
            now_or_never(new.as_mut()).is_none(),
            "a slot beyond the cap"
        );
        assert!(now_or_never(idle_longest.asked_to_close()).is_some());
        assert!(now_or_never(used_later.asked_to_close()).is_none());
        assert!(now_or_never(busy.asked_to_close()).is_none());
        // Asked to close, it can no longer start a request; once gone, the new one fits.
        assert!(!idle_longest.begin_request());
        drop(idle_longest);
        let _new = new.await;
        assert!(now_or_never(used_later.asked_to_close()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn when_every_connection_is_busy_the_new_one_waits_for_one_to_go_idle() {
        let slots = Slots::new(1);
        let busy = slots.take().await;
        assert!(busy.begin_request());
        let mut new = std::pin::pin!(slots.take());
        assert!(now_or_never(new.as_mut()).is_none());
        assert!(now_or_never(busy.asked_to_close()).is_none());
        busy.end_request();
        // Idle now: it is asked to close as soon as the waiting client is looked at again.
        assert!(now_or_never(new.as_mut()).is_none());
        assert!(now_or_never(busy.asked_to_close()).is_some());
        drop(busy);
        let _new = new.await;
    }
}
