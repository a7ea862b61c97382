//! One run of one job, on its own thread: a fresh engine with the scheduler's limits, the
//! session's API target and the store; the script's `print` and `log::*` routed into the
//! scheduler's log under the job's name; a timer that stops the run through its own
//! [`Stop`] when the job's timeout passes. When the run ends — however it ends, a panic
//! included — one [`Finished`] goes back to the scheduler.
//!
//! Runs never execute on a runtime worker (the engine blocks on the runtime); they never
//! decide whether to start — overlap and timing are the scheduler's.

use super::load::Job;
use crate::client::ClientOptions;
use crate::duration;
use crate::engine::bridge::Bridge;
use crate::engine::diagnostics;
use crate::engine::{self, HostOptions, Limits, LogLevel, Sink};
use crate::memory::Budget;
use crate::service_log::{Level, Log, Record};
use crate::stop::Stop;
use rhai::Dynamic;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::mpsc::UnboundedSender;

/// What every run of a scheduler shares.
pub struct RunEnv {
    pub handle: Handle,
    /// Where jobs' `zavu` points, with the session's key and client settings.
    pub api: ClientOptions,
    pub limits: Limits,
    pub state_dir: Option<PathBuf>,
    /// With `--state-url`: where jobs' `store::` entries live, shared by every replica.
    pub shared_state: Option<crate::state::backend::PgTarget>,
    pub log: Arc<Log>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed(String),
    TimedOut(Duration),
    /// Stopped from outside (the scheduler shutting down); the reason.
    Stopped(String),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed(_) => "failed",
            Outcome::TimedOut(_) => "timed out",
            Outcome::Stopped(_) => "stopped",
        }
    }

    pub fn error(&self) -> Option<String> {
        match self {
            Outcome::Ok => None,
            Outcome::Failed(e) => Some(e.clone()),
            Outcome::TimedOut(t) => Some(format!("timed out after {}", duration::format(*t))),
            Outcome::Stopped(why) => Some(why.clone()),
        }
    }

    pub fn level(&self) -> Level {
        match self {
            Outcome::Ok => Level::Info,
            Outcome::Stopped(_) => Level::Warn,
            Outcome::Failed(_) | Outcome::TimedOut(_) => Level::Error,
        }
    }
}

/// A run that has ended.
#[derive(Debug)]
pub struct Finished {
    pub job: String,
    pub run: u64,
    pub elapsed: Duration,
    pub outcome: Outcome,
}

/// Starts `job` as run number `run` on a new thread; `stop` stops it early.
pub fn spawn(
    env: &Arc<RunEnv>,
    job: &Arc<Job>,
    run: u64,
    stop: Arc<Stop>,
    done: UnboundedSender<Finished>,
) -> std::io::Result<()> {
    let (env, job) = (env.clone(), job.clone());
    std::thread::Builder::new()
        .name(format!("cron {}", job.name()))
        .spawn(move || {
            let started = Instant::now();
            let timeout_reason = job
                .timeout
                .map(|t| format!("timed out after {}", duration::format(t)));
            let timer = job.timeout.map(|t| {
                let (stop, reason) = (stop.clone(), timeout_reason.clone().unwrap_or_default());
                env.handle.spawn(async move {
                    tokio::time::sleep(t).await;
                    stop.trigger(reason);
                })
            });
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                execute(&env, &job, run, &stop)
            }));
            if let Some(timer) = timer {
                timer.abort();
            }
            let outcome = match result {
                Ok(Ok(())) => Outcome::Ok,
                Ok(Err(_)) if stop.is_set() && stop.reason() == timeout_reason => {
                    Outcome::TimedOut(job.timeout.unwrap_or_default())
                }
                Ok(Err(_)) if stop.is_set() => {
                    Outcome::Stopped(stop.reason().unwrap_or_else(|| "stopped".into()))
                }
                Ok(Err(e)) => Outcome::Failed(e),
                Err(panic) => Outcome::Failed(format!(
                    "the run crashed: {}",
                    panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("no message")
                )),
            };
            // The scheduler may already be gone (a forced exit); nothing to tell then.
            let _ = done.send(Finished {
                job: job.name().to_string(),
                run,
                elapsed: started.elapsed(),
                outcome,
            });
        })
        .map(|_| ())
}

fn execute(env: &RunEnv, job: &Job, run: u64, stop: &Arc<Stop>) -> Result<(), String> {
    // This is the run's own thread: what it allocates from here on is the run's.
    let budget = Budget::arm_if(env.limits.max_memory).map_err(|e| e.to_string())?;
    let engine = engine::build(HostOptions {
        limits: env.limits,
        sink: Arc::new(JobSink {
            log: env.log.clone(),
            job: job.name().to_string(),
            run,
        }),
        api: Some(env.api.clone()),
        bridge: Arc::new(Bridge::new(env.handle.clone(), stop.clone())),
        state_dir: env.state_dir.clone(),
        shared_state: env.shared_state.clone(),
        // A scheduled campaign reports through the job's log, not a progress display.
        campaign: engine::CampaignDefaults {
            quiet: true,
            ..Default::default()
        },
        memory: budget.as_ref().map(Budget::meter),
    });
    let mut scope = engine::new_scope(&job.spec.args);
    let outcome = engine
        .eval_ast_with_scope::<Dynamic>(&mut scope, &job.ast)
        .map(|_| ())
        .map_err(|e| diagnostics::one_line(&job.script_name(), &e));
    // Everything the run held goes before its budget does.
    drop(scope);
    drop(engine);
    drop(budget);
    outcome
}

/// A script's output, into the log under its job and run.
struct JobSink {
    log: Arc<Log>,
    job: String,
    run: u64,
}

impl Sink for JobSink {
    fn print(&self, text: &str) {
        // `print("")` is a line too.
        for line in text.lines().chain(text.is_empty().then_some("")) {
            self.log.emit(
                Record::new(Level::Info, "print", line)
                    .job(&self.job)
                    .run(self.run),
            );
        }
    }

    fn log(&self, level: LogLevel, text: &str) {
        self.log.emit(
            Record::new(level.into(), "log", text)
                .job(&self.job)
                .run(self.run),
        );
    }
}
