//! The Rhai engine every front door shares: the `zavu` object and helper namespaces, the
//! limits that bound a script, print routing, and the stop hook (Ctrl-C, timeouts).
//!
//! It builds engines and nothing else: reading files, formatting results and choosing
//! exit statuses belong to the front doors; HTTP belongs to the client, reached only
//! through [`bridge`].

pub mod api_error;
pub mod bridge;
pub mod convert;
pub mod diagnostics;
pub mod modules;

use bridge::Bridge;
use modules::zavu::{Target, ZavuHost};
use rhai::{Array, Dynamic, Engine, Scope};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// How far a script may go before it is stopped with a clear error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Rhai operations (roughly: expressions evaluated); 0 means no limit.
    pub max_operations: u64,
    pub max_call_depth: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 1_000_000_000,
            max_call_depth: 64,
            max_string_size: 16 * 1024 * 1024,
            max_array_size: 1_000_000,
            max_map_size: 100_000,
        }
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
    pub yes: bool,
    pub concurrency: Option<usize>,
    pub settle: Option<std::time::Duration>,
    /// No progress bar or periodic lines.
    pub quiet: bool,
    /// Rows that failed (and can be retried) across all campaigns of the run, so the
    /// front door can exit with "incomplete" even when the script itself succeeded.
    pub failed_rows: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

pub struct HostOptions {
    pub limits: Limits,
    /// Campaign journals and `store::*` entries live here; `None` where a command has none
    /// (`check`), which makes them fail with a clear error.
    pub state_dir: Option<PathBuf>,
    pub campaign: CampaignDefaults,
    pub sink: Arc<dyn Sink>,
    /// Where `zavu` points; `None` for commands that never call the API (`check`).
    pub target: Option<Target>,
    pub bridge: Arc<Bridge>,
}

/// Builds an engine with every namespace registered.
pub fn build(opts: HostOptions) -> Engine {
    let mut engine = Engine::new();
    let l = opts.limits;
    engine
        .set_max_operations(l.max_operations)
        .set_max_call_levels(l.max_call_depth)
        .set_max_string_size(l.max_string_size)
        .set_max_array_size(l.max_array_size)
        .set_max_map_size(l.max_map_size);

    let sink = opts.sink.clone();
    engine.on_print(move |text| sink.print(text));
    let sink = opts.sink.clone();
    engine.on_debug(move |text, source, pos| {
        let at = match (source, pos.line()) {
            (Some(src), Some(line)) => format!("{src}:{line}: "),
            (None, Some(line)) => format!("line {line}: "),
            _ => String::new(),
        };
        sink.log(LogLevel::Info, &format!("{at}{text}"));
    });

    // Checked between operations: a Ctrl-C or a timeout stops even a busy loop.
    let stop = opts.bridge.stop().clone();
    engine.on_progress(move |_| {
        stop.is_set()
            .then(|| Dynamic::from(stop.reason().unwrap_or_else(|| "stopped".into())))
    });

    api_error::register(&mut engine);
    let store = modules::store::Store::new(opts.state_dir.clone(), opts.target.as_ref());
    engine.register_static_module("store", modules::store::module(Arc::new(store)).into());
    let host = Arc::new(ZavuHost::new(opts.bridge.clone(), opts.target));
    modules::zavu::register(&mut engine, host.clone());
    modules::csv::register_types(&mut engine);
    engine.register_static_module("csv", modules::csv::module().into());
    engine.register_static_module(
        "campaign",
        modules::campaign::module(host.clone(), opts.state_dir.clone(), opts.campaign.clone())
            .into(),
    );
    engine.register_static_module("json", modules::json::module().into());
    engine.register_static_module("time", modules::time::module().into());
    engine.register_static_module("log", modules::log::module(opts.sink.clone()).into());
    engine.register_static_module("sandbox", modules::sandbox::module(host.clone()).into());
    modules::process::register(&mut engine, opts.bridge.clone());

    // `zavu` comes from here rather than the scope, so it is visible inside script
    // functions too; a script's own variable of the same name wins.
    #[allow(deprecated)] // `on_var` is only marked volatile, not deprecated
    engine.on_var(move |name, _, ctx| {
        if name != "zavu" || ctx.scope().contains(name) {
            return Ok(None);
        }
        host.default_zavu().map(|z| Some(Dynamic::from(z)))
    });
    engine
}

/// The scope a script starts with: `ARGS`, the arguments after the script path.
pub fn new_scope(args: &[String]) -> Scope<'static> {
    let mut scope = Scope::new();
    let args: Array = args.iter().cloned().map(Dynamic::from).collect();
    scope.push("ARGS", args);
    scope
}
