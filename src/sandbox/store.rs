//! The sandbox's state: invitations, messages, senders, templates and phone numbers, with
//! the indexes the routes need, cursor pagination, and saving to / loading from a JSON file.
//!
//! Records are kept in creation order with a sequence number; "newest first" pages walk
//! that order backwards and the cursor is the last sequence number answered. The store
//! applies no HTTP rules and no faults; it must never panic on any input.

use super::lifecycle;
use crate::api::{Invitation, Message, Sender, Template, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Well-known ids from the Zavu docs, seeded so that docs samples run as written.
pub const SEED_TEMPLATE_ID: &str = "tmpl_xyz789";
pub const SEED_PENDING_TEMPLATE_ID: &str = "tmpl_pending01";
pub const SEED_PHONE_NUMBER_ID: &str = "pn_abc123";
pub const SEED_PHONE_NUMBER: &str = "+14155550123";
pub const DEFAULT_SENDER_ID: &str = "snd_default";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record<T> {
    pub seq: u64,
    #[serde(flatten)]
    pub item: T,
}

/// What survives a restart when the sandbox runs with `--state FILE`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub version: u32,
    pub clock_offset_ms: i64,
    pub next_seq: u64,
    pub invitations: Vec<Record<Invitation>>,
    pub messages: Vec<Record<Message>>,
    pub senders: Vec<Record<Sender>>,
    pub idempotency: HashMap<String, String>,
}

#[derive(Debug)]
pub struct Store {
    next_seq: u64,
    invitations: Vec<Record<Invitation>>,
    invitation_by_id: HashMap<String, usize>,
    invitation_by_token: HashMap<String, usize>,
    messages: Vec<Record<Message>>,
    message_by_id: HashMap<String, usize>,
    /// idempotencyKey → message id.
    idempotency: HashMap<String, String>,
    /// Seeded senders first, then the ones completed invitations created.
    senders: Vec<Record<Sender>>,
    seeded_senders: usize,
    templates: Vec<Record<Template>>,
    /// Zavu phone number id → E.164 number.
    phone_numbers: HashMap<String, String>,
}

const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A random opaque id in the style of the real service (`jh7am5bng9p3v2x1k4r8`).
pub fn random_id(len: usize) -> String {
    (0..len)
        .map(|_| ID_ALPHABET[fastrand::usize(..ID_ALPHABET.len())] as char)
        .collect()
}

fn seed_senders(epoch: Timestamp) -> Vec<Sender> {
    vec![Sender {
        id: DEFAULT_SENDER_ID.into(),
        name: "Sandbox default sender".into(),
        phone_number: "+14155550100".into(),
        channels: Some(vec!["sms".into(), "whatsapp".into()]),
        is_default: Some(true),
        email_address: None,
        whatsapp: Some(serde_json::json!({
            "phoneNumberId": "100000000000001",
            "displayPhoneNumber": "+1 415-555-0100"
        })),
        webhook: None,
        created_at: Some(epoch),
        updated_at: Some(epoch),
    }]
}

fn seed_templates(epoch: Timestamp) -> Vec<Template> {
    vec![
        Template {
            id: SEED_TEMPLATE_ID.into(),
            name: "welcome_onboarded".into(),
            language: "en".into(),
            body: "Hi {{1}}, your WhatsApp Business account is connected. Welcome aboard!".into(),
            category: "UTILITY".into(),
            status: Some("approved".into()),
            variables: Some(vec!["1".into()]),
            created_at: Some(epoch),
            updated_at: Some(epoch),
        },
        Template {
            id: SEED_PENDING_TEMPLATE_ID.into(),
            name: "spring_promo".into(),
            language: "en".into(),
            body: "Hi {{1}}, our spring offer is here.".into(),
            category: "MARKETING".into(),
            status: Some("pending".into()),
            variables: Some(vec!["1".into()]),
            created_at: Some(epoch),
            updated_at: Some(epoch),
        },
    ]
}

/// One page of a newest-first walk.
pub struct PageOut<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

fn cursor_of(seq: u64) -> String {
    format!("c{seq:x}")
}

/// A cursor we did not issue (or a garbled one) reads as "from the start", as the real
/// API answers the generated SDK tests' `cursor=cursor`.
fn parse_cursor(cursor: Option<&str>) -> Option<u64> {
    let hex = cursor?.strip_prefix('c')?;
    u64::from_str_radix(hex, 16).ok()
}

/// Newest first, after `cursor`, keeping what `keep` maps to `Some`.
fn paginate<T, U>(
    records: &[Record<T>],
    cursor: Option<&str>,
    limit: usize,
    mut keep: impl FnMut(&T) -> Option<U>,
) -> PageOut<U> {
    let end = match parse_cursor(cursor) {
        Some(after) => records.partition_point(|r| r.seq < after),
        None => records.len(),
    };
    let mut items = Vec::with_capacity(limit.min(end));
    let mut last_seq = None;
    let mut more = false;
    for r in records[..end].iter().rev() {
        if let Some(u) = keep(&r.item) {
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(u);
            last_seq = Some(r.seq);
        }
    }
    PageOut {
        items,
        next_cursor: if more { last_seq.map(cursor_of) } else { None },
    }
}

impl Store {
    pub fn new(epoch: Timestamp) -> Self {
        let mut store = Store {
            next_seq: 1,
            invitations: vec![],
            invitation_by_id: HashMap::new(),
            invitation_by_token: HashMap::new(),
            messages: vec![],
            message_by_id: HashMap::new(),
            idempotency: HashMap::new(),
            senders: vec![],
            seeded_senders: 0,
            templates: vec![],
            phone_numbers: HashMap::from([(
                SEED_PHONE_NUMBER_ID.to_string(),
                SEED_PHONE_NUMBER.to_string(),
            )]),
        };
        for s in seed_senders(epoch) {
            let seq = store.seq();
            store.senders.push(Record { seq, item: s });
        }
        store.seeded_senders = store.senders.len();
        for t in seed_templates(epoch) {
            let seq = store.seq();
            store.templates.push(Record { seq, item: t });
        }
        store
    }

    fn seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Forgets invitations, messages and created senders; keeps the seeds.
    pub fn reset(&mut self) {
        self.invitations.clear();
        self.invitation_by_id.clear();
        self.invitation_by_token.clear();
        self.messages.clear();
        self.message_by_id.clear();
        self.idempotency.clear();
        self.senders.truncate(self.seeded_senders);
    }

    // ---- invitations ----

    pub fn insert_invitation(&mut self, inv: Invitation) -> &Invitation {
        let seq = self.seq();
        let idx = self.invitations.len();
        self.invitation_by_id.insert(inv.id.clone(), idx);
        self.invitation_by_token.insert(inv.token.clone(), idx);
        self.invitations.push(Record { seq, item: inv });
        &self.invitations[idx].item
    }

    pub fn invitation(&self, id: &str) -> Option<&Invitation> {
        self.invitation_by_id
            .get(id)
            .map(|&i| &self.invitations[i].item)
    }

    pub fn invitation_mut(&mut self, id: &str) -> Option<&mut Invitation> {
        self.invitation_by_id
            .get(id)
            .map(|&i| &mut self.invitations[i].item)
    }

    pub fn invitation_id_by_token(&self, token: &str) -> Option<String> {
        self.invitation_by_token
            .get(token)
            .map(|&i| self.invitations[i].item.id.clone())
    }

    /// Newest first; `status` is compared with the status a reader sees at `now`.
    pub fn list_invitations(
        &self,
        status: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
        now: Timestamp,
    ) -> PageOut<Invitation> {
        paginate(&self.invitations, cursor, limit, |inv| {
            let shown = lifecycle::render(inv, now);
            match status {
                Some(s) if shown.status.as_str() != s => None,
                _ => Some(shown),
            }
        })
    }

    pub fn invitation_counts(&self, now: Timestamp) -> HashMap<String, u64> {
        let mut counts = HashMap::new();
        for r in &self.invitations {
            let s = lifecycle::effective_status(&r.item, now);
            *counts.entry(s.as_str().to_string()).or_insert(0) += 1;
        }
        counts
    }

    // ---- phone numbers, senders, templates ----

    pub fn phone_number(&self, id: &str) -> Option<&str> {
        self.phone_numbers.get(id).map(String::as_str)
    }

    pub fn insert_sender(&mut self, sender: Sender) {
        let seq = self.seq();
        self.senders.push(Record { seq, item: sender });
    }

    pub fn sender(&self, id: &str) -> Option<&Sender> {
        self.senders
            .iter()
            .find(|r| r.item.id == id)
            .map(|r| &r.item)
    }

    pub fn default_sender(&self) -> Option<&Sender> {
        self.senders
            .iter()
            .find(|r| r.item.is_default == Some(true))
            .map(|r| &r.item)
    }

    pub fn list_senders(&self, cursor: Option<&str>, limit: usize) -> PageOut<Sender> {
        paginate(&self.senders, cursor, limit, |s| Some(s.clone()))
    }

    pub fn template(&self, id: &str) -> Option<&Template> {
        self.templates
            .iter()
            .find(|r| r.item.id == id)
            .map(|r| &r.item)
    }

    pub fn list_templates(&self, cursor: Option<&str>, limit: usize) -> PageOut<Template> {
        paginate(&self.templates, cursor, limit, |t| Some(t.clone()))
    }

    // ---- messages ----

    pub fn message_by_idempotency_key(&self, key: &str) -> Option<&str> {
        self.idempotency.get(key).map(String::as_str)
    }

    pub fn insert_message(&mut self, msg: Message, idempotency_key: Option<String>) {
        let seq = self.seq();
        if let Some(k) = idempotency_key {
            self.idempotency.insert(k, msg.id.clone());
        }
        self.message_by_id
            .insert(msg.id.clone(), self.messages.len());
        self.messages.push(Record { seq, item: msg });
    }

    pub fn message(&self, id: &str) -> Option<&Message> {
        self.message_by_id.get(id).map(|&i| &self.messages[i].item)
    }

    pub fn list_messages(
        &self,
        cursor: Option<&str>,
        limit: usize,
        mut keep: impl FnMut(&Message) -> Option<Message>,
    ) -> PageOut<Message> {
        paginate(&self.messages, cursor, limit, |m| keep(m))
    }

    pub fn message_total(&self) -> usize {
        self.messages.len()
    }

    // ---- persistence ----

    pub fn snapshot(&self, clock_offset_ms: i64) -> Snapshot {
        Snapshot {
            version: 1,
            clock_offset_ms,
            next_seq: self.next_seq,
            invitations: self.invitations.clone(),
            messages: self.messages.clone(),
            senders: self.senders[self.seeded_senders..].to_vec(),
            idempotency: self.idempotency.clone(),
        }
    }

    /// Rebuilds a store from a snapshot on top of fresh seeds.
    pub fn restore(epoch: Timestamp, snap: Snapshot) -> Self {
        let mut store = Store::new(epoch);
        store.next_seq = store.next_seq.max(snap.next_seq);
        for r in snap.invitations {
            let idx = store.invitations.len();
            store.invitation_by_id.insert(r.item.id.clone(), idx);
            store.invitation_by_token.insert(r.item.token.clone(), idx);
            store.invitations.push(r);
        }
        for r in snap.messages {
            store
                .message_by_id
                .insert(r.item.id.clone(), store.messages.len());
            store.messages.push(r);
        }
        store.senders.extend(snap.senders);
        store.idempotency = snap.idempotency;
        // Sequence numbers must stay increasing for pagination, whatever the file says.
        store.invitations.sort_by_key(|r| r.seq);
        store.messages.sort_by_key(|r| r.seq);
        store.reindex();
        store
    }

    fn reindex(&mut self) {
        self.invitation_by_id.clear();
        self.invitation_by_token.clear();
        for (i, r) in self.invitations.iter().enumerate() {
            self.invitation_by_id.insert(r.item.id.clone(), i);
            self.invitation_by_token.insert(r.item.token.clone(), i);
        }
        self.message_by_id.clear();
        for (i, r) in self.messages.iter().enumerate() {
            self.message_by_id.insert(r.item.id.clone(), i);
        }
    }
}

/// Reads a state file; a missing file is a fresh start.
pub fn load_snapshot(path: &Path) -> Result<Option<Snapshot>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        format!(
            "{}:{}:{}: not a sandbox state file: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Writes a state file atomically (a temporary file renamed over the old one), so a crash
/// mid-write never leaves half a file.
pub fn save_snapshot(path: &Path, snap: &Snapshot) -> Result<(), String> {
    let tmp: PathBuf = path.with_extension("tmp");
    let bytes = serde_json::to_vec(snap).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, bytes).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_pages_visit_each_record_once_newest_first() {
        let records: Vec<Record<u32>> = (1..=7)
            .map(|i| Record {
                seq: i,
                item: i as u32,
            })
            .collect();
        let mut seen = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let page = paginate(&records, cursor.as_deref(), 3, |x| Some(*x));
            seen.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, vec![7, 6, 5, 4, 3, 2, 1]);
        // A cursor we never issued reads as the first page.
        let page = paginate(&records, Some("cursor"), 2, |x| Some(*x));
        assert_eq!(page.items, vec![7, 6]);
    }

    #[test]
    fn last_page_has_no_cursor_even_when_full() {
        let records: Vec<Record<u32>> = (1..=4)
            .map(|i| Record {
                seq: i,
                item: i as u32,
            })
            .collect();
        let page = paginate(&records, None, 4, |x| Some(*x));
        assert_eq!(page.items.len(), 4);
        assert!(page.next_cursor.is_none());
    }
}
