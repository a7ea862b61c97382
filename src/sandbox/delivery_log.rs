//! The delivery log the control plane shows (`GET /_sandbox/webhook/deliveries`): every
//! attempt to deliver a webhook event — which event, where to, what came back (HTTP
//! status or the network's error), what happens next, and which fault, if any, had a hand
//! in it — plus running counts. Kept in memory, the most recent attempts only; a reset
//! clears it.

use crate::api::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::VecDeque;

/// Attempts remembered.
const KEPT: usize = 10_000;

/// What became of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Anything else; another attempt is due at `nextAttemptAt`.
    Retry,
    /// The last attempt failed too: the event is given up.
    GivenUp,
    /// Lost on purpose (`webhookDropRate`): never sent.
    Dropped,
    /// The webhook was removed or deactivated before the attempt.
    Abandoned,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub event_id: String,
    pub invitation_id: String,
    /// Where it was posted; `null` when nothing was sent.
    pub url: Option<String>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the attempt ended, on the sandbox's clock.
    pub at: Timestamp,
    /// The receiver's HTTP status; `null` when no answer came (refused, timed out).
    pub status: Option<u16>,
    pub error: Option<String>,
    pub outcome: Outcome,
    pub next_attempt_at: Option<Timestamp>,
    /// The delivery fault that shaped this attempt: `duplicate`, `reordered`, `delayed`,
    /// `wrong_signature` or `dropped`.
    pub fault: Option<&'static str>,
    pub duration_ms: u64,
}

#[derive(Debug, Default)]
pub struct DeliveryLog {
    attempts: VecDeque<Attempt>,
    delivered: u64,
    failed_attempts: u64,
    given_up: u64,
    dropped: u64,
}

impl DeliveryLog {
    pub fn record(&mut self, a: Attempt) {
        match a.outcome {
            Outcome::Delivered => self.delivered += 1,
            Outcome::Retry => self.failed_attempts += 1,
            Outcome::GivenUp => {
                self.failed_attempts += 1;
                self.given_up += 1;
            }
            Outcome::Dropped => self.dropped += 1,
            Outcome::Abandoned => {}
        }
        if self.attempts.len() == KEPT {
            self.attempts.pop_front();
        }
        self.attempts.push_back(a);
    }

    pub fn clear(&mut self) {
        *self = DeliveryLog::default();
    }

    /// The control plane's answer: counts, what is still queued, and the attempts
    /// (oldest first), filtered by event or invitation when asked.
    pub fn to_json(&self, pending: usize, event: Option<&str>, invitation: Option<&str>) -> Value {
        let attempts: Vec<&Attempt> = self
            .attempts
            .iter()
            .filter(|a| event.is_none_or(|e| a.event_id == e))
            .filter(|a| invitation.is_none_or(|i| a.invitation_id == i))
            .collect();
        json!({
            "pending": pending,
            "delivered": self.delivered,
            "failedAttempts": self.failed_attempts,
            "givenUp": self.given_up,
            "dropped": self.dropped,
            "deliveries": attempts,
        })
    }
}
