//! The sandbox's state: invitations, messages, senders, templates and phone numbers, with
//! the indexes the routes need, their pages (see [`super::cursor`]), and saving to /
//! loading from a JSON file.
//!
//! Records are kept in creation order with a sequence number. The store applies no HTTP
//! rules and no faults; it must never panic on any input. Reset returns every resource to
//! the seeds (see [`super::seeds`]), keeping the sequence and the cursor salt.

use super::cursor::{BadCursor, Cursors, PageOut, Record};
use super::hooks::{Hooks, Pending};
use super::{lifecycle, seeds};
use crate::api::webhook::Webhook;
use crate::api::{Invitation, Message, OwnedPhoneNumber, Sender, Template, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The snapshot format written today. Version 1 files (senders created by invitations
/// only, no templates or phone numbers) still load.
const SNAPSHOT_VERSION: u32 = 2;

/// What survives a restart when the sandbox runs with `--state FILE`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub version: u32,
    pub clock_offset_ms: i64,
    pub next_seq: u64,
    #[serde(default)]
    pub cursors: Option<Cursors>,
    pub invitations: Vec<Record<Invitation>>,
    pub messages: Vec<Record<Message>>,
    pub senders: Vec<Record<Sender>>,
    pub idempotency: HashMap<String, String>,
    #[serde(default)]
    pub templates: Option<Vec<Record<Template>>>,
    #[serde(default)]
    pub phone_numbers: Option<Vec<Record<OwnedPhoneNumber>>>,
    /// The project webhook, and the events still to be delivered to it.
    #[serde(default)]
    pub webhook: Option<Webhook>,
    #[serde(default)]
    pub deliveries: Vec<Pending>,
}

#[derive(Debug)]
pub struct Store {
    epoch: Timestamp,
    next_seq: u64,
    cursors: Cursors,
    invitations: Vec<Record<Invitation>>,
    invitation_by_id: HashMap<String, usize>,
    invitation_by_token: HashMap<String, usize>,
    messages: Vec<Record<Message>>,
    message_by_id: HashMap<String, usize>,
    /// idempotencyKey → message id.
    idempotency: HashMap<String, String>,
    senders: Vec<Record<Sender>>,
    templates: Vec<Record<Template>>,
    phone_numbers: Vec<Record<OwnedPhoneNumber>>,
    /// The project webhook and its queue of deliveries.
    pub hooks: Hooks,
}

const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A random opaque id in the style of the real service (`jh7am5bng9p3v2x1k4r8`).
pub fn random_id(len: usize) -> String {
    (0..len)
        .map(|_| ID_ALPHABET[fastrand::usize(..ID_ALPHABET.len())] as char)
        .collect()
}

fn find<T>(records: &[Record<T>], id: impl Fn(&T) -> bool) -> Option<&T> {
    records.iter().map(|r| &r.item).find(|t| id(t))
}

fn find_mut<T>(records: &mut [Record<T>], id: impl Fn(&T) -> bool) -> Option<&mut T> {
    records.iter_mut().map(|r| &mut r.item).find(|t| id(t))
}

impl Store {
    pub fn new(epoch: Timestamp) -> Self {
        let mut store = Store {
            epoch,
            next_seq: 1,
            cursors: Cursors::default(),
            invitations: vec![],
            invitation_by_id: HashMap::new(),
            invitation_by_token: HashMap::new(),
            messages: vec![],
            message_by_id: HashMap::new(),
            idempotency: HashMap::new(),
            senders: vec![],
            templates: vec![],
            phone_numbers: vec![],
            hooks: Hooks::default(),
        };
        store.seed();
        store
    }

    fn seed(&mut self) {
        let epoch = self.epoch;
        self.senders.clear();
        for s in seeds::senders(epoch) {
            self.insert_sender(s);
        }
        self.templates.clear();
        for t in seeds::templates(epoch) {
            self.insert_template(t);
        }
        self.phone_numbers.clear();
        for p in seeds::phone_numbers(epoch) {
            let seq = self.seq();
            self.phone_numbers.push(Record { seq, item: p });
        }
    }

    fn seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Forgets invitations, messages, created senders and templates and the project
    /// webhook, and undoes changes to the seeds.
    pub fn reset(&mut self) {
        self.hooks.reset();
        self.invitations.clear();
        self.invitation_by_id.clear();
        self.invitation_by_token.clear();
        self.messages.clear();
        self.message_by_id.clear();
        self.idempotency.clear();
        self.seed();
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

    /// Stores a changed invitation, announcing a status change to the project webhook.
    pub fn replace_invitation(&mut self, next: Invitation, now: Timestamp) {
        let Some(&i) = self.invitation_by_id.get(&next.id) else {
            return;
        };
        let before = std::mem::replace(&mut self.invitations[i].item, next);
        self.hooks
            .status_changed(&before, &self.invitations[i].item, now);
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
    ) -> Result<PageOut<Invitation>, BadCursor> {
        self.cursors
            .page("invitations", &self.invitations, cursor, limit, |inv| {
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

    // ---- phone numbers ----

    pub fn phone_number(&self, id: &str) -> Option<&OwnedPhoneNumber> {
        find(&self.phone_numbers, |p| p.id == id)
    }

    pub fn phone_number_mut(&mut self, id: &str) -> Option<&mut OwnedPhoneNumber> {
        find_mut(&mut self.phone_numbers, |p| p.id == id)
    }

    pub fn list_phone_numbers(
        &self,
        status: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<PageOut<OwnedPhoneNumber>, BadCursor> {
        self.cursors
            .page("phoneNumbers", &self.phone_numbers, cursor, limit, |p| {
                status.is_none_or(|s| p.status == s).then(|| p.clone())
            })
    }

    // ---- senders ----

    pub fn insert_sender(&mut self, sender: Sender) {
        let seq = self.seq();
        self.senders.push(Record { seq, item: sender });
    }

    pub fn sender(&self, id: &str) -> Option<&Sender> {
        find(&self.senders, |s| s.id == id)
    }

    pub fn sender_mut(&mut self, id: &str) -> Option<&mut Sender> {
        find_mut(&mut self.senders, |s| s.id == id)
    }

    pub fn default_sender(&self) -> Option<&Sender> {
        find(&self.senders, |s| s.is_default == Some(true))
    }

    /// Makes `id` the project's one default sender.
    pub fn set_default_sender(&mut self, id: &str, now: Timestamp) {
        for r in &mut self.senders {
            let is_it = r.item.id == id;
            if r.item.is_default.unwrap_or(false) != is_it {
                r.item.is_default = Some(is_it);
                r.item.updated_at = Some(now);
            }
        }
    }

    /// Removes a sender; numbers attached to it are detached.
    pub fn remove_sender(&mut self, id: &str, now: Timestamp) -> Option<Sender> {
        let at = self.senders.iter().position(|r| r.item.id == id)?;
        for r in &mut self.phone_numbers {
            if r.item.sender_id.as_deref() == Some(id) {
                r.item.sender_id = None;
                r.item.updated_at = Some(now);
            }
        }
        Some(self.senders.remove(at).item)
    }

    pub fn list_senders(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<PageOut<Sender>, BadCursor> {
        self.cursors
            .page("senders", &self.senders, cursor, limit, |s| Some(s.clone()))
    }

    // ---- templates ----

    pub fn insert_template(&mut self, template: Template) {
        let seq = self.seq();
        self.templates.push(Record {
            seq,
            item: template,
        });
    }

    pub fn template(&self, id: &str) -> Option<&Template> {
        find(&self.templates, |t| t.id == id)
    }

    pub fn template_mut(&mut self, id: &str) -> Option<&mut Template> {
        find_mut(&mut self.templates, |t| t.id == id)
    }

    pub fn template_named(&self, name: &str, language: &str) -> Option<&Template> {
        find(&self.templates, |t| {
            t.name == name && t.language == language
        })
    }

    pub fn list_templates(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<PageOut<Template>, BadCursor> {
        self.cursors
            .page("templates", &self.templates, cursor, limit, |t| {
                Some(t.clone())
            })
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
        keep: impl FnMut(&Message) -> Option<Message>,
    ) -> Result<PageOut<Message>, BadCursor> {
        self.cursors
            .page("messages", &self.messages, cursor, limit, keep)
    }

    pub fn message_total(&self) -> usize {
        self.messages.len()
    }

    // ---- persistence ----

    pub fn snapshot(&self, clock_offset_ms: i64) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            clock_offset_ms,
            next_seq: self.next_seq,
            cursors: Some(self.cursors.clone()),
            invitations: self.invitations.clone(),
            messages: self.messages.clone(),
            senders: self.senders.clone(),
            idempotency: self.idempotency.clone(),
            templates: Some(self.templates.clone()),
            phone_numbers: Some(self.phone_numbers.clone()),
            webhook: self.hooks.config.clone(),
            deliveries: self.hooks.queue.clone(),
        }
    }

    /// Rebuilds a store from a snapshot on top of fresh seeds.
    pub fn restore(epoch: Timestamp, snap: Snapshot) -> Self {
        let mut store = Store::new(epoch);
        store.next_seq = store.next_seq.max(snap.next_seq);
        if let Some(c) = snap.cursors {
            store.cursors = c;
        }
        store.invitations = snap.invitations;
        store.messages = snap.messages;
        if snap.version >= 2 {
            store.senders = snap.senders;
        } else {
            store.senders.extend(snap.senders);
        }
        if let Some(t) = snap.templates {
            store.templates = t;
        }
        if let Some(p) = snap.phone_numbers {
            store.phone_numbers = p;
        }
        store.idempotency = snap.idempotency;
        store.hooks = Hooks::restore(snap.webhook, snap.deliveries);
        // Sequence numbers must stay increasing for pagination, whatever the file says.
        store.invitations.sort_by_key(|r| r.seq);
        store.messages.sort_by_key(|r| r.seq);
        store.senders.sort_by_key(|r| r.seq);
        store.templates.sort_by_key(|r| r.seq);
        store.phone_numbers.sort_by_key(|r| r.seq);
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
    fn reset_undoes_changes_to_the_seeds_and_keeps_cursors_valid() {
        let epoch = Timestamp::from_millis(0);
        let mut store = Store::new(epoch);
        let page = store.list_senders(None, 1).unwrap();
        assert!(page.next_cursor.is_none());
        store.set_default_sender("nobody", epoch);
        assert!(store.default_sender().is_none());
        let templates = store.list_templates(None, 1).unwrap();
        let cursor = templates.next_cursor.unwrap();
        store.reset();
        assert!(store.default_sender().is_some());
        assert!(store.list_templates(Some(&cursor), 1).is_ok());
        let snap = store.snapshot(0);
        let back = Store::restore(epoch, snap);
        assert!(
            back.list_templates(Some(&cursor), 1).is_ok(),
            "the salt survives"
        );
        assert_eq!(back.senders.len(), 1);
    }
}
