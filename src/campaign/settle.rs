//! Lost answers, settled: an earlier run's rows left `unknown` (or killed mid-send), and
//! this run's creates whose answers never came — after a delay longer than the server
//! could still be working on them, the server's own list is read and each such row is
//! adopted if its invitation is there, or made sendable again if not. Never a blind resend.
//! These are steps of the send loop ([`super::run_loop`]); the matching itself is
//! [`super::reconcile`]'s.

use super::journal::RowState;
use super::plan::Planned;
use super::reconcile::{self, Pending, Skew};
use super::results::{Action, created_result};
use super::run_loop::{Run, now_ms};
use super::summary::Halt;
use std::collections::HashMap;
use std::time::Duration;

impl Run<'_, '_> {
    /// Rows an earlier run left `unknown` (or killed mid-send) are settled before anything
    /// is sent: adopted if the server has them, otherwise made sendable again.
    pub(super) async fn reconcile_earlier(&mut self) {
        let found = self
            .journal
            .in_state(self.campaign, RowState::Unknown)
            .await;
        let Some(entries) = self.journal(found) else {
            return;
        };
        if entries.is_empty() {
            return;
        }
        self.progress.phase(
            &self.tally,
            &format!(
                "settling {} unknown outcome{} an earlier run left",
                entries.len(),
                if entries.len() == 1 { "" } else { "s" }
            ),
        );
        let newest = entries.iter().map(|e| e.updated_at_ms).max().unwrap_or(0);
        self.settle_until(newest).await;
        let skew = match self.journal.clock_offset(self.campaign).await {
            Ok(Some(offset_ms)) => Skew {
                offset_ms,
                margin_ms: 5_000,
            },
            _ => Skew::UNMEASURED,
        };
        let pending: Vec<Pending> = entries
            .iter()
            .map(|e| Pending {
                key: e.key.clone(),
                email: e.match_email.clone(),
                phone: e.match_phone.clone(),
                attempt_at_ms: e.attempt_at_ms.unwrap_or(e.updated_at_ms),
            })
            .collect();
        match reconcile::reconcile(self.env.client, &pending, skew).await {
            Ok((found, _)) => {
                for e in entries {
                    match found.get(&e.key) {
                        Some(inv) => {
                            self.journal_created(&e.key, inv);
                            self.adopted_earlier.insert(e.key.clone(), inv.clone());
                        }
                        None => {
                            self.journal_replan(&e.key);
                        }
                    }
                }
            }
            Err(e) => self.halted = Some(Halt::Api(e)),
        }
        self.flush().await;
        self.progress.phase_done(&self.tally);
    }

    /// Waits out the settle delay after the newest lost answer (interruptible).
    async fn settle_until(&mut self, lost_at_ms: i64) {
        let wait = lost_at_ms + self.settings.settle.as_millis() as i64 - now_ms();
        if wait <= 0 {
            return;
        }
        self.progress.note(&format!(
            "giving the server {:.1} s to finish before looking",
            wait as f64 / 1000.0
        ));
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = self.env.stop.stopped() => {}
        }
    }

    /// This run's lost answers: reconcile, adopt what exists, return the rest to resend.
    pub(super) async fn reconcile_lost(&mut self) -> Vec<Planned> {
        let lost = std::mem::take(&mut self.lost);
        self.progress.phase(
            &self.tally,
            &format!(
                "settling {} unknown outcome{} (answers lost)",
                lost.len(),
                if lost.len() == 1 { "" } else { "s" }
            ),
        );
        let resend = self.reconcile_lost_rows(lost).await;
        self.flush().await;
        self.progress.phase_done(&self.tally);
        resend
    }

    async fn reconcile_lost_rows(&mut self, lost: Vec<Planned>) -> Vec<Planned> {
        self.settle_until(self.last_lost_ms).await;
        if self.env.stop.is_set() {
            self.lost = lost;
            return vec![];
        }
        let unknown = self
            .journal
            .in_state(self.campaign, RowState::Unknown)
            .await;
        let attempts: HashMap<String, i64> = match self.journal(unknown) {
            Some(entries) => entries
                .into_iter()
                .map(|e| (e.key, e.attempt_at_ms.unwrap_or(e.updated_at_ms)))
                .collect(),
            None => {
                self.lost = lost;
                return vec![];
            }
        };
        let pending: Vec<Pending> = lost
            .iter()
            .map(|p| Pending {
                key: p.key.clone(),
                email: p.email.clone(),
                phone: p.phone.clone(),
                attempt_at_ms: attempts.get(&p.key).copied().unwrap_or_else(now_ms),
            })
            .collect();
        let skew = self.skew.skew().unwrap_or(Skew::UNMEASURED);
        match reconcile::reconcile(self.env.client, &pending, skew).await {
            Ok((found, _)) => {
                let mut resend = vec![];
                for p in lost {
                    match found.get(&p.key) {
                        Some(inv) => {
                            self.journal_created(&p.key, inv);
                            self.record(created_result(
                                &p,
                                inv,
                                Action::Created,
                                Some("the answer was lost; found on the server"),
                            ));
                        }
                        None => {
                            self.journal_replan(&p.key);
                            resend.push(p);
                        }
                    }
                }
                resend
            }
            Err(e) => {
                self.lost = lost;
                self.halted = Some(Halt::Api(e));
                vec![]
            }
        }
    }
}
