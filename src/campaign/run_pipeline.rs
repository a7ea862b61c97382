//! The send loop when the journal is in PostgreSQL: the same rows, marks and answers as
//! [`super::run_loop`]'s, with the journal's round trips taken off the creates' path.
//!
//! A commit there waits for the database's disk and a round trip, longer than a create to
//! a nearby API takes; committing before every turn's creates, as SQLite does, would leave
//! the creates idle most of the time. So the loop works in cycles, one statement pair in
//! flight at a time: each cycle commits the answers gathered so far together with the
//! `sending` marks of the rows admitted last cycle, and — pipelined on the same connection —
//! looks up the next rows. When it completes, the rows it marked become ready and leave as
//! soon as a create slot frees, while the next cycle commits. A `sending` mark is still
//! durable before its create leaves; rows marked but not yet sent when the process dies
//! are `sending` and reconciled by the next run like any other, and rows marked but not
//! sent when the run is stopped are made sendable again.

use super::journal::{Batch, CampaignId, Entry, Journal, JournalError, Op, RowState};
use super::plan::{Planned, SourceRow};
use super::run_loop::{Inflight, Run};
use futures::StreamExt;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

type Looked = Result<HashMap<String, Entry>, JournalError>;
type Cycle = Pin<Box<dyn Future<Output = (Result<(), JournalError>, Looked)>>>;

/// One cycle's statements, sent together on the journal's connection.
fn cycle(journal: Rc<Journal>, c: CampaignId, batch: Batch, keys: Vec<String>) -> Cycle {
    Box::pin(async move {
        let lookup = async {
            if keys.is_empty() {
                return Ok(HashMap::new());
            }
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            journal.get_many(c, &keys).await
        };
        futures::join!(journal.commit(c, &batch), lookup)
    })
}

impl Run<'_, '_> {
    pub(super) async fn pump_pipelined(
        &mut self,
        mut rows: Box<dyn Iterator<Item = SourceRow> + '_>,
        resend: bool,
    ) {
        let conc = self.settings.concurrency.max(1);
        // Rows in flight, ready, being marked or looked up. Deep enough that ready rows
        // last while a cycle commits (measured: 2 × concurrency left the creates waiting on
        // the journal), shallow enough that a crash leaves little to reconcile.
        let window = (8 * conc).min(conc + 256);
        let mut inflight = Inflight::new();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut exhausted = false;
        let mut ready: VecDeque<Planned> = VecDeque::new();
        // Admitted rows whose marks wait for the next cycle, and those in the cycle running.
        let mut staged: Vec<Planned> = vec![];
        let mut marking: Vec<Planned> = vec![];
        let mut looking: Vec<SourceRow> = vec![];
        let mut running: Option<Cycle> = None;
        // A campaign with nothing journaled yet has nothing to look up: the rows this run
        // writes are its own (a repeated key is caught as a duplicate before any lookup).
        let fresh = !resend
            && matches!(self.journal.counts(self.campaign).await, Ok((ref states, _)) if states.is_empty());
        loop {
            if running.is_none() && self.halted.is_none() {
                let room = match exhausted || self.stopped() {
                    true => 0,
                    false => window.saturating_sub(
                        inflight.len() + ready.len() + staged.len() + looking.len(),
                    ),
                };
                let chunk: Vec<SourceRow> = rows.by_ref().take(room).collect();
                exhausted |= chunk.len() < room;
                if !chunk.is_empty() || !staged.is_empty() || !self.batch.is_empty() {
                    let mut batch = std::mem::take(&mut self.batch);
                    batch.run = Some((self.run_id, self.tally));
                    let keys = match resend || fresh {
                        true => vec![],
                        false => chunk
                            .iter()
                            .filter_map(|r| match r {
                                SourceRow::Ready(p) => Some(p.key.clone()),
                                SourceRow::Invalid(_) => None,
                            })
                            .collect(),
                    };
                    running = Some(cycle(self.journal.clone(), self.campaign, batch, keys));
                    marking = std::mem::take(&mut staged);
                    looking = chunk;
                }
            }
            if running.is_none()
                && inflight.is_empty()
                && (exhausted || self.stopped())
                && (ready.is_empty() || self.stopped())
            {
                break;
            }
            tokio::select! {
                Some(done) = inflight.next() => {
                    self.finish(done);
                    self.launch(&mut ready, &mut inflight, resend, true);
                }
                (written, looked) = async {
                    match running.as_mut() {
                        Some(c) => c.await,
                        None => std::future::pending().await,
                    }
                } => {
                    running = None;
                    if self.journal(written).is_some() {
                        ready.extend(std::mem::take(&mut marking));
                    } // else the marks may not be durable: those rows are not sent.
                    marking.clear();
                    let chunk = std::mem::take(&mut looking);
                    if let Some(known) = self.journal(looked) {
                        for row in chunk {
                            if self.stopped() {
                                break;
                            }
                            if let Some(p) = self.admit(row, resend, &known) {
                                staged.push(p);
                            }
                        }
                    }
                    self.launch(&mut ready, &mut inflight, resend, true);
                }
                _ = tick.tick() => self.progress.update(&self.tally),
            }
        }
        // Marked but never sent (the run was stopped): sendable again.
        for p in ready.into_iter().chain(staged) {
            self.batch.push(Op::Mark {
                key: p.key,
                state: RowState::Planned,
                code: None,
                message: None,
            });
        }
        self.flush().await;
    }
}
