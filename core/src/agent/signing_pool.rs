//! Where slow signatures (RSA, P-384, P-521) are made, so that no client waits on another's.
//!
//! At most one signature per core runs at a time, the rest wait their turn first come, first
//! served. When no other slow signature is running or waiting, the request's own runtime thread
//! signs in place (`block_in_place`: no hand-off between threads, so a lone signature costs no
//! more than the crypto). Otherwise the signature is queued for the pool's threads, one per
//! core, and the request waits for it without blocking the runtime. Signing in place under load
//! (with or without a cap) left some requests waiting three times the average, as requests
//! moved between runtime threads; with the queue every one waits about as long as the others.
//! The core starts no threads of its own: the signing threads are started through the
//! [`ThreadStarter`] the platform puts in [`super::AgentOptions`], with the first slow signature,
//! and live as long as the process. An agent without one signs every slow signature in place.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, OnceLock, PoisonError};

type Job = Box<dyn FnOnce() + Send>;

/// Starts a named thread that runs a job to its end; `Err` with a reason if it cannot. The
/// platform provides it (`agentry_platform::threads::os_threads`), so that the core, which
/// does no I/O and owns no threads, can still have slow signatures made off the runtime.
#[derive(Clone)]
pub struct ThreadStarter(Arc<dyn Fn(String, Job) -> Result<(), String> + Send + Sync>);

impl ThreadStarter {
    /// A starter from a function taking the thread's name and its job.
    pub fn new(start: impl Fn(String, Job) -> Result<(), String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(start))
    }
}

impl core::fmt::Debug for ThreadStarter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ThreadStarter")
    }
}

/// The process's signing threads and their queue.
struct SigningPool {
    state: Mutex<State>,
    turn: Condvar,
    /// How many signatures may run at once: the number of cores.
    limit: usize,
    start: Once,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    running: usize,
    threads: usize,
}

impl SigningPool {
    /// The pool, its threads started through `starter` on first use (once per process).
    fn get(starter: Option<&ThreadStarter>) -> &'static Self {
        static POOL: OnceLock<SigningPool> = OnceLock::new();
        let pool = POOL.get_or_init(|| Self {
            state: Mutex::default(),
            turn: Condvar::new(),
            limit: std::thread::available_parallelism().map_or(2, |n| n.get()),
            start: Once::new(),
        });
        if let Some(starter) = starter {
            pool.start.call_once(|| pool.start_threads(starter));
        }
        pool
    }

    fn start_threads(&'static self, starter: &ThreadStarter) {
        for i in 0..self.limit {
            match (starter.0)(
                format!("agentry-sign-{i}"),
                Box::new(move || self.run_jobs()),
            ) {
                Ok(()) => self.state().threads += 1,
                Err(e) => tracing::warn!("cannot start signing thread {i}: {e}"),
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A signing thread: takes the oldest job whenever fewer than `limit` signatures run.
    fn run_jobs(&self) {
        let mut state = self.state();
        loop {
            if state.running < self.limit {
                if let Some(job) = state.queue.pop_front() {
                    state.running += 1;
                    drop(state);
                    // A job reports its own outcome; a panic only loses that job's reply.
                    let _ = catch_unwind(AssertUnwindSafe(job));
                    state = self.state();
                    state.running -= 1;
                    continue;
                }
            }
            state = self
                .turn
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Where the next signature is made, counting it as running if in place.
    fn place(&self, runtime_can_lend_thread: bool) -> SignAt {
        let mut state = self.state();
        if state.threads == 0 {
            return SignAt::ThisThreadNoPool;
        }
        if runtime_can_lend_thread && state.running == 0 && state.queue.is_empty() {
            state.running += 1;
            return SignAt::ThisThread;
        }
        SignAt::SigningThread
    }

    fn enqueue(&self, job: Job) {
        self.state().queue.push_back(job);
        self.turn.notify_one();
    }
}

enum SignAt {
    /// Nothing else signing: this thread signs (and counts as running).
    ThisThread,
    /// No signing thread could be started: every signature is made where it is asked for.
    ThisThreadNoPool,
    /// Queued for a signing thread.
    SigningThread,
}

/// Marks an in-place signature done, even if it panicked.
struct Running(&'static SigningPool);

impl Drop for Running {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.running -= 1;
        if !state.queue.is_empty() {
            self.0.turn.notify_one();
        }
    }
}

/// Makes `sign`'s signature on this thread if nothing else is signing, else on a signing thread
/// when its turn comes; waits without blocking the runtime either way. `None` if the signing
/// job was lost (it panicked). Without a `starter` (and so no signing threads) it signs here.
pub(super) async fn run<T: Send + 'static>(
    starter: Option<&ThreadStarter>,
    sign: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let lend = can_block_in_place();
    let pool = SigningPool::get(starter);
    match pool.place(lend) {
        SignAt::ThisThread => {
            let _running = Running(pool);
            Some(tokio::task::block_in_place(sign))
        }
        SignAt::ThisThreadNoPool if lend => Some(tokio::task::block_in_place(sign)),
        SignAt::ThisThreadNoPool => Some(sign()),
        SignAt::SigningThread => {
            let (reply, answer) = tokio::sync::oneshot::channel();
            pool.enqueue(Box::new(move || {
                let _ = reply.send(sign());
            }));
            answer.await.ok()
        }
    }
}

/// Whether this is a multi-threaded runtime's thread, which `block_in_place` can lend.
fn can_block_in_place() -> bool {
    use tokio::runtime::{Handle, RuntimeFlavor};
    Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// Signs with the pool's threads started as the platform would: plain OS threads.
    async fn run<T: Send + 'static>(sign: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let threads = ThreadStarter::new(|_name, job| {
            std::thread::spawn(job);
            Ok(())
        });
        super::run(Some(&threads), sign).await
    }

    /// A job that records how many jobs run at once while it sleeps.
    fn counted(now: &Arc<AtomicUsize>, most: &Arc<AtomicUsize>) -> impl FnOnce() -> u32 {
        let (now, most) = (Arc::clone(now), Arc::clone(most));
        move || {
            let running = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(running, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            now.fetch_sub(1, Ordering::SeqCst);
            7
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_signatures_run_at_once_than_there_are_cores() {
        let (now, most) = (Arc::default(), Arc::default());
        let tasks: Vec<_> = (0..24)
            .map(|_| tokio::spawn(run(counted(&now, &most))))
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Some(7));
        }
        let limit = SigningPool::get(None).limit;
        let most = most.load(Ordering::SeqCst);
        assert!(
            most <= limit,
            "{most} signatures ran at once, limit {limit}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_single_threaded_runtime_goes_on_while_a_signature_is_made() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let mut signature = tokio::spawn(run(move || rx.recv().is_ok()));
        // Nothing can sign in place here: the job waits on a signing thread, and this
        // runtime's only thread is free to run the rest.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!signature.is_finished());
        tx.send(()).unwrap();
        assert_eq!((&mut signature).await.unwrap(), Some(true));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_signature_loses_only_its_own_reply() {
        let (now, most) = (Arc::default(), Arc::default());
        // Keep the pool busy so the panicking job is queued for a signing thread.
        let busy: Vec<_> = (0..4)
            .map(|_| tokio::spawn(run(counted(&now, &most))))
            .collect();
        let lost = tokio::spawn(run(|| -> u32 { panic!("signature failed") }));
        for task in busy {
            assert_eq!(task.await.unwrap(), Some(7));
        }
        let lost = lost.await;
        assert!(matches!(lost, Ok(None)) || lost.is_err_and(|e| e.is_panic()));
        assert_eq!(run(|| 5).await, Some(5));
        let after: Vec<_> = (0..4)
            .map(|_| tokio::spawn(run(counted(&now, &most))))
            .collect();
        for task in after {
            assert_eq!(task.await.unwrap(), Some(7));
        }
    }
}
