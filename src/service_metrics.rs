//! What the long-running front doors (`cron`, `listen`) count, in the Prometheus text
//! format, and how they say they are healthy: each service owns one registry (no global
//! state, so a test reads exactly its own), the metrics the service updates as things
//! happen, and a small HTTP app with `/metrics` and `/healthz`.
//!
//! Counters are registered without `_total`; the encoder adds it. This module counts and
//! serves; it never decides anything about runs or events.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text::{CONTENT_TYPE, encode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabel {
    pub job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobOutcome {
    pub job: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobReason {
    pub job: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

type Durations<L> = Family<L, Histogram, fn() -> Histogram>;

/// 10 ms to about 45 minutes: scripts range from a print to a whole campaign.
fn durations() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 4.0, 10))
}

/// The scheduler's numbers.
pub struct CronMetrics {
    pub runs: Family<JobLabel, Counter>,
    pub finished: Family<JobOutcome, Counter>,
    pub skipped: Family<JobReason, Counter>,
    pub lost: Family<JobLabel, Counter>,
    pub duration: Durations<JobLabel>,
    /// Runs of this process going now.
    pub running: Gauge,
    /// Leases this replica holds in the state database (0 without one).
    pub leases_held: Gauge,
    /// 1 while the last heartbeat to the state database succeeded (1 without one).
    pub state_up: Gauge,
    /// Seconds since the last successful heartbeat (0 without a state database).
    pub heartbeat_age: Gauge<f64, AtomicU64>,
    registry: Registry,
}

impl Default for CronMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl CronMetrics {
    pub fn new() -> CronMetrics {
        let mut registry = Registry::default();
        let m = CronMetrics {
            runs: Family::default(),
            finished: Family::default(),
            skipped: Family::default(),
            lost: Family::default(),
            duration: Family::new_with_constructor(durations as fn() -> Histogram),
            running: Gauge::default(),
            leases_held: Gauge::default(),
            state_up: Gauge::default(),
            heartbeat_age: Gauge::default(),
            registry: Registry::default(),
        };
        m.state_up.set(1);
        let r = &mut registry;
        r.register(
            "zavu_cron_runs",
            "Runs started by this scheduler",
            m.runs.clone(),
        );
        r.register(
            "zavu_cron_runs_finished",
            "Runs ended, by outcome (ok, failed, timed out, stopped)",
            m.finished.clone(),
        );
        r.register(
            "zavu_cron_skipped",
            "Due times not run: overlap (a run still going) or missed (beyond grace)",
            m.skipped.clone(),
        );
        r.register(
            "zavu_cron_lost",
            "Runs found lost: their replica stopped renewing its lease",
            m.lost.clone(),
        );
        r.register(
            "zavu_cron_run_duration_seconds",
            "How long runs took",
            m.duration.clone(),
        );
        r.register("zavu_cron_running", "Runs going now", m.running.clone());
        r.register(
            "zavu_leases_held",
            "Leases this replica holds in the state database",
            m.leases_held.clone(),
        );
        r.register(
            "zavu_state_up",
            "1 while the state database answers heartbeats",
            m.state_up.clone(),
        );
        r.register(
            "zavu_state_heartbeat_age_seconds",
            "Seconds since the last successful heartbeat",
            m.heartbeat_age.clone(),
        );
        CronMetrics { registry, ..m }
    }

    pub fn encode(&self) -> String {
        encode_registry(&self.registry)
    }
}

/// The webhook receiver's numbers.
pub struct ListenMetrics {
    /// done, failed, retried, skipped, duplicate, refused, lease_lost.
    pub events: Family<OutcomeLabel, Counter>,
    pub handler_duration: Histogram,
    registry: Registry,
}

impl Default for ListenMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ListenMetrics {
    pub fn new() -> ListenMetrics {
        let mut registry = Registry::default();
        let events = Family::<OutcomeLabel, Counter>::default();
        let handler_duration = durations();
        registry.register(
            "zavu_listen_events",
            "Webhook events by outcome (done, failed, retried, skipped, duplicate, refused, \
             lease_lost: an outcome refused because the claim had passed to another)",
            events.clone(),
        );
        registry.register(
            "zavu_listen_handler_duration_seconds",
            "How long the handler took per event",
            handler_duration.clone(),
        );
        ListenMetrics {
            events,
            handler_duration,
            registry,
        }
    }

    pub fn event(&self, outcome: &str) {
        self.events
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn encode(&self) -> String {
        encode_registry(&self.registry)
    }
}

fn encode_registry(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, registry);
    out
}

/// A health answer: healthy or not, and a JSON body saying why.
pub type Health = Arc<dyn Fn() -> (bool, serde_json::Value) + Send + Sync>;

/// `/metrics` (Prometheus text) and `/healthz` (200 or 503 with a JSON reason).
pub fn router(metrics: Arc<dyn Fn() -> String + Send + Sync>, health: Health) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], m()).into_response() }
            }),
        )
        .route(
            "/healthz",
            get(move || {
                let h = health.clone();
                async move { health_response(&h) }
            }),
        )
}

fn health_response(health: &Health) -> Response {
    let (ok, body) = health();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_come_out_as_prometheus_text() {
        let m = CronMetrics::new();
        let job = JobLabel {
            job: "followup".into(),
        };
        m.runs.get_or_create(&job).inc();
        m.duration.get_or_create(&job).observe(0.5);
        m.finished
            .get_or_create(&JobOutcome {
                job: "followup".into(),
                outcome: "ok".into(),
            })
            .inc();
        let text = m.encode();
        assert!(
            text.contains("# TYPE zavu_cron_runs_total counter"),
            "{text}"
        );
        assert!(
            text.contains("zavu_cron_runs_total{job=\"followup\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("zavu_cron_runs_finished_total{job=\"followup\",outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("zavu_cron_run_duration_seconds_count{job=\"followup\"} 1"),
            "{text}"
        );
        assert!(text.contains("zavu_state_up 1"), "{text}");

        let l = ListenMetrics::new();
        l.event("duplicate");
        assert!(
            l.encode()
                .contains("zavu_listen_events_total{outcome=\"duplicate\"} 1")
        );
    }
}
