//! The HTTP side of `listen`: one route that takes deliveries — verifies the signature
//! (v2 preferred, v1 accepted, the timestamp within the tolerance, constant-time), answers
//! 401 to a bad one, records a good one in the inbox and answers 2xx only once it is
//! durably there, then wakes the event's handler worker — and `/healthz`, which answers 503
//! with the reason when a delivery could not be recorded now (see [`Recorder::trouble`]), a
//! handler worker's thread has stopped (its part's events would wait for nobody) or a run
//! has stalled. It never runs a handler itself: answering fast is what keeps the sender
//! from retrying.

use super::inbox::NewEvent;
use super::recorder::Recorder;
use crate::api::webhook::{self, Event, STATUS_CHANGED};
use crate::service_log::{Level, Log, Record};
use crate::service_metrics::{self, ListenMetrics};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Deliveries are small; anything past this is not one.
const MAX_BODY: usize = 1 << 20;

pub struct Receiver {
    pub secret: String,
    pub tolerance_seconds: i64,
    /// Records deliveries in the inbox, those arriving together in one commit.
    pub recorder: Recorder,
    /// Rung for each new event: its invitation's handler worker looks.
    pub wake: Arc<super::bell::Bells>,
    pub log: Arc<Log>,
    pub metrics: Arc<ListenMetrics>,
    /// Cleared when a handler worker's thread ends, however it ends.
    pub handler_alive: Arc<AtomicBool>,
    /// One per handler worker: each knows whether its current run has stalled.
    pub watchdogs: Vec<Arc<super::watchdog::Watchdog>>,
}

impl Receiver {
    /// `/healthz`: healthy, or not and why.
    pub fn health(&self) -> (bool, serde_json::Value) {
        let mut problems = vec![];
        if let Some(why) = self.recorder.trouble() {
            problems.push(why);
        }
        if !self.handler_alive.load(Ordering::Relaxed) {
            problems.push(
                "a handler worker's thread has stopped: some recorded events are not being handled"
                    .into(),
            );
        }
        problems.extend(self.watchdogs.iter().filter_map(|w| w.stalled()));
        if problems.is_empty() {
            return (true, json!({ "ok": true }));
        }
        let reason = problems.join("; ");
        (
            false,
            json!({ "ok": false, "reason": reason, "problems": problems }),
        )
    }
}

/// Clears its flag when dropped: held by each handler worker's thread for as long as it
/// runs, so the flag falls on a return and on a panic alike.
pub struct AliveWhileHeld(pub Arc<AtomicBool>);

impl Drop for AliveWhileHeld {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub fn router(path: &str, receiver: Arc<Receiver>) -> Router {
    let metrics = receiver.metrics.clone();
    let checked = receiver.clone();
    let health: service_metrics::Health = Arc::new(move || checked.health());
    Router::new()
        .route(path, post(deliver))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(receiver)
        // /metrics (Prometheus text) and /healthz, beside the delivery route.
        .merge(service_metrics::router(
            Arc::new(move || metrics.encode()),
            health,
        ))
}

async fn deliver(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = headers
        .get(webhook::SIGNATURE_HEADER)
        .and_then(|h| h.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(refused) = webhook::verify(header, &body, &r.secret, now, r.tolerance_seconds) {
        r.metrics.event("refused");
        r.log.emit(Record::new(
            Level::Warn,
            "refused",
            format!("delivery refused: {refused}"),
        ));
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"code": "unauthorized", "message": refused.to_string()}),
        );
    }
    let event: Event = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            r.metrics.event("refused");
            r.log.emit(Record::new(
                Level::Warn,
                "refused",
                format!("a signed delivery that is not an event: {e}"),
            ));
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"code": "invalid_request", "message": format!("not an event: {e}")}),
            );
        }
    };
    if event.kind != STATUS_CHANGED {
        // Acknowledged so the sender stops; nothing here handles it.
        r.log.info(
            "ignored",
            format!("event {} of type {} ignored", event.id, event.kind),
        );
        return reply(StatusCode::OK, json!({"received": true, "ignored": true}));
    }
    let new = NewEvent {
        event_id: event.id.clone(),
        invitation_id: event.data.invitation_id.clone(),
        previous_status: Some(event.data.previous_status.clone()),
        current_status: event.data.current_status.clone(),
        event_ms: event.timestamp,
        synthesized: false,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let recorded = r.recorder.record(new).await;
    match recorded {
        Ok(fresh) => {
            if fresh {
                r.wake.ring_for(&event.data.invitation_id);
            } else {
                r.metrics.event("duplicate");
                r.log.info(
                    "duplicate",
                    format!(
                        "event {} delivered again: acknowledged, not run again",
                        event.id
                    ),
                );
            }
            reply(
                StatusCode::OK,
                json!({"received": true, "duplicate": !fresh}),
            )
        }
        // Not recorded: the sender must try again.
        Err(e) => {
            r.log.error("inbox", e.to_string());
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"code": "service_unavailable", "message": "the event could not be recorded; retry"}),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alive_flag_falls_when_its_thread_returns_or_panics() {
        for panics in [false, true] {
            let flag = Arc::new(AtomicBool::new(true));
            let held = AliveWhileHeld(flag.clone());
            let thread = std::thread::spawn(move || {
                let _held = held;
                assert!(!panics, "the handler's thread died");
            });
            assert_eq!(thread.join().is_err(), panics);
            assert!(!flag.load(Ordering::Relaxed), "panics: {panics}");
        }
    }
}
