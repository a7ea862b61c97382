//! The log of the front doors that run for a long time — the scheduler (`cron`) and the
//! webhook receiver (`listen`): one line per event on stderr — a run starting, a run ending
//! (job, duration, outcome), what a script prints, skips, reloads, deliveries — as text for
//! people or, with `--json-logs`, one JSON object per line for machines.
//!
//! Text lines read `TIME LEVEL WHO: message`, where WHO is the service (`cron`, `listen`)
//! and `job[run]` for a run; lines a script wrote itself use `job[run]>` instead of `:`.
//! This module formats and writes; what is worth a line is decided by its callers. It never
//! sees the API key: nothing that carries one is passed in.

use crate::api::Timestamp;
use serde_json::{Map, Value};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl From<crate::engine::LogLevel> for Level {
    fn from(l: crate::engine::LogLevel) -> Level {
        match l {
            crate::engine::LogLevel::Info => Level::Info,
            crate::engine::LogLevel::Warn => Level::Warn,
            crate::engine::LogLevel::Error => Level::Error,
        }
    }
}

/// One log line before formatting.
#[derive(Clone, Debug)]
pub struct Record {
    pub level: Level,
    /// `start`, `end`, `print`, `log`, `skip`, `missed`, `queued`, `loaded`, `reload`, …
    pub event: &'static str,
    pub job: Option<String>,
    pub run: Option<u64>,
    pub message: String,
    /// Extra JSON fields (`slot`, `durationMs`, `outcome`, `error`, …).
    pub fields: Vec<(&'static str, Value)>,
}

impl Record {
    pub fn new(level: Level, event: &'static str, message: impl Into<String>) -> Record {
        Record {
            level,
            event,
            job: None,
            run: None,
            message: message.into(),
            fields: vec![],
        }
    }

    pub fn job(mut self, job: &str) -> Record {
        self.job = Some(job.to_string());
        self
    }

    pub fn run(mut self, run: u64) -> Record {
        self.run = Some(run);
        self
    }

    pub fn field(mut self, key: &'static str, value: impl Into<Value>) -> Record {
        self.fields.push((key, value.into()));
        self
    }
}

pub struct Log {
    /// Who speaks when no run does: `cron`, `listen`.
    who: &'static str,
    json: bool,
    out: Out,
}

enum Out {
    /// Each line written as it is emitted.
    Direct(Mutex<Box<dyn Write + Send>>),
    /// Lines handed to a writer thread, which writes whatever has gathered in one go.
    Gathered(Arc<Gathered>),
}

/// Lines waiting for the writer thread, and how far it has got.
#[derive(Default)]
struct Gathered {
    state: Mutex<Pending>,
    /// Lines arrived, or the log is closing.
    arrived: Condvar,
    /// A batch was written.
    written: Condvar,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    /// Batches taken by the writer, and batches it has written: equal when nothing is
    /// on its way.
    taken: u64,
    done: u64,
    closing: bool,
    /// The writer thread is waiting for lines: only then does a new line need to wake it
    /// (a wake-up is a system call even when nobody waits).
    idle: bool,
}

impl Log {
    pub fn stderr(who: &'static str, json: bool) -> Log {
        Log::to_writer(who, json, Box::new(std::io::stderr()))
    }

    pub fn to_writer(who: &'static str, json: bool, out: Box<dyn Write + Send>) -> Log {
        Log {
            who,
            json,
            out: Out::Direct(Mutex::new(out)),
        }
    }

    /// A log on stderr whose lines are written by a thread of its own: a burst of lines
    /// (thousands of events a second, three lines each) becomes a few writes instead of
    /// one system call per line, while a lone line is written as soon as that thread runs
    /// — nothing waits for a buffer to fill or a timer. [`Log::flush`] (and dropping the
    /// log) waits for every line emitted before it. Falls back to direct writes to stderr
    /// when the thread cannot be started.
    pub fn stderr_gathered(who: &'static str, json: bool) -> Log {
        Log::gathered(who, json, Box::new(std::io::stderr()))
    }

    /// [`Log::stderr_gathered`], to any writer.
    pub fn gathered(who: &'static str, json: bool, mut out: Box<dyn Write + Send>) -> Log {
        let gathered = Arc::new(Gathered::default());
        let shared = gathered.clone();
        let started = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_gathered(&shared, &mut out));
        match started {
            Ok(_) => Log {
                who,
                json,
                out: Out::Gathered(gathered),
            },
            Err(_) => Log::stderr(who, json),
        }
    }

    pub fn emit(&self, record: Record) {
        let mut line = format_line(
            self.who,
            self.json,
            &Timestamp(chrono::Utc::now()).to_string(),
            &record,
        );
        // The whole line in one write: stderr is unbuffered, and `writeln!` would make the
        // line and its newline two system calls.
        line.push('\n');
        match &self.out {
            Out::Direct(out) => {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                // Nowhere to report a failing log; the service goes on.
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
            Out::Gathered(g) => {
                let mut pending = g.state.lock().unwrap_or_else(|p| p.into_inner());
                pending.lines.extend_from_slice(line.as_bytes());
                // A busy writer takes this line with its next batch, unprompted.
                if pending.idle {
                    g.arrived.notify_one();
                }
            }
        }
    }

    /// Returns once every line emitted so far is written.
    pub fn flush(&self) {
        if let Out::Gathered(g) = &self.out {
            let mut pending = g.state.lock().unwrap_or_else(|p| p.into_inner());
            // What is gathered now goes in the next batch; wait for that one.
            let target = pending.taken + u64::from(!pending.lines.is_empty());
            while pending.done < target {
                pending = g.written.wait(pending).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    pub fn info(&self, event: &'static str, message: impl Into<String>) {
        self.emit(Record::new(Level::Info, event, message));
    }

    pub fn warn(&self, event: &'static str, message: impl Into<String>) {
        self.emit(Record::new(Level::Warn, event, message));
    }

    pub fn error(&self, event: &'static str, message: impl Into<String>) {
        self.emit(Record::new(Level::Error, event, message));
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.flush();
        if let Out::Gathered(g) = &self.out {
            g.state.lock().unwrap_or_else(|p| p.into_inner()).closing = true;
            g.arrived.notify_one();
        }
    }
}

/// The writer thread of a gathered log: takes everything waiting, writes it in one go,
/// until the log closes with nothing left.
fn write_gathered(g: &Gathered, out: &mut dyn Write) {
    let mut batch = Vec::new();
    loop {
        {
            let mut pending = g.state.lock().unwrap_or_else(|p| p.into_inner());
            while pending.lines.is_empty() && !pending.closing {
                pending.idle = true;
                pending = g.arrived.wait(pending).unwrap_or_else(|p| p.into_inner());
            }
            pending.idle = false;
            if pending.lines.is_empty() {
                return;
            }
            std::mem::swap(&mut batch, &mut pending.lines);
            pending.taken += 1;
        }
        // Nowhere to report a failing log; the service goes on.
        let _ = out.write_all(&batch);
        let _ = out.flush();
        batch.clear();
        let mut pending = g.state.lock().unwrap_or_else(|p| p.into_inner());
        pending.done += 1;
        g.written.notify_all();
    }
}

/// The line for a record at `time`.
pub fn format_line(who: &str, json: bool, time: &str, r: &Record) -> String {
    if json {
        let mut obj = Map::new();
        obj.insert("time".into(), time.into());
        obj.insert("level".into(), r.level.as_str().into());
        obj.insert("event".into(), r.event.into());
        if let Some(job) = &r.job {
            obj.insert("job".into(), job.clone().into());
        }
        if let Some(run) = r.run {
            obj.insert("run".into(), run.into());
        }
        obj.insert("msg".into(), r.message.clone().into());
        for (k, v) in &r.fields {
            obj.insert((*k).into(), v.clone());
        }
        return Value::Object(obj).to_string();
    }
    let from_script = matches!(r.event, "print" | "log");
    let who = match (&r.job, r.run) {
        (Some(job), Some(run)) => format!("{job}[{run}]"),
        (Some(job), None) => job.clone(),
        _ => who.to_string(),
    };
    let sep = if from_script { ">" } else { ":" };
    // One event, one line: a message with line breaks keeps them visible but escaped.
    let message = r.message.trim_end().replace('\r', "").replace('\n', "\\n");
    format!("{time} {:<5} {who}{sep} {message}", r.level.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "2026-05-01T09:00:00.004Z";

    #[test]
    fn text_lines() {
        let start = Record::new(
            Level::Info,
            "start",
            "started (time 2026-05-01T09:00:00+00:00)",
        )
        .job("followup")
        .run(3);
        assert_eq!(
            format_line("cron", false, T, &start),
            "2026-05-01T09:00:00.004Z info  followup[3]: started (time 2026-05-01T09:00:00+00:00)"
        );
        let print = Record::new(Level::Info, "print", "welcomed 2\n")
            .job("followup")
            .run(3);
        assert_eq!(
            format_line("cron", false, T, &print),
            "2026-05-01T09:00:00.004Z info  followup[3]> welcomed 2"
        );
        let multi = Record::new(Level::Error, "reload", "a\nb");
        assert_eq!(
            format_line("cron", false, T, &multi),
            "2026-05-01T09:00:00.004Z error cron: a\\nb"
        );
    }

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn gathered_lines_are_all_written_whole_and_in_order_by_flush() {
        let out = Shared::default();
        let log = Arc::new(Log::gathered("listen", false, Box::new(out.clone())));
        let writers: Vec<_> = (0..2)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        log.info("note", format!("t{t} line {i}"));
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        log.flush();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        for t in 0..2 {
            let mine: Vec<usize> = lines
                .iter()
                .filter_map(|l| l.split_once(&format!("listen: t{t} line ")))
                .map(|(_, n)| n.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..500).collect::<Vec<_>>(), "thread {t}'s lines");
        }
        // A lone line after a flush is written without another one to push it.
        log.warn("late", "alone");
        log.flush();
        assert!(String::from_utf8_lossy(&out.0.lock().unwrap()).ends_with("listen: alone\n"));
    }

    #[test]
    fn json_lines() {
        let end = Record::new(Level::Error, "end", "failed in 1.5s: boom")
            .job("followup")
            .run(4)
            .field("outcome", "failed")
            .field("durationMs", 1500)
            .field("error", "boom");
        let v: Value = serde_json::from_str(&format_line("cron", true, T, &end)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "time": T, "level": "error", "event": "end", "job": "followup", "run": 4,
                "msg": "failed in 1.5s: boom", "outcome": "failed", "durationMs": 1500,
                "error": "boom"
            })
        );
    }
}
