//! Fault injection: the failures a real network and a real, busy API produce — injected
//! errors, added latency, the per-key rate limit with its headers, and writes that commit
//! and then lose their answer — and those of webhook deliveries: duplicated, reordered,
//! delayed, wrongly signed or lost. Faults apply to `/v1` and to deliveries, never to the
//! control plane or the invite page.
//!
//! Rate-limit windows run on the wall clock, not the sandbox's virtual clock: a client
//! paces against real time, and moving the virtual clock must not refill anyone's budget.

use crate::api::FieldError;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Faults {
    pub error_rate: Option<f64>,
    pub error_status: Option<u16>,
    pub latency_ms: Option<u64>,
    pub rate_limit_per_minute: Option<u64>,
    pub rate_limit_window_seconds: Option<u64>,
    pub drop_after_commit_rate: Option<f64>,
    /// The next N `/v1` requests fail with `errorStatus` — a deterministic burst, for
    /// proving a client's retries.
    pub fail_next: Option<u64>,
    /// That share of delivered events is delivered a second time.
    pub webhook_duplicate_rate: Option<f64>,
    /// Deliveries are held this long and each held batch goes out newest first.
    pub webhook_reorder_ms: Option<u64>,
    /// Every delivery attempt waits this long before it is sent.
    pub webhook_delay_ms: Option<u64>,
    /// That share of attempts is signed with a secret that is not the webhook's.
    pub webhook_wrong_signature_rate: Option<f64>,
    /// That share of events is lost: never delivered, as if the sender had crashed.
    pub webhook_drop_rate: Option<f64>,
}

pub const DEFAULT_ERROR_STATUS: u16 = 503;
pub const DEFAULT_WINDOW_SECONDS: u64 = 60;

fn number(key: &str, v: &Value, errors: &mut Vec<FieldError>) -> Option<f64> {
    match v.as_f64() {
        Some(f) if f.is_finite() => Some(f),
        _ => {
            errors.push(FieldError::new(&[key], "expected a number or null"));
            None
        }
    }
}

impl Faults {
    /// Applies a `POST /_sandbox/faults` body: a field present sets that fault, `null`
    /// turns it off, a field left out is unchanged. All-or-nothing: any bad field and
    /// nothing changes.
    pub fn apply(&self, body: &Value) -> Result<Faults, Vec<FieldError>> {
        let Value::Object(obj) = body else {
            return Err(vec![FieldError::new(&[], "expected a JSON object")]);
        };
        let mut next = self.clone();
        let mut errors = vec![];
        let known = [
            "errorRate",
            "errorStatus",
            "latencyMs",
            "rateLimitPerMinute",
            "rateLimitWindowSeconds",
            "dropAfterCommitRate",
            "failNext",
            "webhookDuplicateRate",
            "webhookReorderMs",
            "webhookDelayMs",
            "webhookWrongSignatureRate",
            "webhookDropRate",
        ];
        for key in obj.keys() {
            if !known.contains(&key.as_str()) {
                errors.push(FieldError::new(
                    &[key],
                    format!("unknown fault (known: {})", known.join(", ")),
                ));
            }
        }
        let get = |k: &str, obj: &Map<String, Value>| obj.get(k).cloned();
        let rate = |k: &str, slot: &mut Option<f64>, errors: &mut Vec<FieldError>| match get(k, obj)
        {
            None => {}
            Some(Value::Null) => *slot = None,
            Some(v) => match number(k, &v, errors) {
                Some(f) if (0.0..=1.0).contains(&f) => *slot = Some(f),
                Some(f) => errors.push(FieldError::new(
                    &[k],
                    format!("must be between 0.0 and 1.0 (got {f})"),
                )),
                None => {}
            },
        };
        rate("errorRate", &mut next.error_rate, &mut errors);
        rate(
            "dropAfterCommitRate",
            &mut next.drop_after_commit_rate,
            &mut errors,
        );
        rate(
            "webhookDuplicateRate",
            &mut next.webhook_duplicate_rate,
            &mut errors,
        );
        rate(
            "webhookWrongSignatureRate",
            &mut next.webhook_wrong_signature_rate,
            &mut errors,
        );
        rate("webhookDropRate", &mut next.webhook_drop_rate, &mut errors);
        let whole = |k: &str,
                     slot: &mut Option<u64>,
                     range: std::ops::RangeInclusive<u64>,
                     errors: &mut Vec<FieldError>| {
            match get(k, obj) {
                None => {}
                Some(Value::Null) => *slot = None,
                Some(v) => match v.as_u64() {
                    Some(n) if range.contains(&n) => *slot = Some(n),
                    _ => errors.push(FieldError::new(
                        &[k],
                        format!(
                            "must be a whole number from {} to {} (got {v})",
                            range.start(),
                            range.end()
                        ),
                    )),
                },
            }
        };
        let mut status = next.error_status.map(u64::from);
        whole("errorStatus", &mut status, 400..=599, &mut errors);
        next.error_status = status.and_then(|s| u16::try_from(s).ok());
        whole("latencyMs", &mut next.latency_ms, 0..=60_000, &mut errors);
        whole("failNext", &mut next.fail_next, 0..=1_000_000, &mut errors);
        whole(
            "webhookReorderMs",
            &mut next.webhook_reorder_ms,
            0..=60_000,
            &mut errors,
        );
        whole(
            "webhookDelayMs",
            &mut next.webhook_delay_ms,
            0..=60_000,
            &mut errors,
        );
        if next.fail_next == Some(0) {
            next.fail_next = None;
        }
        whole(
            "rateLimitPerMinute",
            &mut next.rate_limit_per_minute,
            1..=1_000_000,
            &mut errors,
        );
        whole(
            "rateLimitWindowSeconds",
            &mut next.rate_limit_window_seconds,
            1..=3600,
            &mut errors,
        );
        if errors.is_empty() {
            Ok(next)
        } else {
            Err(errors)
        }
    }

    /// Whether this request should fail with an injected error: one of the `failNext`
    /// burst (counted down here), or by the `errorRate` roll.
    pub fn take_error(&mut self) -> Option<u16> {
        let status = self.error_status.unwrap_or(DEFAULT_ERROR_STATUS);
        if let Some(n) = self.fail_next {
            self.fail_next = (n > 1).then(|| n - 1);
            return Some(status);
        }
        let rate = self.error_rate?;
        (fastrand::f64() < rate).then_some(status)
    }

    /// Whether this committed write should lose its answer.
    pub fn roll_drop(&self) -> bool {
        self.drop_after_commit_rate
            .is_some_and(|rate| fastrand::f64() < rate)
    }

    /// Rolls a delivery fault's dice.
    pub fn roll(rate: Option<f64>) -> bool {
        rate.is_some_and(|r| fastrand::f64() < r)
    }

    /// The JSON the control plane answers: every fault, `null` when off.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The outcome of counting one request against its key's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Epoch milliseconds at which the current window ends.
    pub reset_ms: i64,
    /// Whole seconds until the window ends, at least 1.
    pub retry_after_s: u64,
}

/// Fixed windows per API key, aligned to multiples of the window length.
#[derive(Debug, Default)]
pub struct RateWindows {
    windows: HashMap<String, (i64, u64)>,
    /// Per window (by its start, epoch ms), all keys together: requests allowed and
    /// refused — so a benchmark can see how much of each window's budget a client used.
    history: std::collections::BTreeMap<i64, (u64, u64)>,
}

/// Windows remembered in the history.
const HISTORY_WINDOWS: usize = 1000;

impl RateWindows {
    pub fn check(&mut self, key: &str, limit: u64, window_s: u64, now_ms: i64) -> RateDecision {
        let window_ms = (window_s.max(1) * 1000) as i64;
        let index = now_ms.div_euclid(window_ms);
        let reset_ms = (index + 1) * window_ms;
        let entry = self.windows.entry(key.to_string()).or_insert((index, 0));
        if entry.0 != index {
            *entry = (index, 0);
        }
        let allowed = entry.1 < limit;
        if allowed {
            entry.1 += 1;
        }
        let seen = self.history.entry(index * window_ms).or_insert((0, 0));
        if allowed {
            seen.0 += 1;
        } else {
            seen.1 += 1;
        }
        if self.history.len() > HISTORY_WINDOWS {
            self.history.pop_first();
        }
        let wait_ms = (reset_ms - now_ms).max(0) as u64;
        RateDecision {
            allowed,
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset_ms,
            retry_after_s: wait_ms.div_ceil(1000).max(1),
        }
    }

    /// Forgets every key's current count (new limits start afresh); keeps the history.
    pub fn clear(&mut self) {
        self.windows.clear();
    }

    pub fn clear_history(&mut self) {
        self.history.clear();
    }

    /// (window start in epoch ms, requests allowed, requests refused), oldest first.
    pub fn history(&self) -> Vec<(i64, u64, u64)> {
        self.history
            .iter()
            .map(|(s, (a, l))| (*s, *a, *l))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_turns_a_fault_off_and_absent_leaves_it() {
        let f = Faults::default()
            .apply(&json!({"errorRate": 0.5, "latencyMs": 10}))
            .unwrap();
        let f = f.apply(&json!({"errorRate": null})).unwrap();
        assert_eq!(f.error_rate, None);
        assert_eq!(f.latency_ms, Some(10));
    }

    #[test]
    fn fail_next_counts_down_then_stops() {
        let mut f = Faults::default()
            .apply(&json!({"failNext": 2, "errorStatus": 500}))
            .unwrap();
        assert_eq!(f.take_error(), Some(500));
        assert_eq!(f.take_error(), Some(500));
        assert_eq!(f.take_error(), None);
        assert_eq!(f.fail_next, None);
    }

    #[test]
    fn bad_fields_change_nothing() {
        let f = Faults::default();
        let errs = f
            .apply(&json!({"errorRate": 2, "latencyMs": -1, "bogus": 1}))
            .unwrap_err();
        assert_eq!(errs.len(), 3);
    }

    #[test]
    fn fixed_window_counts_per_key_and_resets() {
        let mut w = RateWindows::default();
        let t0 = 10_000;
        assert!(w.check("k", 2, 1, t0).allowed);
        let d = w.check("k", 2, 1, t0 + 10);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let over = w.check("k", 2, 1, t0 + 20);
        assert!(!over.allowed);
        assert_eq!(over.reset_ms, 11_000);
        assert_eq!(over.retry_after_s, 1);
        assert!(w.check("other", 2, 1, t0 + 20).allowed);
        assert!(w.check("k", 2, 1, 11_000).allowed);
        assert_eq!(w.history(), vec![(10_000, 3, 1), (11_000, 1, 0)]);
    }
}
