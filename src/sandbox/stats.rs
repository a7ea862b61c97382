//! Request counters for tests and benchmarks: how many `/v1` requests came in, how they were
//! answered (by status code), and how many answers were dropped on purpose — so a test can
//! prove from the server's side how many 429s a client caused.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Stats {
    requests: u64,
    by_status: BTreeMap<u16, u64>,
    dropped: u64,
}

impl Stats {
    pub fn record(&mut self, status: u16) {
        self.requests += 1;
        *self.by_status.entry(status).or_insert(0) += 1;
    }

    /// A committed write whose answer was thrown away (`dropAfterCommitRate`).
    pub fn record_drop(&mut self) {
        self.requests += 1;
        self.dropped += 1;
    }

    pub fn clear(&mut self) {
        *self = Stats::default();
    }

    pub fn to_json(&self, invitations: Map<String, Value>, messages: usize) -> Value {
        let by_status: Map<String, Value> = self
            .by_status
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        json!({
            "requests": self.requests,
            "byStatus": by_status,
            "dropped": self.dropped,
            "invitations": invitations,
            "messages": messages,
        })
    }
}
