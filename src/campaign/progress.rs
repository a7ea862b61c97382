//! How a running campaign shows itself on stderr: on a terminal, a live bar (rows
//! looked at of the total, the sending rate, ETA, and each counter by what it counts);
//! otherwise a plain line every few seconds that a log collector can keep; the phases that
//! are not sending ("settling 3 unknown outcomes…"); and always a final summary line,
//! which says so when the run was interrupted and how to resume it.
//!
//! The rate and ETA count only rows sent in this run: a resumed campaign skips its done
//! rows in a blink, and that is not throughput.

use super::results::{Action, RowResult};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

const PLAIN_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Tally {
    pub created: u64,
    pub reconciled: u64,
    /// Invited by an earlier run of this campaign.
    pub skipped: u64,
    /// Already holding a live invitation made elsewhere in the project.
    pub existing: u64,
    /// The same client as an earlier row.
    pub duplicate: u64,
    pub invalid: u64,
    pub failed: u64,
    pub planned: u64,
    /// Creates sent in this run, resends included.
    pub sent: u64,
    /// Rows sent again after an answer was lost and the server showed no invitation.
    pub retried: u64,
}

impl Tally {
    /// Rows with an outcome.
    pub fn done(&self) -> u64 {
        self.created
            + self.reconciled
            + self.skipped
            + self.existing
            + self.duplicate
            + self.invalid
            + self.failed
            + self.planned
    }

    /// Counts one row's outcome. The one place a result becomes a count, so the summary,
    /// the report's rows and the run's record in the journal cannot disagree.
    pub fn count(&mut self, r: &RowResult) {
        match r.action {
            Action::Created => self.created += 1,
            Action::Reconciled => self.reconciled += 1,
            Action::Skipped if r.error_code.as_deref() == Some("already_invited") => {
                self.existing += 1
            }
            Action::Skipped => self.skipped += 1,
            Action::Duplicate => self.duplicate += 1,
            Action::Invalid => self.invalid += 1,
            Action::Failed => self.failed += 1,
            Action::Planned => self.planned += 1,
        }
    }

    /// `created 3, skipped 1, already invited 0, duplicate 1, invalid 1, failed 0`: the
    /// same words in the summary line, `campaign status` and `campaign list`.
    pub fn outcomes(&self) -> String {
        let mut created = (self.created + self.reconciled).to_string();
        if self.reconciled > 0 {
            created.push_str(&format!(" ({} reconciled)", self.reconciled));
        }
        format!(
            "created {created}, skipped {}, already invited {}, duplicate {}, invalid {}, failed {}",
            self.skipped, self.existing, self.duplicate, self.invalid, self.failed
        )
    }
}

/// How a run ended, for its last line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Done,
    DryRun,
    Interrupted,
}

/// One line about a campaign's setup (before its bar exists), unless quiet.
pub fn announce(name: &str, quiet: bool, text: &str) {
    if !quiet {
        eprintln!("campaign {name}: {text}…");
    }
}

/// A rate with the precision it deserves: `1234/s`, `12.3/s`, `0.42/s`.
pub fn rate_text(per_sec: f64) -> String {
    if per_sec >= 100.0 {
        format!("{per_sec:.0}/s")
    } else if per_sec >= 10.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{per_sec:.2}/s")
    }
}

pub struct Progress {
    name: String,
    bar: Option<ProgressBar>,
    started: Instant,
    /// When the first create of this run left: the sending rate counts from here.
    first_send: Option<Instant>,
    last_plain: Instant,
    total: Option<u64>,
    /// What the run is doing when it is not sending, shown instead of the rate.
    phase: Option<String>,
}

impl Progress {
    /// `quiet` turns off the bar and the periodic lines, keeping the final summary.
    pub fn new(name: &str, total: Option<u64>, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:24}] {pos}/{len} rows · {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Progress {
            name: name.to_string(),
            bar,
            started: now,
            first_send: None,
            last_plain: if quiet {
                now + Duration::from_secs(u64::MAX / 4)
            } else {
                now
            },
            total,
            phase: None,
        }
    }

    /// Creates sent per second since the first one left, once there is one.
    fn send_rate(&self, t: &Tally) -> Option<f64> {
        let since = self.first_send?;
        let secs = since.elapsed().as_secs_f64();
        (t.sent > 0 && secs > 0.05).then(|| t.sent as f64 / secs)
    }

    /// `12.3 sent/s · ETA 1m20s · created 100 · skipped 10 · invalid 5 · retried 2 · failed 3`
    fn status(&self, t: &Tally) -> String {
        let pace = match (&self.phase, self.send_rate(t)) {
            (Some(phase), _) => format!("{phase}…"),
            (None, Some(rate)) => {
                let eta = self
                    .total
                    .map(|n| n.saturating_sub(t.done()))
                    .map(|left| {
                        let secs = (left as f64 / rate).ceil() as u64;
                        crate::duration::format(Duration::from_secs(secs))
                    })
                    .unwrap_or_else(|| "?".into());
                format!("{} sent · ETA {eta}", rate_text(rate))
            }
            (None, None) => "starting".into(),
        };
        format!(
            "{pace} · created {} · skipped {} · invalid {} · retried {} · failed {}",
            t.created + t.reconciled,
            t.skipped + t.existing + t.duplicate,
            t.invalid,
            t.retried,
            t.failed
        )
    }

    pub fn update(&mut self, t: &Tally) {
        if t.sent > 0 && self.first_send.is_none() {
            self.first_send = Some(Instant::now());
        }
        let done = t.done();
        if let Some(bar) = &self.bar {
            if let Some(total) = self.total
                && done > total
            {
                bar.set_length(done);
            }
            bar.set_position(done);
            bar.set_message(self.status(t));
        } else if self.last_plain.elapsed() >= PLAIN_EVERY {
            self.last_plain = Instant::now();
            let of = self.total.map(|n| format!("/{n}")).unwrap_or_default();
            eprintln!(
                "campaign {}: {done}{of} rows · {}",
                self.name,
                self.status(t)
            );
        }
    }

    /// A stretch of the run that is not sending (settling, reconciling): said once, and
    /// shown in the bar until [`Progress::phase_done`].
    pub fn phase(&mut self, t: &Tally, text: &str) {
        self.note(text);
        self.phase = Some(text.to_string());
        self.update(t);
    }

    pub fn phase_done(&mut self, t: &Tally) {
        self.phase = None;
        self.update(t);
    }

    /// A note for the user, above the bar when there is one.
    pub fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("campaign {}: {text}", self.name)),
            None => eprintln!("campaign {}: {text}", self.name),
        }
    }

    pub fn finish(self, t: &Tally, ending: Ending) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let secs = self.started.elapsed().as_secs_f64();
        if ending == Ending::DryRun {
            eprintln!(
                "campaign {} (dry run): would create {}, skip {}, already invited {}, duplicate {}, invalid {} — {} rows in {secs:.1} s, nothing sent",
                self.name,
                t.planned,
                t.skipped,
                t.existing,
                t.duplicate,
                t.invalid,
                t.done()
            );
            return;
        }
        let pace = match self.send_rate(t) {
            Some(rate) => format!(", {} sent ({})", t.sent, rate_text(rate)),
            None => format!(", {} sent", t.sent),
        };
        let interrupted = if ending == Ending::Interrupted {
            "; interrupted — run the same command again to resume"
        } else {
            ""
        };
        eprintln!(
            "campaign {}: {} — {} rows in {secs:.1} s{pace}, {} retried{interrupted}",
            self.name,
            t.outcomes(),
            t.done(),
            t.retried,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_have_sensible_precision() {
        assert_eq!(rate_text(1234.56), "1235/s");
        assert_eq!(rate_text(12.345), "12.3/s");
        assert_eq!(rate_text(0.4242), "0.42/s");
    }

    #[test]
    fn skipped_rows_are_not_throughput() {
        let mut p = Progress::new("t", Some(1000), true);
        let mut t = Tally {
            skipped: 900,
            ..Default::default()
        };
        p.update(&t);
        assert_eq!(p.send_rate(&t), None, "nothing sent: no rate");
        assert!(p.status(&t).starts_with("starting · "));
        t.sent = 10;
        t.created = 10;
        p.update(&t);
        p.first_send = Some(Instant::now() - Duration::from_secs(2));
        let rate = p.send_rate(&t).unwrap();
        assert!(
            (4.0..=5.1).contains(&rate),
            "10 sent in 2 s, not 910: {rate}"
        );
        let status = p.status(&t);
        assert!(status.contains(" sent · ETA "), "{status}");
        assert!(
            status.contains("invalid 0 · retried 0 · failed 0"),
            "{status}"
        );
    }
}
