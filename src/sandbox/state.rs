//! The shared state behind every sandbox route: the store, the virtual clock, faults,
//! rate-limit windows, counters, the webhook delivery log, the keys it accepts, and the
//! hooks that schedule a save and wake the deliverer.
//! Locks are plain mutexes held only for in-memory work, never across an `.await`.

use super::clock::Clock;
use super::delivery_log::DeliveryLog;
use super::faults::{Faults, RateWindows};
use super::stats::Stats;
use super::store::Store;
use axum::http::HeaderMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

pub struct AppState {
    pub store: Mutex<Store>,
    pub clock: Clock,
    pub faults: Mutex<Faults>,
    pub windows: Mutex<RateWindows>,
    pub stats: Mutex<Stats>,
    pub deliveries: Mutex<DeliveryLog>,
    /// Wakes the webhook deliverer: an event queued, the clock moved, an attempt ended.
    pub deliver_wake: Notify,
    keys: Keys,
    /// The address the sandbox was reached at when a request carries no `Host`.
    pub base_url: String,
    pub project_name: String,
    /// Wakes the saver when the state file is in use.
    pub dirty: Option<Arc<Notify>>,
    /// Requests per key and minute allowed (and advertised) when no `rateLimitPerMinute`
    /// fault is set.
    pub budget_per_minute: u64,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
}

/// Which bearer keys are accepted.
#[derive(Clone, Debug)]
pub enum Keys {
    Only(Vec<String>),
}

/// Locks a mutex even if a previous holder panicked: the sandbox's data stays consistent
/// under every early return, so a poisoned lock is no reason to stop serving.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppState {
    pub fn new(
        store: Store,
        clock: Clock,
        keys: Keys,
        base_url: String,
        dirty: Option<Arc<Notify>>,
        budget_per_minute: u64,
        body_timeout: Duration,
    ) -> Self {
        AppState {
            store: Mutex::new(store),
            clock,
            faults: Mutex::new(Faults::default()),
            windows: Mutex::new(RateWindows::default()),
            stats: Mutex::new(Stats::default()),
            deliveries: Mutex::new(DeliveryLog::default()),
            deliver_wake: Notify::new(),
            keys,
            base_url,
            project_name: "Sandbox Project".into(),
            dirty,
            budget_per_minute,
            body_timeout,
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// The injected error this `/v1` request gets, if any (see [`Faults::take_error`]).
    pub fn take_injected_error(&self) -> Option<u16> {
        lock(&self.faults).take_error()
    }

    pub fn accepts(&self, key: &str) -> bool {
        match &self.keys {
            Keys::Only(keys) => keys.iter().any(|k| k == key),
        }
    }

    /// Something changed: schedules a save of the state file (if there is one), and
    /// wakes the webhook deliverer, which looks for what became due.
    pub fn touched(&self) {
        if let Some(n) = &self.dirty {
            n.notify_one();
        }
        self.deliver_wake.notify_one();
    }

    /// `http://host:port` as the client reached us, for links handed to people.
    pub fn public_base(&self, headers: &HeaderMap) -> String {
        headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
            .map(|h| format!("http://{h}"))
            .unwrap_or_else(|| self.base_url.clone())
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}
