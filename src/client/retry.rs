//! When to try a request again and how long to wait — pure functions of the request's
//! safety, the attempt number and the answer's status and headers.
//!
//! The official SDKs retry every failed request, POSTs included; for invitation create,
//! which has no idempotency key, that is how duplicates are born. Here each request says
//! how safe it is to repeat, and only a failure *known* not to have taken effect (nothing
//! sent, 408, 429) is repeated for an unsafe one. Everything else comes back as
//! "outcome unknown" for the caller to reconcile.

use http::HeaderMap;
use std::time::{Duration, SystemTime};

/// How safe a request is to send twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    /// Reads, and writes that carry an idempotency key: repeat freely.
    Idempotent,
    /// Creates without an idempotency key: repeat only what provably did not happen.
    Unsafe,
}

/// What to do after one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Retry,
    /// The request may have taken effect and must not be repeated blindly.
    Unknown,
    /// Give the answer (or error) to the caller.
    Final,
}

/// After an HTTP answer with an error status.
pub fn after_status(safety: Safety, status: u16, headers: &HeaderMap) -> Verdict {
    match headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        Some("true") => return Verdict::Retry,
        Some("false") => {
            return if safety == Safety::Unsafe && status >= 500 {
                Verdict::Unknown
            } else {
                Verdict::Final
            };
        }
        _ => {}
    }
    match (status, safety) {
        // The server says it did not process it: safe for everything.
        (408 | 429, _) => Verdict::Retry,
        (s, Safety::Idempotent) if s >= 500 => Verdict::Retry,
        // A 5xx may be raised after the write committed.
        (s, Safety::Unsafe) if s >= 500 => Verdict::Unknown,
        _ => Verdict::Final,
    }
}

/// After a transport failure. `sent` is false only when the connection was never made.
pub fn after_transport(safety: Safety, sent: bool) -> Verdict {
    match (sent, safety) {
        (false, _) => Verdict::Retry,
        (true, Safety::Idempotent) => Verdict::Retry,
        (true, Safety::Unsafe) => Verdict::Unknown,
    }
}

/// Longest server-requested delay we honour, as the Python SDK does.
pub const MAX_SERVER_DELAY: Duration = Duration::from_secs(60);

/// The delay the server asked for: `retry-after-ms`, then `Retry-After` as seconds (floats
/// allowed) or as an HTTP date.
pub fn server_delay(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0).min(MAX_SERVER_DELAY));
    }
    let raw = get("retry-after")?;
    if let Ok(secs) = raw.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs).min(MAX_SERVER_DELAY));
    }
    let when = httpdate::parse_http_date(raw).ok()?;
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_SERVER_DELAY),
    )
}

/// The SDKs' backoff: `min(0.5 s × 2^n, 8 s)`, times a jitter in [0.75, 1].
pub fn backoff(retry: u32, jitter: f64) -> Duration {
    let base = (0.5 * 2f64.powi(retry.min(10) as i32)).min(8.0);
    Duration::from_secs_f64(base * jitter.clamp(0.75, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn unsafe_requests_never_repeat_a_possible_success() {
        let none = HeaderMap::new();
        assert_eq!(after_status(Safety::Unsafe, 503, &none), Verdict::Unknown);
        assert_eq!(after_status(Safety::Unsafe, 429, &none), Verdict::Retry);
        assert_eq!(after_status(Safety::Unsafe, 408, &none), Verdict::Retry);
        assert_eq!(after_status(Safety::Unsafe, 400, &none), Verdict::Final);
        assert_eq!(after_transport(Safety::Unsafe, true), Verdict::Unknown);
        assert_eq!(after_transport(Safety::Unsafe, false), Verdict::Retry);
        assert_eq!(after_status(Safety::Idempotent, 503, &none), Verdict::Retry);
        assert_eq!(after_status(Safety::Idempotent, 409, &none), Verdict::Final);
    }

    #[test]
    fn x_should_retry_overrides() {
        let no = headers(&[("x-should-retry", "false")]);
        assert_eq!(after_status(Safety::Idempotent, 503, &no), Verdict::Final);
        assert_eq!(after_status(Safety::Unsafe, 503, &no), Verdict::Unknown);
        let yes = headers(&[("x-should-retry", "true")]);
        assert_eq!(after_status(Safety::Unsafe, 400, &yes), Verdict::Retry);
    }

    #[test]
    fn reads_every_retry_after_form() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ms = headers(&[("retry-after-ms", "250"), ("retry-after", "9")]);
        assert_eq!(server_delay(&ms, now), Some(Duration::from_millis(250)));
        let secs = headers(&[("retry-after", "1.5")]);
        assert_eq!(server_delay(&secs, now), Some(Duration::from_millis(1500)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(3));
        let dated = headers(&[("retry-after", &date)]);
        assert_eq!(server_delay(&dated, now), Some(Duration::from_secs(3)));
        let huge = headers(&[("retry-after", "3600")]);
        assert_eq!(server_delay(&huge, now), Some(MAX_SERVER_DELAY));
        assert_eq!(
            server_delay(&headers(&[("retry-after", "soon")]), now),
            None
        );
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(9, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(0, 0.75), Duration::from_millis(375));
    }
}
