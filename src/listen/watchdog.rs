//! How long the handler's current run may take: a run that outlives `--handler-timeout` is
//! asked to stop (its stop flag is what the script's progress hook and every waiting API
//! call watch), and fails like any other attempt — retried with backoff, then kept as
//! failed. A run still going well past that, having ignored the request, is reported as
//! stalled to `/healthz`. The shutdown also stops the run in hand, through the same flag.
//!
//! Owns the per-run stop flag and the current run's start; runs no script and touches no
//! inbox.

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
                let current = dog.current.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((_, since)) = current.as_ref()
                    && !dog.timeout.is_zero()
                    && since.elapsed() > dog.timeout
                {
                    dog.run_stop.trigger(format!(
                        "the handler ran longer than --handler-timeout {}",
                        crate::duration::format(dog.timeout)
                    ));
                }
            }
        });
        dog
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
}
