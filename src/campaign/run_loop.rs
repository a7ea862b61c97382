//! The send loop of a campaign: rows fed into up to `concurrency` creates in flight through
//! the client's shared rate budget, each journaled `sending` before it leaves and with its
//! answer after; lost answers settled, reconciled against the server's list and only then
//! resent; earlier runs' loose ends adopted first. [`send`] owns one run from the first
//! row to the summary; setting up (lock, journal, report files) is the caller's, and the
//! settling and reconciling of lost answers is in [`super::settle`].

use super::existing::Existing;
use super::journal::{
    Batch, CampaignId, Client, Entry, Journal, JournalError, Observed, Op, RowState,
};
use super::plan::{Planned, SourceRow, key_hash};
use super::progress::{Ending, Progress, Tally};
use super::reconcile::SkewMeter;
use super::report::Report;
use super::results::{
    Action, RowResult, created_result, duplicate_result, earlier_result, existing_result,
    invalid_result, unsent_result,
};
use super::runs::{Outcome, RunId};
use super::settings::{Env, Settings};
use super::summary::{Halt, Summary};
use crate::api::Invitation;
use crate::client::ClientError;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs the campaign's rows to the end (or until stopped) and sums it up.
/// What a run writes to and checks against, set up by the caller.
pub(super) struct Books {
    pub journal: Journal,
    pub campaign: CampaignId,
    /// This run's record in the journal.
    pub run: RunId,
    pub report: Option<Report>,
    /// The project's clients who already hold a live invitation.
    pub existing: Existing,
}

pub(super) fn send(
    env: &Env<'_>,
    settings: &Settings,
    books: Books,
    rows: Box<dyn Iterator<Item = SourceRow> + '_>,
    total: Option<u64>,
) -> Summary {
    let started = Instant::now();
    let Books {
        journal,
        campaign,
        run: run_id,
        report,
        existing,
    } = books;
    let mut run = Run {
        env,
        settings,
        journal: std::rc::Rc::new(journal),
        campaign,
        run_id,
        report,
        existing,
        progress: Progress::new(&settings.name, total, settings.quiet),
        tally: Tally::default(),
        results: vec![],
        results_complete: true,
        seen: HashMap::new(),
        adopted_earlier: HashMap::new(),
        lost: vec![],
        last_lost_ms: 0,
        skew: SkewMeter::default(),
        unreachable_streak: 0,
        halted: None,
        batch: Batch::default(),
    };
    env.handle.block_on(run.execute(rows));
    let paths = run.report.as_ref().map(|r| {
        let (c, j) = r.paths();
        (c.to_path_buf(), j.to_path_buf())
    });
    if let Some(r) = run.report.take()
        && let Err(e) = r.finish()
        && run.halted.is_none()
    {
        run.halted = Some(Halt::Journal(e));
    }
    if let Some(skew) = run.skew.skew() {
        let _ = env
            .handle
            .block_on(run.journal.set_clock_offset(campaign, skew.offset_ms));
    }
    let (outcome, detail) = match &run.halted {
        None => (Outcome::Finished, None),
        Some(Halt::Interrupted(why)) => (Outcome::Interrupted, Some(why.clone())),
        Some(Halt::Api(e)) => (Outcome::Halted, Some(e.to_string())),
        Some(Halt::Journal(e)) => (Outcome::Halted, Some(e.clone())),
    };
    if let Err(e) =
        env.handle.block_on(
            run.journal
                .end_run(run_id, outcome, detail.as_deref(), &run.tally),
        )
    {
        tracing::warn!("campaign: could not record how the run ended: {e}");
    }
    let Run {
        progress,
        tally,
        results,
        results_complete,
        halted,
        ..
    } = run;
    let ending = match &halted {
        Some(Halt::Interrupted(_)) => Ending::Interrupted,
        _ => Ending::Done,
    };
    progress.finish(&tally, ending);
    Summary {
        name: settings.name.clone(),
        tally,
        dry_run: false,
        elapsed: started.elapsed(),
        results,
        results_complete,
        report: paths,
        halted,
    }
}

/// The creates in flight.
/// A create in flight: its attempt, or why it was withheld at the last moment.
pub(super) type Inflight = FuturesUnordered<tokio::task::JoinHandle<Result<Attempt, String>>>;

/// One create and what came of it.
pub(super) struct Attempt {
    planned: Planned,
    sent_ms: i64,
    received_ms: i64,
    result: Result<Invitation, ClientError>,
}

pub(super) struct Run<'e, 's> {
    pub(super) env: &'e Env<'e>,
    pub(super) settings: &'s Settings,
    /// Shared with the commit a pipelined send loop has in flight.
    pub(super) journal: std::rc::Rc<Journal>,
    pub(super) campaign: CampaignId,
    pub(super) run_id: RunId,
    pub(super) report: Option<Report>,
    pub(super) existing: Existing,
    pub(super) progress: Progress,
    pub(super) tally: Tally,
    pub(super) results: Vec<RowResult>,
    pub(super) results_complete: bool,
    /// Row key (hashed) → the line that first used it in this run.
    pub(super) seen: HashMap<u64, u64>,
    /// Rows an earlier run left unknown that turned out to exist.
    pub(super) adopted_earlier: HashMap<String, Invitation>,
    /// This run's creates whose answers were lost, awaiting reconciliation.
    pub(super) lost: Vec<Planned>,
    pub(super) last_lost_ms: i64,
    pub(super) skew: SkewMeter,
    pub(super) unreachable_streak: usize,
    pub(super) halted: Option<Halt>,
    /// Writes waiting for the next commit (see [`Run::flush`]).
    pub(super) batch: Batch,
}

impl Run<'_, '_> {
    pub(super) fn record(&mut self, r: RowResult) {
        self.tally.count(&r);
        if let Some(rep) = self.report.as_mut()
            && let Err(e) = rep.write(&r)
            && self.halted.is_none()
        {
            self.halted = Some(Halt::Journal(e));
        }
        if self.results.len() < self.settings.keep_results {
            self.results.push(r);
        } else {
            self.results_complete = false;
        }
        self.progress.update(&self.tally);
    }

    pub(super) fn journal<T>(&mut self, r: Result<T, JournalError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                if self.halted.is_none() {
                    self.halted = Some(Halt::Journal(e.to_string()));
                }
                None
            }
        }
    }

    /// Commits the writes gathered so far, with the run's counts; false (and the run
    /// halted) when they may not be durable.
    pub(super) async fn flush(&mut self) -> bool {
        let mut batch = std::mem::take(&mut self.batch);
        batch.run = Some((self.run_id, self.tally));
        let r = self.journal.commit(self.campaign, &batch).await;
        self.journal(r).is_some()
    }

    pub(super) fn stopped(&self) -> bool {
        self.halted.is_some() || self.env.stop.is_set()
    }

    async fn execute(&mut self, rows: Box<dyn Iterator<Item = SourceRow> + '_>) {
        self.reconcile_earlier().await;
        if !self.stopped() {
            self.send_rows(rows, false).await;
        }
        self.flush().await;
        for _ in 0..self.settings.passes {
            if self.lost.is_empty() || self.stopped() {
                break;
            }
            let resend = self.reconcile_lost().await;
            if !resend.is_empty() && !self.stopped() {
                self.send_rows(Box::new(resend.into_iter().map(SourceRow::Ready)), true)
                    .await;
            }
        }
        for p in std::mem::take(&mut self.lost) {
            self.record(unsent_result(
                &p,
                Action::Failed,
                "outcome_unknown",
                "the answer was lost and the server did not show the invitation yet; the next run reconciles it before sending again",
            ));
        }
        // Invitations adopted for rows that are no longer in the source.
        let leftovers: Vec<(String, Invitation)> = self.adopted_earlier.drain().collect();
        for (key, inv) in leftovers {
            let line = self
                .journal
                .get(self.campaign, &key)
                .await
                .ok()
                .flatten()
                .and_then(|e| e.line)
                .unwrap_or(0);
            let p = Planned {
                line,
                key,
                params: Default::default(),
                email: None,
                phone: None,
            };
            self.record(created_result(
                &p,
                &inv,
                Action::Reconciled,
                Some("created by an earlier run that stopped before recording it"),
            ));
        }
        self.flush().await;
        if self.halted.is_none() && self.env.stop.is_set() {
            self.halted = Some(Halt::Interrupted(
                self.env.stop.reason().unwrap_or_else(|| "stopped".into()),
            ));
        }
    }

    /// Feeds rows into up to `concurrency` creates in flight, recording each answer.
    ///
    /// Journal writes are grouped: answers and new `sending` marks accumulate in one
    /// [`Batch`], committed just before the new creates are spawned — so a `sending` mark
    /// is always durable before its request leaves, at one commit per turn rather than two
    /// per row; the rows a turn admits are looked up together. A crash between an answer
    /// and the next commit leaves that row `sending`, which the next run reconciles:
    /// slower, never wrong.
    /// The send loop for the journal's home: one commit per turn before that turn's
    /// creates leave (SQLite), or commits pipelined with the creates (PostgreSQL, see
    /// [`super::run_pipeline`]).
    async fn send_rows(&mut self, rows: Box<dyn Iterator<Item = SourceRow> + '_>, resend: bool) {
        if self.journal.marks_ahead() {
            self.pump_pipelined(rows, resend).await
        } else {
            self.pump(rows, resend).await
        }
    }

    /// Feeds rows into up to `concurrency` creates in flight, recording each answer.
    ///
    /// Journal writes are grouped: answers and new `sending` marks accumulate in one
    /// [`Batch`], committed just before the new creates are spawned — so a `sending` mark
    /// is always durable before its request leaves, at one commit per turn rather than two
    /// per row; the rows a turn admits are looked up together. A crash between an answer
    /// and the next commit leaves that row `sending`, which the next run reconciles:
    /// slower, never wrong.
    async fn pump(&mut self, mut rows: Box<dyn Iterator<Item = SourceRow> + '_>, resend: bool) {
        use futures::FutureExt;
        let mut inflight = FuturesUnordered::new();
        let mut exhausted = false;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let conc = self.settings.concurrency.max(1);
        loop {
            // Take every answer that is already in, without waiting.
            while let Some(Some(done)) = inflight.next().now_or_never() {
                self.finish(done);
            }
            let mut staged = VecDeque::new();
            'fill: while !exhausted && !self.stopped() {
                let free = conc.saturating_sub(inflight.len() + staged.len());
                if free == 0 {
                    break;
                }
                let chunk: Vec<SourceRow> = rows.by_ref().take(free).collect();
                exhausted = chunk.len() < free;
                let Some(known) = self.lookup(&chunk, resend).await else {
                    break;
                };
                for row in chunk {
                    if self.stopped() {
                        break 'fill;
                    }
                    if let Some(planned) = self.admit(row, resend, &known) {
                        staged.push_back(planned);
                    }
                }
            }
            // The run's counts so far go with the batch, so a killed run's record is as
            // current as its rows.
            if !self.flush().await {
                // The marks may not be on disk: sending now could not be reconciled.
                staged.clear();
            }
            self.launch(&mut staged, &mut inflight, resend, false);
            if inflight.is_empty() && (exhausted || self.stopped()) {
                break;
            }
            tokio::select! {
                Some(done) = inflight.next() => self.finish(done),
                _ = tick.tick() => self.progress.update(&self.tally),
            }
        }
        self.flush().await;
    }

    /// Sends rows whose `sending` marks are durable into the free slots. Rows marked
    /// ahead (`hold_when_stopped`) stay unsent once the run is stopped.
    pub(super) fn launch(
        &mut self,
        ready: &mut VecDeque<Planned>,
        inflight: &mut Inflight,
        resend: bool,
        hold_when_stopped: bool,
    ) {
        while inflight.len() < self.settings.concurrency.max(1)
            && !(hold_when_stopped && self.stopped())
        {
            let Some(planned) = ready.pop_front() else {
                break;
            };
            self.tally.sent += 1;
            if resend {
                self.tally.retried += 1;
            }
            let client = self.env.client.clone();
            let lease = self.journal.lease();
            inflight.push(self.env.handle.spawn(async move {
                // The last look before the create leaves: a runner frozen or cut off for
                // long enough may have lost the campaign to another, which reconciles the
                // rows this one left in flight — and may send them itself.
                if let Some(Err(why)) = lease.as_ref().map(|l| l.check()) {
                    return Err(why);
                }
                let sent_ms = now_ms();
                let result = client.create_invitation(&planned.params).await;
                Ok(Attempt {
                    planned,
                    sent_ms,
                    received_ms: now_ms(),
                    result,
                })
            }));
        }
    }

    /// What the journal knows of the rows about to be admitted, in one lookup (`None`,
    /// and the run halted, if it cannot be read). A resend needs none: those rows were
    /// just reconciled.
    pub(super) async fn lookup(
        &mut self,
        chunk: &[SourceRow],
        resend: bool,
    ) -> Option<HashMap<String, Entry>> {
        let keys: Vec<&str> = match resend {
            true => vec![],
            false => chunk
                .iter()
                .filter_map(|r| match r {
                    SourceRow::Ready(p) => Some(p.key.as_str()),
                    SourceRow::Invalid(_) => None,
                })
                .collect(),
        };
        if keys.is_empty() {
            return Some(HashMap::new());
        }
        let r = self.journal.get_many(self.campaign, &keys).await;
        self.journal(r)
    }

    pub(super) fn finish(&mut self, done: Result<Result<Attempt, String>, tokio::task::JoinError>) {
        match done {
            Ok(Ok(attempt)) => self.complete(attempt),
            // Not sent: the row stays `sending`, for whoever holds the campaign next to
            // reconcile.
            Ok(Err(withheld)) => {
                if self.halted.is_none() {
                    self.halted = Some(Halt::Journal(withheld));
                }
            }
            // A create task that died cannot tell us what it did: its row stays `sending`
            // and the next run reconciles it.
            Err(join) => tracing::warn!("campaign: a create task failed: {join}"),
        }
    }

    /// Decides what to do with one row; returns it if it is to be sent (its `sending` mark
    /// is written, to be committed before it leaves).
    pub(super) fn admit(
        &mut self,
        row: SourceRow,
        resend: bool,
        known: &HashMap<String, Entry>,
    ) -> Option<Planned> {
        let planned = match row {
            SourceRow::Invalid(p) => {
                if let Some(k) = &p.key {
                    self.batch.push(Op::Invalid {
                        key: k.clone(),
                        line: p.line,
                        client_name: p.name.clone(),
                        code: "invalid_params".into(),
                        message: p.message.clone(),
                    });
                }
                self.record(invalid_result(&p));
                return None;
            }
            SourceRow::Ready(p) => p,
        };
        if !resend {
            let h = key_hash(&planned.key);
            if let Some(first) = self.seen.get(&h) {
                let first = *first;
                self.batch.push(Op::Duplicate {
                    line: planned.line,
                    key: planned.key.clone(),
                    first_line: first,
                });
                self.record(duplicate_result(&planned, first));
                return None;
            }
            self.seen.insert(h, planned.line);
            if let Some(inv) = self.adopted_earlier.remove(&planned.key) {
                self.record(created_result(
                    &planned,
                    &inv,
                    Action::Reconciled,
                    Some("created by an earlier run that stopped before recording it"),
                ));
                return None;
            }
            match known.get(&planned.key) {
                Some(e) if e.state == RowState::Created => {
                    self.record(earlier_result(&planned, e));
                    return None;
                }
                // Sending again what this campaign may have sent is reconciliation's call.
                Some(e) if e.state == RowState::Unknown => {
                    self.record(unsent_result(
                        &planned,
                        Action::Failed,
                        "outcome_unknown",
                        "an earlier attempt's outcome is still unknown; not resent until it is reconciled",
                    ));
                    return None;
                }
                _ => {
                    let found = self
                        .existing
                        .find(planned.email.as_deref(), planned.phone.as_deref())
                        .cloned();
                    if let Some(inv) = found {
                        self.batch.push(Op::Existing {
                            key: planned.key.clone(),
                            line: planned.line,
                            invitation_id: inv.id.clone(),
                            url: inv.url.clone(),
                            status: inv.status.as_str().to_string(),
                        });
                        self.record(existing_result(&planned, &inv));
                        return None;
                    }
                }
            }
        }
        self.batch.push(Op::Sending {
            key: planned.key.clone(),
            line: planned.line,
            client: Client {
                name: planned.params.client_name.clone(),
                email: planned.email.clone(),
                phone: planned.phone.clone(),
            },
            attempt_at_ms: now_ms(),
        });
        Some(planned)
    }

    fn fail(&mut self, p: &Planned, state: RowState, action: Action, code: &str, message: &str) {
        self.batch.push(Op::Mark {
            key: p.key.clone(),
            state,
            code: Some(code.into()),
            message: Some(message.into()),
        });
        self.record(unsent_result(p, action, code, message));
    }

    /// Records in the journal that an invitation exists for this row.
    pub(super) fn journal_created(&mut self, key: &str, inv: &Invitation) {
        self.batch.push(Op::Created {
            key: key.to_string(),
            invitation_id: inv.id.clone(),
            url: inv.url.clone(),
            seen: Observed::of(inv),
        });
    }

    /// Makes a row sendable again: reconciliation showed its attempt created nothing.
    pub(super) fn journal_replan(&mut self, key: &str) {
        self.batch.push(Op::Mark {
            key: key.to_string(),
            state: RowState::Planned,
            code: None,
            message: None,
        });
    }

    fn complete(&mut self, a: Attempt) {
        let p = &a.planned;
        if !matches!(a.result, Err(ClientError::Unreachable { .. })) {
            self.unreachable_streak = 0;
        }
        match &a.result {
            Ok(inv) => {
                self.skew
                    .observe(a.sent_ms, a.received_ms, inv.created_at.millis());
                self.journal_created(&p.key, inv);
                self.record(created_result(p, inv, Action::Created, None));
            }
            Err(e) if e.is_outcome_unknown() => {
                self.batch.push(Op::Mark {
                    key: p.key.clone(),
                    state: RowState::Unknown,
                    code: Some("outcome_unknown".into()),
                    message: Some(e.to_string()),
                });
                self.last_lost_ms = now_ms();
                self.lost.push(a.planned);
            }
            Err(ClientError::Api(api)) if api.status == 400 => {
                let field = api
                    .details
                    .as_ref()
                    .and_then(|d| d.pointer("/errors/0/path/0"))
                    .and_then(|v| v.as_str())
                    .map(|f| format!("{f}: "))
                    .unwrap_or_default();
                let message = format!("{field}{}", api.message);
                let code = api.code.clone();
                self.fail(
                    &a.planned,
                    RowState::Invalid,
                    Action::Invalid,
                    &code,
                    &message,
                );
            }
            Err(ClientError::Api(api)) if matches!(api.status, 401 | 403) => {
                // The key itself was refused: this row (and every later one) was not sent.
                let message = format!("{} (the run stopped here)", api.message);
                let code = api.code.clone();
                self.fail(
                    &a.planned,
                    RowState::Planned,
                    Action::Failed,
                    &code,
                    &message,
                );
                if self.halted.is_none() {
                    self.halted = Some(Halt::Api(ClientError::Api(api.clone())));
                }
            }
            Err(e @ ClientError::Unreachable { .. }) => {
                self.unreachable_streak += 1;
                let message = e.to_string();
                self.fail(
                    &a.planned,
                    RowState::Failed,
                    Action::Failed,
                    "connection_failed",
                    &message,
                );
                // Every create failing to connect: stop instead of failing row after row.
                if self.unreachable_streak >= 2 * self.settings.concurrency.max(1)
                    && self.halted.is_none()
                {
                    self.halted = Some(Halt::Api(e.clone()));
                }
            }
            Err(e) => {
                let (code, message) = (e.code().to_string(), e.message());
                self.fail(
                    &a.planned,
                    RowState::Failed,
                    Action::Failed,
                    &code,
                    &message,
                );
            }
        }
    }
}
