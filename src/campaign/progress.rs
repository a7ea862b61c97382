//! How a running campaign shows itself on stderr: on a terminal, a live bar (rows
//! done/total, rate, ETA, errors); otherwise a plain line every few seconds that a log
//! collector can keep; and always a final summary line.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

const PLAIN_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub created: u64,
    pub reconciled: u64,
    pub skipped: u64,
    pub invalid: u64,
    pub failed: u64,
    pub planned: u64,
}

impl Tally {
    pub fn done(&self) -> u64 {
        self.created + self.reconciled + self.skipped + self.invalid + self.failed + self.planned
    }
}

/// One line about a campaign's setup (before its bar exists), unless quiet.
pub fn announce(name: &str, quiet: bool, text: &str) {
    if !quiet {
        eprintln!("campaign {name}: {text}…");
    }
}

pub struct Progress {
    name: String,
    bar: Option<ProgressBar>,
    started: Instant,
    last_plain: Instant,
    total: Option<u64>,
}

impl Progress {
    /// `quiet` turns off the bar and the periodic lines, keeping the final summary.
    pub fn new(name: &str, total: Option<u64>, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = match total {
                Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let style = ProgressStyle::with_template(
                "{spinner} {prefix} [{wide_bar}] {pos}/{len} rows · {per_sec} · ETA {eta} · {msg}",
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
            last_plain: if quiet {
                now + Duration::from_secs(u64::MAX / 4)
            } else {
                now
            },
            total,
        }
    }

    fn rate(&self, done: u64) -> f64 {
        done as f64 / self.started.elapsed().as_secs_f64().max(1e-3)
    }

    pub fn update(&mut self, t: &Tally) {
        let done = t.done();
        if let Some(bar) = &self.bar {
            if let Some(total) = self.total
                && done > total
            {
                bar.set_length(done);
            }
            bar.set_position(done);
            bar.set_message(format!("errors {}", t.failed + t.invalid));
        } else if self.last_plain.elapsed() >= PLAIN_EVERY {
            self.last_plain = Instant::now();
            let of = self.total.map(|n| format!("/{n}")).unwrap_or_default();
            eprintln!(
                "campaign {}: {done}{of} rows, {:.1} rows/s — created {}, skipped {}, invalid {}, failed {}",
                self.name,
                self.rate(done),
                t.created + t.reconciled,
                t.skipped,
                t.invalid,
                t.failed
            );
        }
    }

    /// A note for the user (reconciling, waiting out a settle delay…).
    pub fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("campaign {}: {text}", self.name)),
            None => eprintln!("campaign {}: {text}", self.name),
        }
    }

    pub fn finish(self, t: &Tally, dry_run: bool) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let secs = self.started.elapsed().as_secs_f64();
        if dry_run {
            eprintln!(
                "campaign {} (dry run): would create {}, skip {}, invalid {} — {} rows in {secs:.1} s, nothing sent",
                self.name,
                t.planned,
                t.skipped,
                t.invalid,
                t.done()
            );
        } else {
            eprintln!(
                "campaign {}: created {}{}, skipped {}, invalid {}, failed {} — {} rows in {secs:.1} s ({:.1} rows/s)",
                self.name,
                t.created + t.reconciled,
                if t.reconciled > 0 {
                    format!(" ({} reconciled)", t.reconciled)
                } else {
                    String::new()
                },
                t.skipped,
                t.invalid,
                t.failed,
                t.done(),
                self.rate(t.done())
            );
        }
    }
}
