//! One rate budget per API key, shared by everything in the process, that holds requests
//! back *before* they are sent.
//!
//! Zavu limits each project with a fixed one-minute window whose size depends on the tier
//! (600, 1,200 or 2,400 requests). Rather than assume a tier, the budget learns it from
//! the answers: `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
//! (epoch ms). A request may go while the server's last word on the window's remaining
//! count, minus the requests still in flight, is positive. The first request, and the
//! first of each new window, go alone as a probe so the budget learns the new window
//! before anyone else spends it. A 429 pauses every request on the key until the server's
//! `Retry-After`. A server that sends no such headers is not paced at all.
//!
//! This is home-made rather than a limiter crate because it must read the server's headers
//! and count in-flight requests; a crate limiter (governor) is used for what it does well,
//! the fixed `--rate N` cap on top.

use super::key::ApiKey;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// How long after the window's advertised reset we wait before probing the next one, so a
/// small clock difference with the server does not cost a 429.
const RESET_GUARD_MS: i64 = 100;

/// What the budget knows about the server's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Learned {
    /// No answer yet: send one request and see.
    Unknown,
    /// The server sends no rate-limit headers: do not pace.
    Unpaced,
    /// The server's window: `limit` per window, which ends at `reset_ms`.
    Paced { limit: u64 },
}

/// The rate-limit facts one answer carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub status: u16,
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_ms: Option<i64>,
    /// For a 429: how long the server asked us to wait.
    pub retry_after_ms: Option<i64>,
}

impl Observed {
    pub fn from_headers(
        status: u16,
        headers: &http::HeaderMap,
        retry_after: Option<Duration>,
    ) -> Self {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        Observed {
            status,
            limit: num("x-ratelimit-limit").map(|v| v as u64),
            remaining: num("x-ratelimit-remaining").map(|v| v as u64),
            reset_ms: num("x-ratelimit-reset").map(|v| v as i64),
            retry_after_ms: retry_after.map(|d| d.as_millis() as i64),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Go { probe: bool },
    WaitUntil(i64),
    WaitForAnswer,
}

/// The budget's bookkeeping, as pure state transitions of "now" so it can be tested
/// without a clock.
#[derive(Debug)]
pub(crate) struct Window {
    learned: Learned,
    reset_ms: i64,
    remaining: u64,
    in_flight: u64,
    probe_out: bool,
    paused_until_ms: i64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            learned: Learned::Unknown,
            reset_ms: 0,
            remaining: 0,
            in_flight: 0,
            probe_out: false,
            paused_until_ms: 0,
        }
    }
}

impl Window {
    fn go(&mut self, probe: bool) -> Decision {
        self.in_flight += 1;
        if probe {
            self.probe_out = true;
        }
        Decision::Go { probe }
    }

    pub(crate) fn decide(&mut self, now_ms: i64) -> Decision {
        if now_ms < self.paused_until_ms {
            return Decision::WaitUntil(self.paused_until_ms);
        }
        match self.learned {
            Learned::Unpaced => self.go(false),
            Learned::Unknown if self.probe_out => Decision::WaitForAnswer,
            Learned::Unknown => self.go(true),
            Learned::Paced { .. } => {
                let next_window = self.reset_ms + RESET_GUARD_MS;
                if self.probe_out {
                    Decision::WaitForAnswer
                } else if now_ms >= next_window {
                    self.go(true)
                } else if self.remaining > self.in_flight {
                    self.go(false)
                } else {
                    Decision::WaitUntil(next_window)
                }
            }
        }
    }

    pub(crate) fn observe(&mut self, probe: bool, seen: Observed, now_ms: i64) {
        self.finish(probe);
        match (seen.limit, seen.remaining, seen.reset_ms) {
            (Some(limit), Some(remaining), Some(reset)) => {
                let newer = !matches!(self.learned, Learned::Paced { .. }) || reset > self.reset_ms;
                if newer {
                    self.learned = Learned::Paced { limit };
                    self.reset_ms = reset;
                    self.remaining = remaining;
                } else if reset == self.reset_ms {
                    // Answers arrive out of order; within a window "remaining" only falls.
                    self.remaining = self.remaining.min(remaining);
                    self.learned = Learned::Paced { limit };
                }
            }
            _ if probe && seen.status != 429 && seen.status < 500 => {
                self.learned = Learned::Unpaced;
            }
            _ => {}
        }
        if seen.status == 429 {
            let wait = seen
                .retry_after_ms
                .or(seen.reset_ms.map(|r| r - now_ms))
                .unwrap_or(1000)
                .max(0);
            self.paused_until_ms = self.paused_until_ms.max(now_ms + wait);
            self.remaining = 0;
        }
    }

    /// A request ended with no answer to learn from.
    pub(crate) fn finish(&mut self, probe: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if probe {
            self.probe_out = false;
        }
    }
}

/// The shared budget of one API key on one server.
pub struct RateBudget {
    window: Mutex<Window>,
    answered: Notify,
    cap: Option<DefaultDirectRateLimiter>,
    rate_limited: AtomicU64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

static REGISTRY: LazyLock<Mutex<HashMap<String, Arc<RateBudget>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl RateBudget {
    pub fn new(cap_per_minute: Option<u32>) -> Self {
        let cap = cap_per_minute
            .and_then(NonZeroU32::new)
            .map(|n| RateLimiter::direct(Quota::per_minute(n).allow_burst(NonZeroU32::MIN)));
        RateBudget {
            window: Mutex::new(Window::default()),
            answered: Notify::new(),
            cap,
            rate_limited: AtomicU64::new(0),
        }
    }

    /// The process-wide budget for this key on this server. A later, lower `--rate` cap
    /// does not replace an earlier one: the first client to ask sets it.
    pub fn shared(base_url: &str, key: &ApiKey, cap_per_minute: Option<u32>) -> Arc<RateBudget> {
        let id = format!("{base_url}#{}", key.fingerprint());
        let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
        registry
            .entry(id)
            .or_insert_with(|| Arc::new(RateBudget::new(cap_per_minute)))
            .clone()
    }

    fn window(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a request may be sent, and counts it as in flight.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        if let Some(cap) = &self.cap {
            cap.until_ready().await;
        }
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            let decision = self.window().decide(now_ms());
            let wait = match decision {
                Decision::Go { probe } => {
                    return Permit {
                        budget: self.clone(),
                        probe,
                        open: true,
                    };
                }
                Decision::WaitUntil(t) => {
                    Duration::from_millis((t - now_ms()).clamp(1, 60_000) as u64)
                }
                // Re-check now and then even without news, in case an answer never comes.
                Decision::WaitForAnswer => Duration::from_secs(1),
            };
            tokio::select! {
                _ = answered => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// How many 429 answers this key has received in this process.
    pub fn rate_limited_count(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }
}

/// A request's place in the budget; give it the answer with [`Permit::observe`], or drop it
/// if none came.
pub struct Permit {
    budget: Arc<RateBudget>,
    probe: bool,
    open: bool,
}

impl Permit {
    pub fn observe(mut self, seen: Observed) {
        self.open = false;
        if seen.status == 429 {
            self.budget.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        self.budget.window().observe(self.probe, seen, now_ms());
        self.budget.answered.notify_waiters();
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.open {
            self.budget.window().finish(self.probe);
            self.budget.answered.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(status: u16, limit: u64, remaining: u64, reset: i64) -> Observed {
        Observed {
            status,
            limit: Some(limit),
            remaining: Some(remaining),
            reset_ms: Some(reset),
            retry_after_ms: None,
        }
    }

    #[test]
    fn first_request_probes_then_unpaced_server_is_not_held_back() {
        let mut w = Window::default();
        assert_eq!(w.decide(0), Decision::Go { probe: true });
        assert_eq!(w.decide(0), Decision::WaitForAnswer);
        w.observe(
            true,
            Observed {
                status: 201,
                ..Default::default()
            },
            0,
        );
        for _ in 0..100 {
            assert_eq!(w.decide(0), Decision::Go { probe: false });
        }
    }

    #[test]
    fn never_sends_more_than_the_window_allows() {
        let mut w = Window::default();
        let reset = 60_000;
        assert_eq!(w.decide(0), Decision::Go { probe: true });
        w.observe(true, seen(200, 5, 4, reset), 10);
        // 4 remain: four may go while none has answered.
        for _ in 0..4 {
            assert_eq!(w.decide(20), Decision::Go { probe: false });
        }
        assert_eq!(w.decide(20), Decision::WaitUntil(reset + RESET_GUARD_MS));
        // Answers come back out of order; the budget never rises within a window.
        w.observe(false, seen(200, 5, 0, reset), 30);
        w.observe(false, seen(200, 5, 2, reset), 31);
        assert_eq!(w.decide(40), Decision::WaitUntil(reset + RESET_GUARD_MS));
        // After the reset, one probe learns the new window.
        assert_eq!(
            w.decide(reset + RESET_GUARD_MS),
            Decision::Go { probe: true }
        );
        assert_eq!(w.decide(reset + RESET_GUARD_MS), Decision::WaitForAnswer);
        w.observe(true, seen(200, 5, 4, 2 * reset), reset + 150);
        assert_eq!(w.decide(reset + 160), Decision::Go { probe: false });
    }

    #[test]
    fn a_429_pauses_everyone_until_retry_after() {
        let mut w = Window::default();
        w.decide(0);
        w.observe(true, seen(200, 10, 9, 60_000), 0);
        w.decide(0);
        let mut limited = seen(429, 10, 0, 60_000);
        limited.retry_after_ms = Some(2_000);
        w.observe(false, limited, 100);
        assert_eq!(w.decide(200), Decision::WaitUntil(2_100));
    }

    #[test]
    fn learns_a_limit_that_appears_later() {
        let mut w = Window::default();
        w.decide(0);
        w.observe(
            true,
            Observed {
                status: 200,
                ..Default::default()
            },
            0,
        );
        w.decide(0);
        w.observe(false, seen(200, 3, 0, 1_000), 5);
        assert_eq!(w.decide(10), Decision::WaitUntil(1_000 + RESET_GUARD_MS));
    }
}
