//! A handler worker's thread: takes its part of the inbox's events one at a time, oldest
//! first, and runs the handler script with `event` in scope — once per event id. With
//! `--concurrency N` there are N workers, each with its own engine, watchdog and part
//! (a [`Shard`]: the invitations whose id hashes to it), so an invitation's events run on
//! one worker, in order, while other invitations' run beside them. Before a run, per invitation:
//! an event older than the last one applied, or one whose status is already applied, is
//! recorded as skipped. A failing handler is retried with backoff up to `max_attempts`,
//! then kept as failed and reported — never dropped. On shutdown the event in hand is
//! finished (or, past the grace period, stopped and put back in line for the next start).
//! Between two handlers there is one commit: the one that finishes an event also marks the
//! next one running. Due events are read a few dozen at a time, in order; each is checked
//! against its invitation's applied status in the commit that starts it. With replicas
//! sharing the inbox in the state database, starting an event is a claim that can be
//! refused (another replica took it, or is running one of its invitation's events): the
//! worker moves on, and a later look sees what became of it.
//!
//! Scripts run here, on a plain thread (the engine blocks on the runtime through the
//! bridge); the thread's memory budget bounds what handlers hold.

use super::bell::Bell;
use super::inbox::{Applied, Entry, Inbox, InboxError, Outcome, Shard, stage};
use crate::client::ClientOptions;
use crate::engine::bridge::Bridge;
use crate::engine::{self, HostOptions, Limits, LogLevel, Sink};
use crate::memory::Budget;
use crate::service_log::{Level, Log, Record};
use crate::service_metrics::ListenMetrics;
use crate::stop::Stop;
use rhai::{AST, Dynamic, Map, Scope};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// The shared inbox, locked for one call at a time (never across a handler's run).
struct Db<'a>(&'a Mutex<Inbox>);

impl Db<'_> {
    fn get(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// At most this many due events are read in one look: the rest of the inbox may change
/// meanwhile (a late delivery of an older change), and the next look sees it.
const DUE_AT_ONCE: usize = 64;

/// What the worker needs from the front door.
pub struct WorkerEnv {
    pub handle: Handle,
    pub api: ClientOptions,
    pub limits: Limits,
    pub state_dir: PathBuf,
    /// With `--state-url`: where the handler's `store::` entries live.
    pub shared_state: Option<crate::state::backend::PgTarget>,
    pub log: Arc<Log>,
    pub handler: Arc<AST>,
    pub handler_name: String,
    /// The one connection to the inbox, shared with the receiver and the catch-up: writers
    /// take turns on a mutex instead of sleeping on SQLite's busy lock (or queueing on
    /// one Postgres connection).
    pub inbox: Arc<Mutex<Inbox>>,
    pub max_attempts: i64,
    pub metrics: Arc<ListenMetrics>,
    /// Bounds each run (`--handler-timeout`) and stops the one in hand on shutdown.
    pub watchdog: Arc<super::watchdog::Watchdog>,
    /// With nothing due and no wake-up, look again after this long (`--look-every`): the
    /// fallback for a wake-up that never came.
    pub look_every: Duration,
    /// Rung when there may be something new to look at; shared by every worker.
    pub bell: Arc<Bell>,
    /// This worker's part of the inbox.
    pub shard: Shard,
}

/// Backoff before attempt `n + 1`: 1 s, 2 s, 4 s … capped at 5 minutes.
pub fn retry_delay(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 10) - 1;
    Duration::from_secs((1u64 << exp).min(300))
}

struct HandlerSink {
    log: Arc<Log>,
    event: std::sync::Mutex<String>,
}

impl Sink for HandlerSink {
    fn print(&self, text: &str) {
        let who = self.event.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.log
            .emit(Record::new(Level::Info, "print", text).job(&who));
    }

    fn log(&self, level: LogLevel, text: &str) {
        let who = self.event.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.log
            .emit(Record::new(level.into(), "log", text).job(&who));
    }
}

/// Runs until `stop` is set and the event in hand is finished; `shutdown` stops a handler
/// that outlives the grace period.
pub fn run(env: WorkerEnv, stop: Arc<Stop>, shutdown: Arc<Stop>) {
    let inbox = Db(&env.inbox);
    let budget = match Budget::arm_if(env.limits.max_memory) {
        Ok(b) => b,
        Err(e) => {
            env.log.error("memory", e.to_string());
            return;
        }
    };
    let sink = Arc::new(HandlerSink {
        log: env.log.clone(),
        event: std::sync::Mutex::new(String::new()),
    });
    let engine = engine::build(HostOptions {
        limits: env.limits,
        state_dir: Some(env.state_dir.clone()),
        shared_state: env.shared_state.clone(),
        campaign: engine::CampaignDefaults {
            quiet: true,
            ..Default::default()
        },
        sink: sink.clone(),
        api: Some(env.api.clone()),
        bridge: Arc::new(Bridge::new(env.handle.clone(), env.watchdog.run_stop())),
        memory: budget.as_ref().map(Budget::meter),
    });
    // Events found due, in the order to handle them, read from the inbox together.
    let mut due: VecDeque<Entry> = VecDeque::new();
    // An event already marked running in the commit that finished the one before.
    let mut ready: Option<(Entry, i64)> = None;
    loop {
        let (entry, attempt) = match ready.take() {
            // Started, so in hand: run even when a stop came in between.
            Some(started) => started,
            None => {
                // Noted before the stop is checked and the inbox looked at: whatever rings
                // from here on (a new event, the shutdown) wakes the wait below.
                let rung = env.bell.rung();
                if stop.is_set() {
                    break;
                }
                let now = chrono::Utc::now().timestamp_millis();
                if due.is_empty() {
                    match inbox.get().due(now, DUE_AT_ONCE, env.shard) {
                        Ok(found) => due.extend(found),
                        Err(e) => env.log.error("inbox", e.to_string()),
                    }
                }
                let Some(entry) = due.pop_front() else {
                    // Nothing due: sleep until the bell rings, a retry falls due, or it is
                    // time for the periodic look.
                    let every = env.look_every;
                    let wait = inbox
                        .get()
                        .next_retry_ms(env.shard)
                        .ok()
                        .flatten()
                        .map(|at| Duration::from_millis((at - now).max(0) as u64).min(every))
                        .unwrap_or(every);
                    env.bell.wait(rung, wait);
                    continue;
                };
                match begin(&env, &inbox, &entry) {
                    Some(attempt) => (entry, attempt),
                    None => continue,
                }
            }
        };
        *sink.event.lock().unwrap_or_else(|p| p.into_inner()) =
            format!("{}[{}]", env.handler_name, entry.event_id);
        ready = handle(
            &env, &inbox, &engine, &entry, attempt, &stop, &shutdown, &mut due,
        );
    }
    drop(engine);
    drop(budget);
}

fn change(e: &Entry) -> String {
    format!(
        "{} {} → {}",
        e.invitation_id,
        e.previous_status.as_deref().unwrap_or("?"),
        e.current_status
    )
}

/// Whether `e` is run at all: per invitation, never go back in time, and never apply a
/// status twice.
fn runs(e: &Entry, applied: Option<&Applied>) -> bool {
    !applied.is_some_and(|a| older(e, a) || a.status == e.current_status)
}

/// Records `e` as skipped, or marks it running: its attempt number then.
fn begin(env: &WorkerEnv, inbox: &Db<'_>, e: &Entry) -> Option<i64> {
    let log = &env.log;
    let who = format!("{}[{}]", env.handler_name, e.event_id);
    // Bound first: a guard in the match's head would be held through its arms.
    let applied = inbox.get().applied(&e.invitation_id);
    let why = match applied {
        Ok(Some(a)) if older(e, &a) => format!(
            "older than the last event applied for {} ({} at {})",
            e.invitation_id, a.status, a.event_ms
        ),
        Ok(Some(a)) if a.status == e.current_status => {
            format!("{} is already {}", e.invitation_id, a.status)
        }
        Ok(_) => {
            let marked = inbox.get().start(&e.event_id);
            return match marked {
                // `None`: another replica's to run (or not yet); a later look decides.
                Ok(n) => n,
                Err(err) => {
                    log.error("inbox", err.to_string());
                    None
                }
            };
        }
        Err(err) => {
            log.error("inbox", err.to_string());
            return None;
        }
    };
    let _ = inbox.get().skip(&e.event_id, &why);
    env.metrics.event("skipped");
    log.emit(
        Record::new(
            Level::Info,
            "skip",
            format!("{}: skipped, {why}", change(e)),
        )
        .job(&who),
    );
    None
}

/// Runs the handler for `e` (marked running, attempt `attempt`) and records the outcome.
/// On success, unless stopping, the next event in `due`, when it will run, is started in
/// the same commit: it is given back, in hand.
#[allow(clippy::too_many_arguments)]
fn handle(
    env: &WorkerEnv,
    inbox: &Db<'_>,
    engine: &rhai::Engine,
    e: &Entry,
    attempt: i64,
    stop: &Stop,
    shutdown: &Stop,
    due: &mut VecDeque<Entry>,
) -> Option<(Entry, i64)> {
    let log = &env.log;
    let who = format!("{}[{}]", env.handler_name, e.event_id);
    let change = change(e);
    log.emit(
        Record::new(
            Level::Info,
            "start",
            format!(
                "{change}{}{}",
                if e.synthesized { " (caught up)" } else { "" },
                if attempt > 1 {
                    format!(", attempt {attempt}")
                } else {
                    String::new()
                }
            ),
        )
        .job(&who)
        .field("event", e.event_id.clone())
        .field("invitation", e.invitation_id.clone())
        .field("attempt", attempt),
    );
    let started = Instant::now();
    let mut scope = Scope::new();
    scope.push("event", event_value(e, attempt));
    env.watchdog.begin(&e.event_id, shutdown);
    let outcome = engine.eval_ast_with_scope::<Dynamic>(&mut scope, &env.handler);
    env.watchdog.end();
    drop(scope);
    let took = crate::duration::format(started.elapsed());
    env.metrics
        .handler_duration
        .observe(started.elapsed().as_secs_f64());
    let finished = outcome.is_ok().then(|| {
        let db = inbox.get();
        if stop.is_set() {
            return db.finish(e, attempt).map(|done| (done, None));
        }
        // Declined (to be skipped) or not started, the next stays first in line.
        let (done, started) = db.finish_and_start(e, attempt, due.front(), runs)?;
        Ok((
            done,
            started.and_then(|attempt| due.pop_front().map(|next| (next, attempt))),
        ))
    });
    match outcome {
        Ok(_) => match finished.unwrap_or(Ok((Outcome::Recorded, None))) {
            Ok((Outcome::Recorded, next)) => {
                env.metrics.event("done");
                log.emit(
                    Record::new(Level::Info, "end", format!("handled in {took}"))
                        .job(&who)
                        .field("durationMs", started.elapsed().as_millis() as u64)
                        .field("outcome", "ok"),
                );
                return next;
            }
            Ok((Outcome::LeaseLost, next)) => {
                lease_lost(env, &who, e, attempt, &format!("handled in {took}"));
                return next;
            }
            Err(err) => log.error("inbox", err.to_string()),
        },
        Err(err) if shutdown.is_set() => {
            // Stopped by the shutdown: back in line for the next start, not a failure.
            let back = inbox
                .get()
                .fail(&e.event_id, attempt, "stopped by shutdown", Some(0));
            if refused(env, &who, e, attempt, back, "stopped by shutdown") {
                return None;
            }
            log.emit(
                Record::new(
                    Level::Warn,
                    "end",
                    format!(
                        "stopped by shutdown after {took}; runs again on the next start: {err}"
                    ),
                )
                .job(&who),
            );
        }
        Err(err) => {
            let message = crate::engine::diagnostics::one_line(&env.handler_name, &err);
            if attempt < env.max_attempts {
                let delay = retry_delay(attempt);
                let at = chrono::Utc::now().timestamp_millis() + delay.as_millis() as i64;
                let failed = inbox.get().fail(&e.event_id, attempt, &message, Some(at));
                if refused(env, &who, e, attempt, failed, &format!("failed: {message}")) {
                    return None;
                }
                env.metrics.event("retried");
                log.emit(
                    Record::new(
                        Level::Warn,
                        "end",
                        format!(
                            "failed in {took}: {message}; retry {} of {} in {}",
                            attempt + 1,
                            env.max_attempts,
                            crate::duration::format(delay)
                        ),
                    )
                    .job(&who)
                    .field("outcome", "retry"),
                );
            } else {
                let failed = inbox.get().fail(&e.event_id, attempt, &message, None);
                if refused(env, &who, e, attempt, failed, &format!("failed: {message}")) {
                    return None;
                }
                env.metrics.event("failed");
                log.emit(
                    Record::new(
                        Level::Error,
                        "end",
                        format!(
                            "failed {attempt} times, kept as failed (rerun with --retry-failed): {message}"
                        ),
                    )
                    .job(&who)
                    .field("outcome", "failed"),
                );
            }
        }
    }
    None
}

/// Whether a failure's outcome was refused because the lease was lost (then warned about
/// and counted, and the failure is not reported as this replica's). A write that failed
/// is logged and the failure reported as usual: the event stays running until its lease
/// runs out (SQLite: until the next start), then runs again.
fn refused(
    env: &WorkerEnv,
    who: &str,
    e: &Entry,
    attempt: i64,
    written: Result<Outcome, InboxError>,
    what: &str,
) -> bool {
    match written {
        Ok(Outcome::Recorded) => false,
        Ok(Outcome::LeaseLost) => {
            lease_lost(env, who, e, attempt, what);
            true
        }
        Err(err) => {
            env.log.error("inbox", err.to_string());
            false
        }
    }
}

/// The outcome of `e`'s run (attempt `attempt`) was refused: this replica's lease ran out
/// and the event was claimed again. The run did happen; the newer claim's outcome stands.
fn lease_lost(env: &WorkerEnv, who: &str, e: &Entry, attempt: i64, what: &str) {
    env.metrics.event("lease_lost");
    env.log.emit(
        Record::new(
            Level::Warn,
            "end",
            format!(
                "{what}, but the lease on event {} (attempt {attempt}) was lost: it ran out \
                 and the event was claimed again, so this run's outcome is not recorded and \
                 the other claim's stands",
                e.event_id
            ),
        )
        .job(who)
        .field("event", e.event_id.clone())
        .field("attempt", attempt)
        .field("outcome", "lease_lost"),
    );
}

/// `e` happened before the change last applied for its invitation: stamped earlier, or the
/// same millisecond at an earlier stage (a start and a completion can share one).
pub fn older(e: &Entry, applied: &Applied) -> bool {
    e.event_ms < applied.event_ms
        || (e.event_ms == applied.event_ms && stage(&e.current_status) < stage(&applied.status))
}

/// `event` as the handler sees it: the delivery's JSON, plus `synthesized` (caught up
/// rather than delivered) and `attempt`.
fn event_value(e: &Entry, attempt: i64) -> Dynamic {
    let json: serde_json::Value = serde_json::from_str(&e.body).unwrap_or(serde_json::Value::Null);
    let mut map = crate::engine::convert::from_json(&json)
        .try_cast::<Map>()
        .unwrap_or_default();
    map.insert("synthesized".into(), Dynamic::from(e.synthesized));
    map.insert("attempt".into(), Dynamic::from(attempt));
    Dynamic::from_map(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_stage_in_the_same_millisecond_is_older() {
        let e = |status: &str, ms| Entry {
            event_id: "e".into(),
            invitation_id: "i".into(),
            previous_status: None,
            current_status: status.into(),
            event_ms: ms,
            synthesized: false,
            body: "{}".into(),
            state: super::super::inbox::State::Received,
            attempts: 0,
            not_before_ms: 0,
            last_error: None,
        };
        let applied = |status: &str, ms| Applied {
            status: status.into(),
            event_ms: ms,
        };
        assert!(older(&e("in_progress", 10), &applied("completed", 10)));
        assert!(older(&e("completed", 9), &applied("in_progress", 10)));
        assert!(!older(&e("completed", 10), &applied("in_progress", 10)));
        assert!(!older(&e("in_progress", 11), &applied("failed", 10)));
    }

    #[test]
    fn retries_back_off_and_are_capped() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(3), Duration::from_secs(4));
        assert_eq!(retry_delay(50), Duration::from_secs(300));
    }
}
