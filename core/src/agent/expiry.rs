//! Key lifetimes end on time. [`Agent::expire_keys_forever`] is a timer the platform runs beside
//! its transports: it sleeps until the earliest deadline in the keystore, removes every key whose
//! lifetime has ended — dropping its entry, so the key material is freed and zeroized then, as
//! soon as no in-flight request still holds it — and sleeps again. A key added with an earlier
//! deadline wakes it ([`ExpiryTimer::deadline_moved_earlier`]).
//!
//! Deadlines are instants of the agent's [`Clock`](crate::clock::Clock), which may count time the
//! machine was suspended (the platform's boot clock does) while tokio's timer does not. So no
//! sleep lasts longer than [`EXPIRY_RECHECK`]: a lifetime that ends while the machine sleeps ends
//! at most that long after it resumes. Meanwhile, and whenever the timer is not running at all,
//! every keystore access still drops what has expired first, so an expired key is never listed
//! or used.

use super::Agent;
use std::time::Duration;
use tokio::sync::Notify;

/// Longest the timer sleeps before it reads the agent's clock again: the bound on how late a key
/// is removed after a resume from suspend (without any request in between).
pub const EXPIRY_RECHECK: Duration = Duration::from_secs(5);

/// What the timer waits on.
#[derive(Debug, Default)]
pub(crate) struct ExpiryTimer {
    /// Signalled when a deadline earlier than every other one is added (a permit is kept if the
    /// timer is not waiting yet, so none is lost).
    earlier_deadline: Notify,
    /// Held by the running timer: a second call waits, and takes over if the first is dropped.
    running: tokio::sync::Mutex<()>,
}

impl ExpiryTimer {
    /// Wakes the timer to sleep until the new, earlier deadline instead.
    pub(crate) fn deadline_moved_earlier(&self) {
        self.earlier_deadline.notify_one();
    }
}

impl Agent {
    /// Removes keys when their lifetime ends, with no request needed; never returns. The platform
    /// spawns it on its runtime while it serves the agent, and aborts it to stop. One runs per
    /// agent at a time: a further call waits until the running one is dropped.
    pub async fn expire_keys_forever(&self) {
        let timer = &self.shared.expiry;
        let _running = timer.running.lock().await;
        loop {
            // `keys()` removes what has expired before it returns the keystore.
            let next = self.keys().next_expiry();
            match next {
                None => timer.earlier_deadline.notified().await,
                Some(deadline) => {
                    let nap = deadline
                        .saturating_duration_since(self.now())
                        .min(EXPIRY_RECHECK);
                    tokio::select! {
                        () = timer.earlier_deadline.notified() => {}
                        () = tokio::time::sleep(nap) => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentOptions;
    use crate::clock::Clock;
    use crate::session::{ClientInfo, Session};
    use std::sync::{Arc, Mutex, Weak};
    use tokio::time::Instant;

    const ADD_ED25519_T60: &[u8] =
        include_bytes!("../../../tests/fixtures/requests/ssh-add-t60-ed25519.bin");

    fn session() -> Session {
        Session::new(ClientInfo::default())
    }

    /// ssh-add's request with the lifetime replaced by `secs` (its last 4 bytes: `-t 60`).
    fn add_with_lifetime(secs: u32) -> Vec<u8> {
        let mut body = ADD_ED25519_T60.to_vec();
        let at = body.len() - 4;
        assert_eq!(
            body[at..],
            60u32.to_be_bytes(),
            "fixture ends with its lifetime"
        );
        body[at..].copy_from_slice(&secs.to_be_bytes());
        body
    }

    async fn add(agent: &Agent, body: &[u8]) {
        assert_eq!(
            agent.handle_message(&mut session(), body).await,
            [crate::proto::msg::SUCCESS]
        );
    }

    /// The key material of every held key, read without the keystore's own expiry on access
    /// (which would hide whether the timer did the work).
    fn held_material(agent: &Agent) -> Vec<Weak<crate::keys::SigningKey>> {
        let keys = agent.shared.keys.lock().unwrap();
        keys.entries()
            .map(|e| Arc::downgrade(&e.key.cleartext().expect("a cleartext key")))
            .collect()
    }

    /// Lets every task that is ready (the timer) run.
    async fn settle() {
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    }

    fn spawn_timer(agent: &Agent) -> tokio::task::JoinHandle<()> {
        let agent = agent.clone();
        tokio::spawn(async move { agent.expire_keys_forever().await })
    }

    #[tokio::test(start_paused = true)]
    async fn key_material_is_freed_at_the_deadline_without_any_request() {
        let agent = Agent::new(AgentOptions::new());
        let timer = spawn_timer(&agent);
        let added = Instant::now();
        add(&agent, ADD_ED25519_T60).await;
        let material = held_material(&agent);
        assert_eq!(material.len(), 1);

        tokio::time::sleep_until(added + Duration::from_secs(60) - Duration::from_millis(1)).await;
        settle().await;
        assert!(
            material[0].upgrade().is_some(),
            "removed before its deadline"
        );

        tokio::time::sleep_until(added + Duration::from_secs(60)).await;
        settle().await;
        assert!(
            material[0].upgrade().is_none(),
            "the key material outlived its lifetime"
        );
        assert_eq!(agent.shared.keys.lock().unwrap().len(), 0);
        timer.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_added_while_the_timer_sleeps_wakes_it() {
        let agent = Agent::new(AgentOptions::new());
        let timer = spawn_timer(&agent);
        add(&agent, ADD_ED25519_T60).await;
        settle().await; // the timer now sleeps towards the 60 s deadline
        let started = Instant::now();
        // The same key again with 1 s: replaced in place, now due in 1 s.
        add(&agent, &add_with_lifetime(1)).await;
        let material = held_material(&agent);

        tokio::time::sleep_until(started + Duration::from_secs(1)).await;
        settle().await;
        assert!(material[0].upgrade().is_none(), "still held after 1 s");
        timer.abort();
    }

    /// tokio's clock, plus time "suspended" that tokio's timer does not see (as after a resume,
    /// with the boot clock).
    #[derive(Default)]
    struct SuspendingClock(Mutex<Duration>);

    impl Clock for SuspendingClock {
        fn now(&self) -> Instant {
            Instant::now() + *self.0.lock().unwrap()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_lifetime_that_ended_during_suspend_ends_within_the_recheck_bound_after_resume() {
        let clock = Arc::new(SuspendingClock::default());
        let agent = Agent::with_parts(AgentOptions::new(), None, clock.clone());
        let timer = spawn_timer(&agent);
        add(&agent, &add_with_lifetime(3600)).await;
        let material = held_material(&agent);
        settle().await;

        // Suspended for two hours: the agent's clock jumps, tokio's timer is still mid-sleep.
        *clock.0.lock().unwrap() = Duration::from_secs(7200);
        let resumed = Instant::now();
        tokio::time::sleep_until(resumed + EXPIRY_RECHECK).await;
        settle().await;
        assert!(
            material[0].upgrade().is_none(),
            "still held {EXPIRY_RECHECK:?} after the resume"
        );
        timer.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_timer_waits_and_takes_over_when_the_first_stops() {
        let agent = Agent::new(AgentOptions::new());
        let first = spawn_timer(&agent);
        settle().await;
        let second = spawn_timer(&agent);
        settle().await;
        first.abort();
        settle().await;
        let added = Instant::now();
        add(&agent, &add_with_lifetime(2)).await;
        let material = held_material(&agent);
        tokio::time::sleep_until(added + Duration::from_secs(2)).await;
        settle().await;
        assert!(material[0].upgrade().is_none());
        second.abort();
    }
}
