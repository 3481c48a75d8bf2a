//! `ssh-add -x` / `-X`: the agent lock. Only a salted, iterated hash of the passphrase is kept,
//! and it is compared in constant time. Unlock attempts take turns agent-wide ([`UnlockTurns`]):
//! one attempt is checked at a time, and a wrong one keeps the turn through its delay (0.1 s more
//! per failure since the last right one, at most 10 s, as OpenSSH), so guesses spread over many
//! connections are no faster than guesses on one, as with OpenSSH's single-threaded agent. Only
//! unlock attempts wait for the turn: every other request, on any connection, is served
//! meanwhile (while locked: listing nothing, refusing the rest).

use super::Agent;
use crate::proto::Response;
use sha2::{Digest, Sha256};
use std::time::Duration;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const ROUNDS: u32 = 4096;
const MAX_FAILURES: u32 = 100;
const DELAY_STEP: Duration = Duration::from_millis(100);

#[derive(Default)]
pub(crate) struct LockState {
    locked: Option<Locked>,
    failures: u32,
}

struct Locked {
    salt: [u8; 16],
    hash: Zeroizing<[u8; 32]>,
}

/// Outcome of an unlock attempt.
pub(crate) enum Unlock {
    Unlocked,
    NotLocked,
    /// Wrong passphrase: reply FAILURE after this delay.
    Wrong(Duration),
}

impl LockState {
    pub(crate) fn is_locked(&self) -> bool {
        self.locked.is_some()
    }

    /// Locks with `passphrase`; false when already locked or the passphrase is empty.
    pub(crate) fn lock(&mut self, passphrase: &[u8], salt: [u8; 16]) -> bool {
        if self.locked.is_some() || passphrase.is_empty() {
            return false;
        }
        self.locked = Some(Locked {
            salt,
            hash: hash(&salt, passphrase),
        });
        true
    }

    pub(crate) fn unlock(&mut self, passphrase: &[u8]) -> Unlock {
        let Some(locked) = &self.locked else {
            return Unlock::NotLocked;
        };
        let candidate = hash(&locked.salt, passphrase);
        if bool::from(candidate.ct_eq(&*locked.hash)) && !passphrase.is_empty() {
            self.locked = None;
            self.failures = 0;
            Unlock::Unlocked
        } else {
            self.failures = (self.failures + 1).min(MAX_FAILURES);
            Unlock::Wrong(DELAY_STEP * self.failures)
        }
    }
}

/// The agent-wide turn of unlock attempts: held from the passphrase check to the end of a wrong
/// attempt's delay, and first come, first served (tokio's mutex is fair).
#[derive(Default)]
pub(crate) struct UnlockTurns(tokio::sync::Mutex<()>);

impl Agent {
    /// Answers `SSH_AGENTC_UNLOCK` once every earlier attempt has had its turn.
    pub(super) async fn unlock(&self, passphrase: &[u8]) -> Response {
        let _turn = self.shared.unlock_turns.0.lock().await;
        let outcome = self.lock_state().unlock(passphrase);
        match outcome {
            Unlock::Unlocked => {
                self.changed();
                Response::Success
            }
            Unlock::NotLocked => Response::Failure,
            Unlock::Wrong(delay) => {
                tracing::info!(target: "agentry::lock", delay_ms = delay.as_millis() as u64, "wrong unlock passphrase");
                tokio::time::sleep(delay).await;
                Response::Failure
            }
        }
    }
}

fn hash(salt: &[u8; 16], passphrase: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    let mut h = Sha256::new();
    h.update(salt);
    h.update(passphrase);
    out.copy_from_slice(&h.finalize());
    for _ in 1..ROUNDS {
        let mut h = Sha256::new();
        h.update(salt);
        h.update(*out);
        out.copy_from_slice(&h.finalize());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_by_a_tenth_and_caps_at_ten_seconds() {
        let mut s = LockState::default();
        assert!(s.lock(b"pw", [7; 16]));
        let mut delays = Vec::new();
        for _ in 0..120 {
            match s.unlock(b"wrong") {
                Unlock::Wrong(d) => delays.push(d),
                _ => panic!("wrong passphrase unlocked"),
            }
        }
        assert_eq!(delays[0], Duration::from_millis(100));
        assert_eq!(delays[1], Duration::from_millis(200));
        assert_eq!(delays[99], Duration::from_secs(10));
        assert_eq!(delays[119], Duration::from_secs(10));
        assert!(matches!(s.unlock(b"pw"), Unlock::Unlocked));
        assert!(matches!(s.unlock(b"pw"), Unlock::NotLocked));
    }

    #[test]
    fn empty_passphrase_cannot_lock_and_relock_fails() {
        let mut s = LockState::default();
        assert!(!s.lock(b"", [0; 16]));
        assert!(s.lock(b"a", [0; 16]));
        assert!(!s.lock(b"b", [0; 16]));
    }
}
