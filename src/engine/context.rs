//! What a front door hands the engine when it builds one: the limits that bound a script,
//! where its output goes, what the command line says about campaigns, and which API it
//! talks to. Plain data and two small traits; the engine's modules read these and nothing
//! here reaches back into them.

use crate::client::ClientOptions;
use crate::engine::bridge::Bridge;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// How far a script may go before it is stopped with a clear error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Rhai operations (roughly: expressions evaluated); 0 means no limit.
    pub max_operations: u64,
    pub max_call_depth: usize,
    /// Bytes the run may hold, however it grows (see [`crate::memory`]); 0: no budget.
    pub max_memory: usize,
    /// Rhai's own per-container limits, off (0) by default: the memory budget bounds
    /// everything they bound and more, and any of them set makes every method call on a
    /// container re-measure it whole (a loop of `push` turns quadratic).
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
}

/// The default memory budget of a script run.
pub const DEFAULT_MAX_MEMORY: usize = 512 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 1_000_000_000,
            max_call_depth: 64,
            max_memory: DEFAULT_MAX_MEMORY,
            max_string_size: 0,
            max_array_size: 0,
            max_map_size: 0,
        }
    }
}

/// Why the engine stopped a run that held too much memory (the value an over-budget run
/// is terminated with, so diagnostics can tell it from Ctrl-C).
#[derive(Clone, Copy, Debug)]
pub struct MemoryExceeded {
    pub limit: usize,
}

impl fmt::Display for MemoryExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the script held more than {} of memory (raise --max-memory if this is intended)",
            crate::memory::human(self.limit)
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        })
    }
}

/// Where a script's `print` and `log::*` go: stdout and stderr for `run`, the log for the
/// scheduler.
pub trait Sink: Send + Sync {
    fn print(&self, text: &str);
    fn log(&self, level: LogLevel, text: &str);
}

/// `print` to stdout, logs to stderr.
pub struct StdSink;

impl Sink for StdSink {
    fn print(&self, text: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not the script's failure.
        let _ = writeln!(out, "{text}");
    }

    fn log(&self, level: LogLevel, text: &str) {
        eprintln!("[{level}] {text}");
    }
}

/// What the command line says about campaigns, which a script's own options cannot override
/// (`--dry-run`, `--yes`) or which replace the script's defaults (`--concurrency`, `--settle`).
#[derive(Clone, Debug, Default)]
pub struct CampaignDefaults {
    pub dry_run: bool,
    /// `--reinvite`: invite clients who already hold a live invitation in the project.
    pub reinvite: bool,
    /// `--wait`: a campaign another runner holds is waited for, not refused.
    pub wait: bool,
    pub yes: bool,
    pub concurrency: Option<usize>,
    pub settle: Option<std::time::Duration>,
    /// No progress bar or periodic lines.
    pub quiet: bool,
    /// Rows that failed (and can be retried) across all campaigns of the run, so the
    /// front door can exit with "incomplete" even when the script itself succeeded.
    pub failed_rows: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Who to ask before a live key invites (a terminal for `run` and the REPL; nobody
    /// for a scheduled job, which then needs `yes: true`).
    pub confirm: crate::campaign::Confirm,
}

pub struct HostOptions {
    pub limits: Limits,
    /// Campaign journals and `store::*` entries live here; `None` where a command has none
    /// (`check`), which makes them fail with a clear error.
    pub state_dir: Option<PathBuf>,
    /// With `--state-url`: `store::*` entries live in this PostgreSQL database instead.
    pub shared_state: Option<crate::state::backend::PgTarget>,
    pub campaign: CampaignDefaults,
    pub sink: Arc<dyn Sink>,
    /// Where `zavu` points and how its client behaves; `None` for commands that never
    /// call the API (`check`).
    pub api: Option<ClientOptions>,
    pub bridge: Arc<Bridge>,
    /// The run's memory, when the front door armed a budget on the evaluating thread.
    pub memory: Option<crate::memory::Meter>,
}
