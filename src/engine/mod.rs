//! The Rhai engine every front door shares: the `zavu` object and helper namespaces, the
//! limits that bound a script, print routing, and the stop hook (Ctrl-C, timeouts).
//!
//! A run's memory is bounded by the budget its front door armed (`crate::memory`), checked
//! between operations; Rhai's per-container size limits stay off unless asked for, because
//! they make every method call on a container re-measure it whole.
//!
//! It builds engines and nothing else: reading files, formatting results and choosing
//! exit statuses belong to the front doors; HTTP belongs to the client, reached only
//! through [`bridge`].
//!
//! Imports: `api`, `client`, `campaign`, `files`, `stop`. Must not import `cron`,
//! `config`, `cli` or the front doors: they hand it [`HostOptions`], it never asks them.

pub mod api_error;
pub mod bridge;
pub mod convert;
pub mod diagnostics;
pub mod modules;

pub mod context;
pub mod script;
mod sized;
pub mod template_sends;

pub use context::{
    CampaignDefaults, DEFAULT_MAX_MEMORY, HostOptions, Limits, LogLevel, MemoryExceeded, Sink,
    StdSink,
};
use modules::zavu::ZavuHost;
use rhai::{Array, Dynamic, Engine, Scope};
use std::sync::Arc;

/// Builds an engine with every namespace registered.
pub fn build(opts: HostOptions) -> Engine {
    let mut engine = Engine::new();
    let l = opts.limits;
    engine
        .set_max_operations(l.max_operations)
        .set_max_call_levels(l.max_call_depth)
        .set_max_string_size(l.max_string_size)
        .set_max_array_size(l.max_array_size)
        .set_max_map_size(l.max_map_size)
        // Rhai allows less nesting in debug builds than in release builds; fix it at the
        // release figures so a script that compiles in one compiles in the other (a
        // template send inside a function nests maps three deep).
        .set_max_expr_depths(64, 32);

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

    // Checked between operations: a Ctrl-C or a timeout stops even a busy loop, and a run
    // that holds more than its budget stops however it grew.
    let stop = opts.bridge.stop().clone();
    let memory = opts.memory;
    engine.on_progress(move |_| {
        if stop.is_set() {
            return Some(Dynamic::from(
                stop.reason().unwrap_or_else(|| "stopped".into()),
            ));
        }
        let meter = memory?;
        meter.over().then(|| {
            Dynamic::from(MemoryExceeded {
                limit: meter.limit(),
            })
        })
    });
    if let Some(meter) = opts.memory {
        sized::register(&mut engine, meter);
    }

    api_error::register(&mut engine);
    let mut store = modules::store::Store::new(opts.state_dir.clone(), opts.api.as_ref());
    if let Some(target) = &opts.shared_state {
        store = store.shared(target, opts.bridge.clone());
    }
    engine.register_static_module("store", modules::store::module(Arc::new(store)).into());
    let host = Arc::new(ZavuHost::new(opts.bridge.clone(), opts.api));
    modules::zavu::register(&mut engine, host.clone());
    modules::csv::register_types(&mut engine);
    engine.register_static_module("csv", modules::csv::module().into());
    engine.register_static_module(
        "campaign",
        modules::campaign::module(
            host.clone(),
            modules::campaign::Places {
                dir: opts.state_dir.clone(),
                shared: opts.shared_state.clone(),
            },
            opts.campaign.clone(),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stop::Stop;

    #[test]
    fn rhai_size_limits_stay_off_unless_asked_for() {
        // Any of them on makes every method call on a container re-measure it whole: a
        // loop of `push` turns quadratic. The memory budget bounds sizes instead.
        let limits = Limits::default();
        assert_eq!(
            (
                limits.max_string_size,
                limits.max_array_size,
                limits.max_map_size
            ),
            (0, 0, 0)
        );
        assert!(limits.max_memory > 0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let engine = build(HostOptions {
            limits,
            state_dir: None,
            shared_state: None,
            campaign: Default::default(),
            sink: Arc::new(StdSink),
            api: None,
            bridge: Arc::new(bridge::Bridge::new(
                rt.handle().clone(),
                Arc::new(Stop::default()),
            )),
            memory: None,
        });
        assert_eq!(
            (
                engine.max_string_size(),
                engine.max_array_size(),
                engine.max_map_size()
            ),
            (0, 0, 0)
        );
    }
}
