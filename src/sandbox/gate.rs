//! The gate every request passes before a handler sees it, and every answer passes after.
//!
//! `/v1`: added latency, auth, the per-key rate limit (always counted, so
//! `X-RateLimit-Limit/Remaining/Reset` ride on every answer as they do on the real API —
//! the sandbox's large default budget when no `rateLimitPerMinute` fault is set), injected
//! errors, counters. `/_sandbox` (but health): auth. Everywhere: a body declared larger
//! than the limit is refused at once (413), and an answer some layer produced without a
//! JSON body (a 405, a rejected extractor) is rewritten as the contract's error body —
//! except on the invite page, which is HTML.

use super::body::drain;
use super::clock::real_now_ms;
use super::faults::DEFAULT_WINDOW_SECONDS;
use super::reply::{ApiFailure, MAX_BODY_BYTES, too_large};
use super::state::{AppState, bearer, lock};
use crate::api::error::codes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How long a refused oversized body is still read (and thrown away) after the 413 went
/// out, so the client reads the answer rather than a reset connection.
const DRAIN_AFTER_REFUSAL: Duration = Duration::from_secs(5);

/// The rate-limit window of requests that carry no accepted key.
const ANONYMOUS: &str = "";

pub async fn gate(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let is_api = path == "/v1" || path.starts_with("/v1/");
    let is_control = path.starts_with("/_sandbox/") && path != "/_sandbox/health";
    let is_page = path.starts_with("/invite/");
    let declared_too_big = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);
    let refuse_size = |req: Request| {
        let body = req.into_body();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(DRAIN_AFTER_REFUSAL, drain(body)).await;
        });
        too_large().into_response()
    };

    if !is_api {
        let key = bearer(req.headers());
        let resp = if is_control && !key.is_some_and(|k| app.accepts(&k)) {
            ApiFailure::unauthorized().into_response()
        } else if declared_too_big {
            refuse_size(req)
        } else {
            next.run(req).await
        };
        return finish(if is_page { resp } else { ensure_json(resp) });
    }

    let faults = app.faults();
    if let Some(ms) = faults.latency_ms.filter(|ms| *ms > 0) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let key = bearer(req.headers()).filter(|k| app.accepts(k));
    let limit = faults
        .rate_limit_per_minute
        .unwrap_or(app.budget_per_minute);
    let window = faults
        .rate_limit_window_seconds
        .unwrap_or(DEFAULT_WINDOW_SECONDS);
    let bucket = key.as_deref().unwrap_or(ANONYMOUS);
    let d = lock(&app.windows).check(bucket, limit, window, real_now_ms());
    let resp = if key.is_none() {
        ApiFailure::unauthorized().into_response()
    } else if !d.allowed {
        let mut resp = ApiFailure::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            format!(
                "Rate limit of {} requests per window exceeded; retry in {} s",
                d.limit, d.retry_after_s
            ),
        )
        .with_details(json!({ "retryAfter": d.reset_ms }))
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(d.retry_after_s));
        resp
    } else if let Some(status) = app.take_injected_error() {
        injected(status)
    } else if declared_too_big {
        refuse_size(req)
    } else {
        ensure_json(next.run(req).await)
    };
    let mut resp = finish(resp);
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_ms));
    lock(&app.stats).record(resp.status().as_u16());
    resp
}

/// An injected failure, shaped like the real one: a 429 carries `Retry-After` and
/// `details.retryAfter`.
fn injected(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut f = ApiFailure::for_status(status);
    f.body.message = format!("Injected fault: {}", f.body.message);
    if status == StatusCode::TOO_MANY_REQUESTS {
        f = f.with_details(json!({ "retryAfter": real_now_ms() + 1000 }));
        let mut resp = f.into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return resp;
    }
    f.into_response()
}

/// A request the server gave up reading (too large, too slow) ends its connection.
fn finish(mut resp: Response) -> Response {
    if matches!(
        resp.status(),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    ) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn ensure_json(resp: Response) -> Response {
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || resp.status().is_redirection() || resp.status() == StatusCode::NO_CONTENT {
        resp
    } else {
        ApiFailure::for_status(resp.status()).into_response()
    }
}
