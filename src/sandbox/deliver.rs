//! The webhook deliverer: a background task that posts each queued
//! `invitation.status_changed` event to the project webhook, signed (`X-Zavu-Signature`,
//! with the wall clock's `t`, which the receiver checks against its own clock), and
//! records every attempt in the delivery log. A 2xx delivers; anything else — another
//! status, a refused connection, no answer within 10 s — is retried on the schedule in
//! [`super::hooks`], on the sandbox's clock, so moving the clock forward releases retries
//! at once.
//!
//! Up to 16 deliveries are in flight, one per invitation, so without faults an
//! invitation's events arrive in the order they happened (a retried event can still
//! arrive after a later one, as from the real service). The delivery faults shape it:
//! delay, duplicate, reorder, wrong signature, drop. Faults never touch `/v1` answers
//! here; the `/v1` faults never touch deliveries.

use super::clock::real_now_ms;
use super::delivery_log::{Attempt, Outcome};
use super::faults::Faults;
use super::hooks::{AfterFailure, Pending, new_secret};
use super::state::{AppState, lock};
use crate::api::Timestamp;
use crate::api::webhook::{SIGNATURE_HEADER, sign};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};

const MAX_IN_FLIGHT: usize = 16;
/// How long a receiver has to answer an attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the deliverer sleeps without looking again (a safety net; every change
/// wakes it).
const IDLE: Duration = Duration::from_secs(60);

/// What is being delivered right now.
#[derive(Default)]
struct InFlight {
    seqs: HashSet<u64>,
    /// Events out per invitation.
    invitations: HashMap<String, u32>,
}

struct Deliverer {
    app: Arc<AppState>,
    http: reqwest::Client,
    busy: Mutex<InFlight>,
}

/// Runs until `stopped` turns true.
pub async fn run(app: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
    let http = match reqwest::Client::builder()
        // Receivers are where the webhook says, never through a proxy from the environment.
        .no_proxy()
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent("Zavu-Webhooks/1 (zavu-script sandbox)")
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("sandbox: webhook deliveries are off: {e}");
            return;
        }
    };
    let d = Arc::new(Deliverer {
        app: app.clone(),
        http,
        busy: Mutex::new(InFlight::default()),
    });
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        if *stopped.borrow() {
            return;
        }
        let now = app.clock.now().millis();
        let reorder = app.faults().webhook_reorder_ms.filter(|ms| *ms > 0);
        let due = d.take_due(now, reorder.is_none());
        if !due.is_empty() {
            match reorder {
                Some(hold) => {
                    // Hold what is due, gather what falls due meanwhile, send newest first.
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(hold)) => {}
                        _ = stopped.changed() => return,
                    }
                    let mut batch = due;
                    batch.extend(d.take_due(app.clock.now().millis(), false));
                    batch.sort_by_key(|p| std::cmp::Reverse(p.seq));
                    let reordered = batch.len() > 1;
                    let d = d.clone();
                    tokio::spawn(async move {
                        for p in batch {
                            d.attempt(p, reordered.then_some("reordered")).await;
                        }
                    });
                }
                None => {
                    for p in due {
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let d = d.clone();
                        tokio::spawn(async move {
                            d.attempt(p, None).await;
                            drop(slot);
                        });
                    }
                }
            }
            continue;
        }
        let wait = d
            .next_due_after(now)
            .map(|at| Duration::from_millis((at - now).max(0) as u64).min(IDLE))
            .unwrap_or(IDLE);
        tokio::select! {
            _ = app.deliver_wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
    }
}

impl Deliverer {
    /// Due events that may go now, marked in flight: in `order`, one per invitation and
    /// none for an invitation with an event out; otherwise all that are not out.
    fn take_due(&self, now_ms: i64, order: bool) -> Vec<Pending> {
        let store = self.app.store();
        let mut busy = lock(&self.busy);
        let due = store.hooks.due(now_ms, order, &|p| {
            busy.seqs.contains(&p.seq) || (order && busy.invitations.contains_key(&p.invitation_id))
        });
        for p in &due {
            busy.seqs.insert(p.seq);
            *busy.invitations.entry(p.invitation_id.clone()).or_insert(0) += 1;
        }
        due
    }

    /// The next time something not in flight falls due, after `now_ms`.
    fn next_due_after(&self, now_ms: i64) -> Option<i64> {
        let store = self.app.store();
        let busy = lock(&self.busy);
        store
            .hooks
            .queue
            .iter()
            .filter(|p| p.due_ms > now_ms && !busy.seqs.contains(&p.seq))
            .map(|p| p.due_ms)
            .min()
    }

    fn done(&self, p: &Pending) {
        let mut busy = lock(&self.busy);
        busy.seqs.remove(&p.seq);
        if let Some(n) = busy.invitations.get_mut(&p.invitation_id) {
            *n -= 1;
            if *n == 0 {
                busy.invitations.remove(&p.invitation_id);
            }
        }
    }

    fn log(&self, p: &Pending, url: Option<String>, took: Duration, outcome: Outcome) -> Attempt {
        Attempt {
            event_id: p.event_id.clone(),
            invitation_id: p.invitation_id.clone(),
            url,
            attempt: p.attempts + 1,
            at: self.app.clock.now(),
            status: None,
            error: None,
            outcome,
            next_attempt_at: None,
            fault: p.duplicate.then_some("duplicate"),
            duration_ms: took.as_millis() as u64,
        }
    }

    /// One attempt at one event, start to finish: send, record, reschedule.
    async fn attempt(&self, p: Pending, fault: Option<&'static str>) {
        let started = Instant::now();
        let faults = self.app.faults();
        let hook = self.app.store().hooks.config.clone();
        let mut entry;
        match hook {
            _ if p.attempts == 0 && !p.duplicate && Faults::roll(faults.webhook_drop_rate) => {
                self.app.store().hooks.finish(p.seq);
                entry = self.log(&p, None, started.elapsed(), Outcome::Dropped);
                entry.fault = Some("dropped");
            }
            Some(hook) if hook.active => {
                let mut fault = fault.or(p.duplicate.then_some("duplicate"));
                if let Some(ms) = faults.webhook_delay_ms.filter(|ms| *ms > 0) {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    fault = fault.or(Some("delayed"));
                }
                let secret = if Faults::roll(faults.webhook_wrong_signature_rate) {
                    fault = Some("wrong_signature");
                    new_secret()
                } else {
                    hook.secret.clone()
                };
                let (status, error) = self.post(&hook.url, &secret, &p.body).await;
                let now = self.app.clock.now();
                let delivered = error.is_none();
                entry = self.log(&p, Some(hook.url), started.elapsed(), Outcome::Delivered);
                entry.status = status;
                entry.error = error;
                entry.fault = fault;
                entry.at = now;
                let mut store = self.app.store();
                if delivered {
                    store.hooks.finish(p.seq);
                    if !p.duplicate && Faults::roll(faults.webhook_duplicate_rate) {
                        store.hooks.duplicate(&p, now.millis());
                    }
                } else {
                    match store.hooks.failed(p.seq, now.millis()) {
                        Some(AfterFailure::RetryAt(at)) => {
                            entry.outcome = Outcome::Retry;
                            entry.next_attempt_at = Some(Timestamp::from_millis(at));
                        }
                        // Given up, or the webhook was removed while this one was out.
                        _ => entry.outcome = Outcome::GivenUp,
                    }
                }
            }
            Some(hook) => {
                self.app.store().hooks.finish(p.seq);
                entry = self.log(&p, Some(hook.url), started.elapsed(), Outcome::Abandoned);
                entry.error = Some("the webhook is inactive".into());
            }
            None => {
                self.app.store().hooks.finish(p.seq);
                entry = self.log(&p, None, started.elapsed(), Outcome::Abandoned);
                entry.error = Some("the webhook was removed".into());
            }
        }
        lock(&self.app.deliveries).record(entry);
        self.done(&p);
        self.app.touched();
    }

    /// Posts a signed body; `(status, None)` for a 2xx, else what went wrong.
    async fn post(&self, url: &str, secret: &str, body: &str) -> (Option<u16>, Option<String>) {
        let header = sign(secret, real_now_ms() / 1000, body.as_bytes());
        let sent = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, header)
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => (Some(resp.status().as_u16()), None),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                (Some(status), Some(format!("HTTP {status}: {text}")))
            }
            Err(e) if e.is_timeout() => (
                None,
                Some(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
            ),
            Err(e) => (None, Some(describe(&e))),
        }
    }
}

/// A network error with its causes ("error sending request: … Connection refused").
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
