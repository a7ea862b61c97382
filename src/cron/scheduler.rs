//! The loop that can be left running for months: sleep until the next fire time, ask
//! [`plan::decide`] what each job owes, start runs (each on its own thread, see
//! [`super::run`]), apply the overlap policy, record every start and end in the state
//! file, and answer signals — SIGTERM/SIGINT stop firing and wait for running jobs within
//! a grace period; SIGHUP, SIGUSR2 or (with `--watch`) a changed file reload the crontab
//! only if the new one is valid; SIGUSR1 logs a status line.
//!
//! Time comes from a [`Clock`], signals from [`super::signals`]; which times fire lives in [`super::schedule`] and what a
//! missed time means in [`super::plan`], both pure and tested without a clock. This loop
//! stays thin: it never computes a schedule or judges lateness itself.

use super::clock::Clock;
use super::crontab::{Overlap, When};
use super::describe::{local_time, log_missed, status_line, why_run};
use super::load::{self, Defaults, Job, Loaded};
use super::plan::{self, Decision};
use super::run::{self, Finished, RunEnv};
use super::shared::Shared;
use super::signals::{Signal, Signals};
use super::state::{CronState, JobState, StateFile};
use crate::duration;
use crate::error::Error;
use crate::service_log::{Level, Log, Record};
use crate::service_metrics::{CronMetrics, JobLabel, JobOutcome, JobReason};
use crate::stop::Stop;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

/// Look at the clock at least this often, so a suspended machine or a changed clock is
/// noticed even when the next fire time is far away.
const MAX_NAP: Duration = Duration::from_secs(60);

/// After the shutdown grace period, how long stopped runs get to wind down.
const WIND_DOWN: Duration = Duration::from_secs(10);

const SHUTDOWN_REASON: &str = "the scheduler is shutting down";

pub struct Settings {
    pub defaults: Defaults,
    pub shutdown_grace: Duration,
    /// Reload when the crontab file changes, as on SIGHUP.
    pub watch: bool,
}

/// A loaded job and how far its times have been dealt with.
pub(super) struct Entry {
    pub(super) job: Arc<Job>,
    pub(super) handled: DateTime<Utc>,
}

/// The runs of one job (by name) in flight, and a run waiting for them (`overlap=queue`).
#[derive(Default)]
struct Activity {
    running: BTreeMap<u64, Arc<Stop>>,
    queued: Option<DateTime<Utc>>,
}

pub struct Scheduler {
    loaded: Loaded,
    settings: Settings,
    env: Arc<RunEnv>,
    pub(super) log: Arc<Log>,
    clock: Arc<dyn Clock>,
    pub(super) entries: Vec<Entry>,
    activity: HashMap<String, Activity>,
    state: CronState,
    state_file: StateFile,
    pub(super) last_run: u64,
    done_tx: UnboundedSender<Finished>,
    done_rx: UnboundedReceiver<Finished>,
    pub(super) stopping: bool,
    /// With a state database: the replicas' shared claims and leases.
    pub(super) shared: Option<Shared>,
    /// Fire ids (in the state database) of this replica's running runs, by run number.
    pub(super) fires: HashMap<u64, i64>,
    pub(super) metrics: Arc<CronMetrics>,
}

impl Scheduler {
    pub fn new(
        loaded: Loaded,
        settings: Settings,
        env: Arc<RunEnv>,
        clock: Arc<dyn Clock>,
        state_file: StateFile,
    ) -> Scheduler {
        let log = env.log.clone();
        let state = match state_file.load() {
            Ok(s) => s,
            Err(e) => {
                log.warn(
                    "state",
                    format!("{e}; starting with no record of past runs"),
                );
                CronState::default()
            }
        };
        let (done_tx, done_rx) = unbounded_channel();
        let mut s = Scheduler {
            loaded,
            settings,
            env,
            log,
            clock,
            entries: vec![],
            activity: HashMap::new(),
            state,
            state_file,
            last_run: 0,
            done_tx,
            done_rx,
            stopping: false,
            shared: None,
            fires: HashMap::new(),
            metrics: Arc::new(CronMetrics::new()),
        };
        s.state.crontab = std::fs::canonicalize(&s.loaded.path)
            .unwrap_or_else(|_| s.loaded.path.clone())
            .display()
            .to_string();
        let (jobs, now) = (s.loaded.jobs.clone(), s.clock.now());
        s.entries = s.entries_for(&jobs, now);
        s.save();
        s
    }

    /// What this scheduler counts, for `/metrics`.
    pub fn metrics(&self) -> Arc<CronMetrics> {
        self.metrics.clone()
    }

    /// A due time not run: `overlap` or `missed`.
    pub(super) fn count_skip(&self, job: &str, reason: &str) {
        let (job, reason) = (job.to_string(), reason.to_string());
        self.metrics
            .skipped
            .get_or_create(&JobReason { job, reason })
            .inc();
    }

    /// Entries for `jobs`: a job the scheduler already knows keeps its progress; one
    /// with a record in the state file resumes from it; a new one starts from `now`.
    fn entries_for(&mut self, jobs: &[Arc<Job>], now: DateTime<Utc>) -> Vec<Entry> {
        // Records of jobs no longer in the crontab go (a running one's end re-adds it).
        self.state
            .jobs
            .retain(|name, _| jobs.iter().any(|j| j.name() == name));
        jobs.iter()
            .map(|job| {
                let known = self
                    .entries
                    .iter()
                    .find(|e| e.job.name() == job.name())
                    .map(|e| e.handled);
                let saved = self
                    .state
                    .jobs
                    .get(job.name())
                    .and_then(|s| s.handled_until);
                let handled = known.or(saved).unwrap_or(now).min(now);
                self.job_state(job.name()).handled_until = Some(handled);
                Entry {
                    job: job.clone(),
                    handled,
                }
            })
            .collect()
    }

    pub(super) fn job_state(&mut self, name: &str) -> &mut JobState {
        self.state.jobs.entry(name.to_string()).or_default()
    }

    pub(super) fn save(&self) {
        if let Err(e) = self.state_file.save(&self.state) {
            self.log
                .warn("state", format!("cannot record run times: {e}"));
        }
    }

    /// Runs until SIGTERM or SIGINT, then waits for running jobs and returns.
    pub async fn run(mut self) -> Result<(), Error> {
        let watch = self.settings.watch.then(|| self.loaded.path.clone());
        let mut signals = Signals::listen(watch.as_deref()).map_err(Error::Usage)?;
        self.resume_shared(self.clock.now()).await?;
        self.announce("loaded");
        self.start_reboot_jobs();
        let why = loop {
            self.beat().await;
            let now = self.clock.now();
            self.tick(now).await;
            let mut nap = self
                .next_wake(now)
                .map(|at| (at - now).to_std().unwrap_or_default())
                .unwrap_or(MAX_NAP)
                .min(MAX_NAP);
            if let Some(shared) = &self.shared {
                nap = nap.min(shared.next_beat().saturating_duration_since(Instant::now()));
            }
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                Some(finished) = self.done_rx.recv() => self.finished(finished).await,
                signal = signals.recv() => match signal {
                    Signal::Stop(name) => break name,
                    Signal::Reload(why) => self.reload(why),
                    Signal::Status(why) => self.status(why),
                },
            }
        };
        self.shutdown(why, &mut signals).await;
        Ok(())
    }

    fn announce(&self, verb: &str) {
        let (zone, source) = self.loaded.zone;
        let from = if source == "default" {
            "no system zone found".to_string()
        } else {
            format!("from {source}")
        };
        self.log.emit(
            Record::new(
                Level::Info,
                "loaded",
                format!(
                    "{verb} {} job{} from {} (times without CRON_TZ are in {zone}, {from})",
                    self.entries.len(),
                    if self.entries.len() == 1 { "" } else { "s" },
                    self.loaded.file
                ),
            )
            .field("jobs", self.entries.len()),
        );
        let now = self.clock.now();
        for e in &self.entries {
            let job = &e.job;
            let next = match &job.spec.when {
                When::Cron(s) => s
                    .next_after(e.handled.max(now))
                    .map(|t| format!(", next at {}", local_time(job, t)))
                    .unwrap_or_default(),
                When::Reboot => String::new(),
            };
            self.log.emit(
                Record::new(
                    Level::Info,
                    "job",
                    format!(
                        "{} runs {}{}",
                        job.describe_schedule(),
                        job.script_name(),
                        next
                    ),
                )
                .job(job.name())
                .field("schedule", job.describe_schedule())
                .field("script", job.script_name()),
            );
        }
    }

    fn start_reboot_jobs(&mut self) {
        let jobs: Vec<Arc<Job>> = self
            .entries
            .iter()
            .filter(|e| e.job.spec.when == When::Reboot)
            .map(|e| e.job.clone())
            .collect();
        // `@reboot` means "when this scheduler starts": every replica runs it.
        for job in jobs {
            self.fire(&job, None, "@reboot".into());
        }
    }

    /// Starts whatever is due at `now`.
    async fn tick(&mut self, now: DateTime<Utc>) {
        if self.shared.is_some() {
            return self.tick_shared(now).await;
        }
        let mut due = vec![];
        for e in &mut self.entries {
            let When::Cron(schedule) = &e.job.spec.when else {
                continue;
            };
            match plan::decide(schedule, e.handled, now, e.job.grace) {
                Decision::Wait(_) => continue,
                Decision::Run { slot, catch_up } => {
                    due.push((e.job.clone(), Some((slot, catch_up))))
                }
                Decision::SkipMissed { first_missed } => {
                    log_missed(&self.log, &e.job, first_missed, now);
                    let (job, reason) = (e.job.name().to_string(), "missed".to_string());
                    self.metrics
                        .skipped
                        .get_or_create(&JobReason { job, reason })
                        .inc();
                    due.push((e.job.clone(), None));
                }
            }
            e.handled = now;
        }
        if due.is_empty() {
            return;
        }
        for (job, run) in due {
            self.job_state(job.name()).handled_until = Some(now);
            if let Some((slot, catch_up)) = run {
                self.fire(&job, Some(slot), why_run(&job, slot, catch_up));
            }
        }
        self.save();
    }

    /// The earliest fire time of any job after what it has handled.
    fn next_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.entries
            .iter()
            .filter_map(|e| match &e.job.spec.when {
                When::Cron(s) => s.next_after(e.handled.max(now)),
                When::Reboot => None,
            })
            .min()
    }

    /// A job's time has come: start it, or apply its overlap policy.
    pub(super) fn fire(&mut self, job: &Arc<Job>, slot: Option<DateTime<Utc>>, why: String) {
        let activity = self.activity.entry(job.name().to_string()).or_default();
        let busy: Vec<u64> = activity.running.keys().copied().collect();
        if !busy.is_empty() {
            let runs = busy
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let plural = if busy.len() == 1 { "" } else { "s" };
            match job.overlap {
                Overlap::Allow => {}
                Overlap::Skip => {
                    self.log.emit(
                        Record::new(
                            Level::Warn,
                            "skip",
                            format!("skipped ({why}): run{plural} {runs} still going"),
                        )
                        .job(job.name())
                        .field("running", busy),
                    );
                    return;
                }
                Overlap::Queue => {
                    let (level, event, message) = if activity.queued.is_some() {
                        let m = format!(
                            "skipped ({why}): run{plural} {runs} still going and one run already waiting"
                        );
                        (Level::Warn, "skip", m)
                    } else {
                        activity.queued = Some(slot.unwrap_or_else(|| self.clock.now()));
                        let verb = if busy.len() == 1 { "ends" } else { "end" };
                        let m =
                            format!("queued ({why}): will start when run{plural} {runs} {verb}");
                        (Level::Info, "queued", m)
                    };
                    self.log.emit(
                        Record::new(level, event, message)
                            .job(job.name())
                            .field("running", busy),
                    );
                    return;
                }
            }
        }
        self.start(job, slot, why);
    }

    pub(super) fn start(&mut self, job: &Arc<Job>, slot: Option<DateTime<Utc>>, why: String) {
        self.last_run += 1;
        let run = self.last_run;
        let stop = Arc::new(Stop::default());
        let mut record = Record::new(Level::Info, "start", format!("started ({why})"))
            .job(job.name())
            .run(run)
            .field("script", job.script_name());
        if let Some(slot) = slot {
            record = record.field("slot", local_time(job, slot));
        }
        self.log.emit(record);
        let now = self.clock.now();
        let st = self.job_state(job.name());
        st.last_start = Some(now);
        st.last_slot = slot;
        let label = JobLabel {
            job: job.name().into(),
        };
        self.metrics.runs.get_or_create(&label).inc();
        self.metrics.running.inc();
        match run::spawn(&self.env, job, run, stop.clone(), self.done_tx.clone()) {
            Ok(()) => {
                self.activity
                    .entry(job.name().to_string())
                    .or_default()
                    .running
                    .insert(run, stop);
            }
            Err(e) => {
                let outcome = run::Outcome::Failed(format!("cannot start a thread: {e}"));
                // Through the loop, like any other end (a queued run may start after it).
                let _ = self.done_tx.send(Finished {
                    job: job.name().to_string(),
                    run,
                    elapsed: Duration::ZERO,
                    outcome,
                });
            }
        }
        self.save();
    }

    async fn finished(&mut self, f: Finished) {
        let mut message = format!(
            "finished in {}: {}",
            duration::format(f.elapsed),
            f.outcome.label()
        );
        match &f.outcome {
            run::Outcome::Failed(e) | run::Outcome::Stopped(e) => {
                message.push_str(&format!(": {e}"))
            }
            run::Outcome::TimedOut(limit) => {
                message.push_str(&format!(" (limit {})", duration::format(*limit)))
            }
            run::Outcome::Ok => {}
        }
        let mut record = Record::new(f.outcome.level(), "end", message)
            .job(&f.job)
            .run(f.run)
            .field("outcome", f.outcome.label())
            .field("durationMs", f.elapsed.as_millis() as u64);
        if let Some(e) = f.outcome.error() {
            record = record.field("error", e);
        }
        self.log.emit(record);

        let now = self.clock.now();
        let st = self.job_state(&f.job);
        st.last_end = Some(now);
        st.last_outcome = Some(f.outcome.label().to_string());
        self.save();
        self.activity
            .entry(f.job.clone())
            .or_default()
            .running
            .remove(&f.run);
        let (m, job) = (&self.metrics, JobLabel { job: f.job.clone() });
        m.running.dec();
        m.duration
            .get_or_create(&job)
            .observe(f.elapsed.as_secs_f64());
        let outcome = f.outcome.label().to_string();
        m.finished
            .get_or_create(&JobOutcome {
                job: f.job.clone(),
                outcome,
            })
            .inc();

        if self.fires.contains_key(&f.run) {
            return self.finish_shared(&f).await;
        }
        let activity = self.activity.entry(f.job.clone()).or_default();
        if self.stopping || !activity.running.is_empty() {
            return;
        }
        let Some(queued) = activity.queued.take() else {
            return;
        };
        let job = self
            .entries
            .iter()
            .find(|e| e.job.name() == f.job)
            .map(|e| e.job.clone());
        if let Some(job) = job {
            let why = format!("queued at {}", local_time(&job, queued));
            self.start(&job, Some(queued), why);
        }
    }

    /// SIGUSR1: one line on what the scheduler is doing.
    fn status(&self, why: &str) {
        let running: Vec<String> = self
            .activity
            .iter()
            .flat_map(|(name, a)| a.running.keys().map(move |run| format!("{name}[{run}]")))
            .collect();
        let jobs: Vec<&Job> = self.entries.iter().map(|e| &*e.job).collect();
        let line = status_line(why, &jobs, &self.loaded.file, &running, self.clock.now());
        self.log.info("status", line);
    }

    /// SIGHUP, SIGUSR2 or a changed file: the new crontab replaces the old one only if every
    /// line and script checks out.
    fn reload(&mut self, why: &str) {
        self.log
            .info("reload", format!("{why}: reloading {}", self.loaded.file));
        let now = self.clock.now();
        match load::load(
            &self.loaded.path,
            self.settings.defaults,
            &self.env.handle,
            now,
        ) {
            Err(errors) => {
                for e in &errors {
                    self.log
                        .emit(Record::new(Level::Error, "reload", e.to_string()));
                }
                self.log.error(
                    "reload",
                    format!(
                        "the new crontab has {} error{}; still running the {} job{} loaded before",
                        errors.len(),
                        if errors.len() == 1 { "" } else { "s" },
                        self.entries.len(),
                        if self.entries.len() == 1 { "" } else { "s" },
                    ),
                );
            }
            Ok(loaded) => {
                self.entries = self.entries_for(&loaded.jobs, now);
                // Queued runs of jobs that are gone stay unstarted.
                let names: Vec<String> = self
                    .entries
                    .iter()
                    .map(|e| e.job.name().to_string())
                    .collect();
                for (name, a) in self.activity.iter_mut() {
                    if !names.contains(name) {
                        a.queued = None;
                    }
                }
                self.loaded = loaded;
                self.save();
                self.announce("reloaded:");
            }
        }
    }

    pub(super) fn running(&self) -> usize {
        self.activity.values().map(|a| a.running.len()).sum()
    }

    pub(super) fn stop_all(&self, reason: &str) {
        for a in self.activity.values() {
            for stop in a.running.values() {
                stop.trigger(reason);
            }
        }
    }

    /// Stop firing; let running jobs finish within the grace period, then stop them.
    async fn shutdown(&mut self, why: &str, signals: &mut Signals) {
        self.stopping = true;
        let running = self.running();
        if running > 0 {
            self.log.info(
                "stopping",
                format!(
                    "{why}: no new runs; waiting up to {} for {running} running job{} to finish",
                    duration::format(self.settings.shutdown_grace),
                    if running == 1 { "" } else { "s" }
                ),
            );
        }
        let mut deadline = tokio::time::Instant::now() + self.settings.shutdown_grace;
        let mut forced = false;
        while self.running() > 0 {
            // Leases stay renewed while runs wind down.
            let beat = self
                .shared
                .as_ref()
                .map(Shared::next_beat)
                .unwrap_or(deadline);
            tokio::select! {
                Some(finished) = self.done_rx.recv() => self.finished(finished).await,
                _ = tokio::time::sleep_until(beat), if beat < deadline => self.beat().await,
                _ = tokio::time::sleep_until(deadline) => {
                    if forced {
                        self.log.error(
                            "stopping",
                            format!("{} run(s) did not stop; exiting without them", self.running()),
                        );
                        break;
                    }
                    self.log.warn(
                        "stopping",
                        format!("grace period over: stopping {} run(s)", self.running()),
                    );
                    self.stop_all(SHUTDOWN_REASON);
                    forced = true;
                    deadline = tokio::time::Instant::now() + WIND_DOWN;
                }
                signal = signals.recv() => {
                    // While stopping, only a second stop request means anything.
                    if let (Signal::Stop(name), false) = (signal, forced) {
                        self.log.warn("stopping", format!("{name} again: stopping running jobs now"));
                        self.stop_all(SHUTDOWN_REASON);
                        forced = true;
                        deadline = tokio::time::Instant::now() + WIND_DOWN;
                    }
                }
            }
        }
        self.save();
        if let Some(shared) = self.shared.as_mut() {
            shared.stopped(&self.log).await;
        }
        self.log.info("stopped", format!("{why}: stopped"));
    }
}
