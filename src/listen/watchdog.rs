//! How long the handler's current run may take: a run that outlives `--handler-timeout` is
//! asked to stop (its stop flag is what the script's progress hook and every waiting API
//! call watch), and fails like any other attempt — retried with backoff, then kept as
//! failed. A run still going well past that, having ignored the request, is reported as
//! stalled to `/healthz`. The shutdown also stops the run in hand, through the same flag.
//! On the state database, so does losing touch with it: once the heartbeat has not been
//! answered for half the lease, the event may soon be another replica's, so the run in hand
//! is stopped rather than left to run beside a second one.
//!
//! Owns the per-run stop flag and the current run's start; runs no script and touches no
//! inbox.

use super::inbox_pg_heartbeat::Heartbeat;
use crate::stop::Stop;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long past its timeout a run may take to stop before it counts as stalled.
const STALL_GRACE: Duration = Duration::from_secs(30);

/// How often the watchdog looks.
const LOOK_EVERY: Duration = Duration::from_millis(100);

pub struct Watchdog {
    /// What the handler's engine watches: triggered by a timeout or the shutdown.
    run_stop: Arc<Stop>,
    timeout: Duration,
    /// The run in hand: its event and when it started. Changed, and the flag reset, under
    /// this lock, so a timeout meant for one run never lands on the next.
    current: Mutex<Option<(String, Instant)>>,
    /// On the state database: the heartbeat that renews the claims, and their lease.
    lease: Mutex<Option<(Arc<Heartbeat>, Duration)>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Watchdog {
    /// A watchdog for runs of at most `timeout`; `shutdown` stops the run in hand too.
    pub fn start(
        handle: &tokio::runtime::Handle,
        timeout: Duration,
        shutdown: Arc<Stop>,
    ) -> Arc<Watchdog> {
        let dog = Arc::new(Watchdog {
            run_stop: Arc::new(Stop::default()),
            timeout,
            current: Mutex::new(None),
            lease: Mutex::new(None),
        });
        let watched = Arc::downgrade(&dog);
        handle.spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.stopped() => {
                        if let Some(dog) = watched.upgrade() {
                            dog.run_stop.trigger("the receiver is shutting down");
                        }
                        return;
                    }
                    _ = tokio::time::sleep(LOOK_EVERY) => {}
                }
                let Some(dog) = watched.upgrade() else { return };
                dog.look();
            }
        });
        dog
    }

    /// Stops the run in hand when it is past its timeout, or its claim's lease can no
    /// longer be counted on.
    fn look(&self) {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let Some((_, since)) = current.as_ref() else {
            return;
        };
        if !self.timeout.is_zero() && since.elapsed() > self.timeout {
            self.run_stop.trigger(format!(
                "the handler ran longer than --handler-timeout {}",
                crate::duration::format(self.timeout)
            ));
        }
        let lease = self.lease.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((beat, ttl)) = lease.as_ref() {
            // The claim itself renewed the lease when the run began.
            let began = now_ms() - since.elapsed().as_millis() as i64;
            let heard = beat
                .answered_at_ms
                .load(std::sync::atomic::Ordering::Relaxed);
            let silent = now_ms() - heard.max(began);
            if silent > (ttl.as_millis() / 2) as i64 {
                self.run_stop.trigger(format!(
                    "the state database has not answered this replica for {}: the event's \
                     lease ({}) may pass to another replica, so this run stops",
                    crate::duration::format(Duration::from_millis(silent as u64)),
                    crate::duration::format(*ttl)
                ));
            }
        }
    }

    /// Runs are claims in the state database, renewed by `beat` for `ttl`.
    pub fn watch_lease(&self, beat: Arc<Heartbeat>, ttl: Duration) {
        *self.lease.lock().unwrap_or_else(|p| p.into_inner()) = Some((beat, ttl));
    }

    /// The flag the handler's engine and its API calls watch.
    pub fn run_stop(&self) -> Arc<Stop> {
        self.run_stop.clone()
    }

    /// A run for `event` begins: a timeout left over from the run before is cleared (a
    /// shutdown is not).
    pub fn begin(&self, event: &str, shutdown: &Stop) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if !shutdown.is_set() {
            self.run_stop.reset();
        }
        *current = Some((event.to_string(), Instant::now()));
    }

    /// The run ended.
    pub fn end(&self) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// For `/healthz`: a run that has ignored being stopped for a while.
    pub fn stalled(&self) -> Option<String> {
        self.stalled_after(STALL_GRACE)
    }

    fn stalled_after(&self, grace: Duration) -> Option<String> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let (event, since) = current.as_ref()?;
        let took = since.elapsed();
        (!self.timeout.is_zero() && took > self.timeout + grace).then(|| {
            format!(
                "the handler has been running event {event} for {}, past --handler-timeout {}, \
                 and has not stopped: recorded events wait behind it",
                crate::duration::format(took),
                crate::duration::format(self.timeout)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn a_run_past_its_timeout_is_stopped_and_the_next_starts_clear() {
        let shutdown = Arc::new(Stop::default());
        let dog = Watchdog::start(
            &tokio::runtime::Handle::current(),
            Duration::from_millis(200),
            shutdown.clone(),
        );
        dog.begin("evt_1", &shutdown);
        let stop = dog.run_stop();
        tokio::time::timeout(Duration::from_secs(5), stop.stopped())
            .await
            .expect("stopped after its timeout");
        assert!(stop.reason().unwrap().contains("--handler-timeout 200ms"));
        assert_eq!(dog.stalled(), None, "within the grace");
        let stalled = dog.stalled_after(Duration::ZERO).expect("past the grace");
        assert!(stalled.contains("running event evt_1"), "{stalled}");
        dog.end();
        dog.begin("evt_2", &shutdown);
        assert!(!stop.is_set(), "the next run starts clear");
        dog.end();
        shutdown.trigger("bye");
        tokio::time::timeout(Duration::from_secs(5), stop.stopped())
            .await
            .expect("the shutdown stops the run in hand");
        dog.begin("evt_3", &shutdown);
        assert!(stop.is_set(), "a shutdown is not cleared");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_run_whose_lease_is_no_longer_renewed_is_stopped() {
        let shutdown = Arc::new(Stop::default());
        let dog = Watchdog::start(
            &tokio::runtime::Handle::current(),
            Duration::ZERO,
            shutdown.clone(),
        );
        let beat = Arc::new(Heartbeat::default());
        dog.watch_lease(beat.clone(), Duration::from_millis(600));
        let stop = dog.run_stop();
        dog.begin("evt_1", &shutdown);
        // Answered all along: the run goes on.
        for _ in 0..10 {
            beat.answered_at_ms
                .store(now_ms(), std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!stop.is_set(), "{:?}", stop.reason());
        // Silent: stopped within about half the lease.
        tokio::time::timeout(Duration::from_secs(5), stop.stopped())
            .await
            .expect("stopped once the database went quiet");
        assert!(
            stop.reason()
                .unwrap()
                .contains("may pass to another replica")
        );
    }
}
