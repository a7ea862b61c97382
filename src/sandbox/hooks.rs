//! The project webhook's state: its configuration (`/v1/invitations/webhook`), the
//! `invitation.status_changed` events waiting to be delivered, and when each one's next
//! attempt is due on the sandbox's clock. Pure data kept inside the store — an event is
//! queued under the same lock as the status change it announces, so none is lost or
//! made up — and saved with it. Sending is [`super::deliver`]'s job; this file never does
//! I/O.
//!
//! An event is queued for every stored status change while the webhook is active and
//! subscribed; a change to the same status, a view, and expiry (derived, never stored)
//! queue nothing.

use super::seeds::PROJECT_ID;
use super::store::random_id;
use crate::api::webhook::{Event, STATUS_CHANGED, StatusChange, Webhook};
use crate::api::{Invitation, Timestamp};
use serde::{Deserialize, Serialize};

/// Seconds after a failed attempt before the next one, on the sandbox's clock: 5 s,
/// 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h, 24 h — eleven attempts over about
/// two days, then the event is given up (and logged so).
pub const RETRY_AFTER_SECONDS: &[i64] =
    &[5, 30, 120, 600, 1800, 3600, 10_800, 21_600, 43_200, 86_400];

/// One event on its way to the webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// Queue order: one invitation's events go out in this order.
    pub seq: u64,
    pub event_id: String,
    pub invitation_id: String,
    /// The event as JSON, written once so that every attempt signs the same bytes.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, on the sandbox's clock (epoch ms).
    pub due_ms: i64,
    /// A second copy the `webhookDuplicateRate` fault sent (never copied again).
    #[serde(default)]
    pub duplicate: bool,
}

/// What happens to an event after an attempt that did not get a 2xx.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(i64),
    GiveUp,
}

/// When the attempt after `attempts` failed ones is due, from `now_ms`.
pub fn after_failure(attempts: u32, now_ms: i64) -> AfterFailure {
    match RETRY_AFTER_SECONDS.get(attempts.saturating_sub(1) as usize) {
        Some(s) => AfterFailure::RetryAt(now_ms + s * 1000),
        None => AfterFailure::GiveUp,
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hooks {
    pub config: Option<Webhook>,
    pub queue: Vec<Pending>,
    next_seq: u64,
}

/// The `X-Zavu-Signature` secret of a new webhook.
pub fn new_secret() -> String {
    format!("whsec_{}", random_id(32))
}

impl Hooks {
    /// Forgets the webhook and everything queued.
    pub fn reset(&mut self) {
        *self = Hooks::default();
    }

    /// Creates the webhook, or replaces its URL and events keeping its secret; either way
    /// it is active. `true` when it was created.
    pub fn configure(&mut self, url: String, events: Vec<String>) -> bool {
        let created = self.config.is_none();
        let secret = self
            .config
            .take()
            .map(|w| w.secret)
            .unwrap_or_else(new_secret);
        self.config = Some(Webhook {
            url,
            events,
            secret,
            active: true,
        });
        created
    }

    /// Removes the webhook; what was still queued for it is dropped, and returned.
    pub fn remove(&mut self) -> Option<Vec<Pending>> {
        self.config.take()?;
        Some(std::mem::take(&mut self.queue))
    }

    fn subscribed(&self) -> bool {
        self.config
            .as_ref()
            .is_some_and(|w| w.active && w.events.iter().any(|e| e == STATUS_CHANGED))
    }

    /// Queues `invitation.status_changed` for a stored change from `before` to `after`,
    /// if there is one and the webhook wants it.
    pub fn status_changed(&mut self, before: &Invitation, after: &Invitation, now: Timestamp) {
        if before.status == after.status || !self.subscribed() {
            return;
        }
        let at = now.millis();
        let completed = after.status == crate::api::InvitationStatus::Completed;
        let failed = after.status == crate::api::InvitationStatus::Failed;
        let event = Event {
            id: format!("evt_{at}_{}", random_id(10)),
            kind: STATUS_CHANGED.into(),
            timestamp: at,
            project_id: PROJECT_ID.into(),
            data: StatusChange {
                invitation_id: after.id.clone(),
                client_name: after.client_name.clone(),
                client_email: after.client_email.clone(),
                connection_type: after.connection_type.clone(),
                previous_status: before.status.as_str().into(),
                current_status: after.status.as_str().into(),
                sender_id: after.sender_id.clone().filter(|_| completed),
                connected_account: after
                    .connected_account
                    .as_ref()
                    .filter(|_| completed)
                    .and_then(|a| serde_json::to_value(a).ok()),
                failure_reason: after.failure_reason.clone().filter(|_| failed),
            },
        };
        let Ok(body) = serde_json::to_string(&event) else {
            return;
        };
        self.push(event.id, after.id.clone(), body, at, false);
    }

    fn push(
        &mut self,
        event_id: String,
        invitation_id: String,
        body: String,
        due_ms: i64,
        duplicate: bool,
    ) {
        self.next_seq += 1;
        self.queue.push(Pending {
            seq: self.next_seq,
            event_id,
            invitation_id,
            body,
            attempts: 0,
            due_ms,
            duplicate,
        });
    }

    /// A second delivery of an event that went out (the `webhookDuplicateRate` fault).
    pub fn duplicate(&mut self, of: &Pending, due_ms: i64) {
        self.push(
            of.event_id.clone(),
            of.invitation_id.clone(),
            of.body.clone(),
            due_ms,
            true,
        );
    }

    /// Events due at `now_ms` that may go out now, oldest first, leaving out those `busy`
    /// says are in flight. In `order`, one per invitation at most (the caller also says an
    /// invitation is busy while one of its events is out); otherwise every one.
    pub fn due(&self, now_ms: i64, order: bool, busy: &dyn Fn(&Pending) -> bool) -> Vec<Pending> {
        let mut due: Vec<&Pending> = self.queue.iter().filter(|p| p.due_ms <= now_ms).collect();
        due.sort_by_key(|p| p.seq);
        let mut taken: Vec<Pending> = vec![];
        for p in due {
            if busy(p) || (order && taken.iter().any(|t| t.invitation_id == p.invitation_id)) {
                continue;
            }
            taken.push(p.clone());
        }
        taken
    }

    /// Takes an event out of the queue (delivered, given up or dropped).
    pub fn finish(&mut self, seq: u64) -> Option<Pending> {
        let at = self.queue.iter().position(|p| p.seq == seq)?;
        Some(self.queue.remove(at))
    }

    /// Counts a failed attempt and schedules the next one; `GiveUp` takes it out.
    pub fn failed(&mut self, seq: u64, now_ms: i64) -> Option<AfterFailure> {
        let p = self.queue.iter_mut().find(|p| p.seq == seq)?;
        p.attempts += 1;
        let next = after_failure(p.attempts, now_ms);
        match next {
            AfterFailure::RetryAt(at) => p.due_ms = at,
            AfterFailure::GiveUp => {
                self.finish(seq);
            }
        }
        Some(next)
    }

    pub fn restore(config: Option<Webhook>, queue: Vec<Pending>) -> Hooks {
        let next_seq = queue.iter().map(|p| p.seq).max().unwrap_or(0);
        Hooks {
            config,
            queue,
            next_seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::InvitationStatus;

    fn invitation(status: InvitationStatus) -> Invitation {
        let t = Timestamp::from_millis(0);
        Invitation {
            id: "inv1".into(),
            token: "tok".into(),
            url: "http://x/invite/tok".into(),
            status,
            client_name: Some("Acme".into()),
            client_email: None,
            client_phone: None,
            phone_number_id: None,
            connection_type: Some("whatsapp_waba".into()),
            sender_id: None,
            connected_account: None,
            expires_at: Timestamp::from_millis(86_400_000),
            created_at: t,
            updated_at: t,
            viewed_at: None,
            started_at: None,
            completed_at: None,
            failed_at: None,
            failure_reason: None,
        }
    }

    #[test]
    fn a_change_is_queued_only_when_subscribed_and_real() {
        let mut h = Hooks::default();
        let pending = invitation(InvitationStatus::Pending);
        let started = invitation(InvitationStatus::InProgress);
        let now = Timestamp::from_millis(1_000);
        h.status_changed(&pending, &started, now);
        assert!(h.queue.is_empty(), "no webhook, no event");
        assert!(h.configure("https://a.example/h".into(), vec![STATUS_CHANGED.into()]));
        let secret = h.config.as_ref().unwrap().secret.clone();
        assert!(!h.configure("https://b.example/h".into(), vec![STATUS_CHANGED.into()]));
        assert_eq!(
            h.config.as_ref().unwrap().secret,
            secret,
            "the secret is kept"
        );
        h.status_changed(&started, &started, now);
        assert!(h.queue.is_empty(), "the same status again is no change");
        h.status_changed(&pending, &started, now);
        assert_eq!(h.queue.len(), 1);
        let event: Event = serde_json::from_str(&h.queue[0].body).unwrap();
        assert_eq!(event.timestamp, 1_000);
        assert!(event.id.starts_with("evt_1000_"));
        assert_eq!(event.data.previous_status, "pending");
        assert_eq!(event.data.current_status, "in_progress");
        assert_eq!(event.project_id, PROJECT_ID);
        h.config.as_mut().unwrap().active = false;
        h.status_changed(&pending, &started, now);
        assert_eq!(h.queue.len(), 1, "an inactive webhook gets nothing");
    }

    #[test]
    fn one_invitation_at_a_time_and_retries_back_off_then_give_up() {
        let mut h = Hooks::default();
        h.configure("https://a.example/h".into(), vec![STATUS_CHANGED.into()]);
        let (a, b) = (
            invitation(InvitationStatus::Pending),
            invitation(InvitationStatus::InProgress),
        );
        h.status_changed(&a, &b, Timestamp::from_millis(10));
        h.status_changed(
            &b,
            &invitation(InvitationStatus::Completed),
            Timestamp::from_millis(20),
        );
        let due = h.due(20, true, &|_| false);
        assert_eq!(
            h.due(20, false, &|_| false).len(),
            2,
            "unordered: all at once"
        );
        assert_eq!(
            due.len(),
            1,
            "the invitation's second event waits for its first"
        );
        assert_eq!(due[0].seq, 1);
        assert!(
            h.due(20, true, &|p| p.seq == 1 || p.invitation_id == "inv1")
                .is_empty()
        );
        assert_eq!(h.failed(1, 100), Some(AfterFailure::RetryAt(5_100)));
        assert_eq!(
            h.due(100, true, &|_| false)[0].seq,
            2,
            "a retry waits; later events go on"
        );
        for _ in 1..RETRY_AFTER_SECONDS.len() {
            assert!(matches!(h.failed(1, 100), Some(AfterFailure::RetryAt(_))));
        }
        assert_eq!(h.failed(1, 100), Some(AfterFailure::GiveUp));
        assert_eq!(h.queue.len(), 1);
        assert_eq!(h.queue[0].seq, 2);
    }
}
