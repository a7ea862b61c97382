//! How the handler's workers learn there may be something new to look at: the receiver (an
//! event recorded), the catch-up, the state database's notifications and the shutdown ring
//! a worker's bell; an idle worker sleeps until it rings or its own deadline comes. A worker
//! notes the count before it looks, and waits only while nothing has rung since — so a ring
//! that comes during a look is never lost, and one look answers every ring before it,
//! however many events a burst brought. Each worker has a bell of its own ([`Bells`]): a new
//! event on SQLite rings only its invitation's worker, so idle workers do not look at the
//! inbox for every event of another's part. It wakes; it reads nothing and decides nothing.

use super::inbox_schema::{Shard, shard_of};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// One bell per worker (per part of the inbox).
pub struct Bells {
    parts: Vec<Arc<Bell>>,
    /// Whether a new event's part is known here: on SQLite the part is [`shard_of`] the
    /// invitation; on Postgres the database computes it its own way, so every bell rings.
    by_invitation: bool,
}

impl Bells {
    pub fn new(parts: u32, by_invitation: bool) -> Bells {
        Bells {
            parts: (0..parts.max(1)).map(|_| Arc::default()).collect(),
            by_invitation,
        }
    }

    /// The bell of the worker that takes `shard`.
    pub fn part(&self, shard: Shard) -> Arc<Bell> {
        self.parts[shard.index as usize % self.parts.len()].clone()
    }

    /// Every worker may have something to look at: a catch-up, a notification, the shutdown.
    pub fn ring_all(&self) {
        for bell in &self.parts {
            bell.ring();
        }
    }

    /// An event of `invitation_id` was recorded: its worker looks.
    pub fn ring_for(&self, invitation_id: &str) {
        if self.parts.len() == 1 {
            self.parts[0].ring();
        } else if self.by_invitation {
            let part = shard_of(invitation_id, self.parts.len() as u32) as usize;
            self.parts[part].ring();
        } else {
            self.ring_all();
        }
    }
}

#[derive(Default)]
pub struct Bell {
    state: Mutex<Rings>,
    rung: Condvar,
}

#[derive(Default)]
struct Rings {
    count: u64,
    /// Workers waiting now: only then does a ring need a wake-up (a system call even
    /// when nobody waits), so a burst of deliveries to busy workers costs none.
    sleepers: usize,
}

impl Bell {
    fn lock(&self) -> std::sync::MutexGuard<'_, Rings> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn ring(&self) {
        let mut rings = self.lock();
        rings.count = rings.count.wrapping_add(1);
        if rings.sleepers > 0 {
            self.rung.notify_all();
        }
    }

    /// The rings so far: note it before a look, then [`Bell::wait`] with it.
    pub fn rung(&self) -> u64 {
        self.lock().count
    }

    /// Returns once the bell has rung since `seen` was noted, or after `timeout`.
    pub fn wait(&self, seen: u64, timeout: Duration) {
        let mut rings = self.lock();
        if rings.count != seen {
            return;
        }
        rings.sleepers += 1;
        let (mut rings, _) = self
            .rung
            .wait_timeout_while(rings, timeout, |r| r.count == seen)
            .unwrap_or_else(|p| p.into_inner());
        rings.sleepers -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn a_ring_after_the_count_was_noted_is_not_lost() {
        let bell = Bell::default();
        let seen = bell.rung();
        bell.ring();
        let started = Instant::now();
        bell.wait(seen, Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(60), "woke at once");
    }

    #[test]
    fn every_waiting_worker_wakes() {
        let bell = Arc::new(Bell::default());
        let seen = bell.rung();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let bell = bell.clone();
                std::thread::spawn(move || bell.wait(seen, Duration::from_secs(60)))
            })
            .collect();
        while bell.lock().sleepers < 3 {
            std::thread::yield_now();
        }
        bell.ring();
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(bell.lock().sleepers, 0);
    }

    #[test]
    fn a_new_event_rings_its_own_worker_on_sqlite_and_every_one_on_postgres() {
        let invitation = "inv_abc";
        let mine = shard_of(invitation, 4);
        for by_invitation in [true, false] {
            let bells = Bells::new(4, by_invitation);
            let before: Vec<u64> = Shard::each(4).map(|s| bells.part(s).rung()).collect();
            bells.ring_for(invitation);
            for (shard, was) in Shard::each(4).zip(before) {
                let rang = bells.part(shard).rung() != was;
                assert_eq!(rang, !by_invitation || shard.index == mine, "{shard:?}");
            }
        }
    }

    #[test]
    fn with_nothing_rung_the_wait_ends_at_its_timeout() {
        let bell = Bell::default();
        bell.wait(bell.rung(), Duration::from_millis(1));
        assert_eq!(bell.lock().sleepers, 0);
    }
}
