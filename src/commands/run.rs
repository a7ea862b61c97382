//! The `run` front door: read a script, compile it, run it once against the session's
//! API, and report — the script's own output on stdout, everything else (banners, logs,
//! diagnostics) on stderr, so output can be piped.

use super::output;
use super::session::{Session, stop_on_ctrl_c};
use crate::config::{Config, RunSettings};
use crate::engine::script;
use crate::engine::{self, HostOptions, StdSink};
use crate::error::Error;
use crate::memory::Budget;
use rhai::Dynamic;
use std::sync::Arc;
use tokio::runtime::Runtime;

pub fn run(config: &Config, runtime: &Runtime, settings: &RunSettings) -> Result<(), Error> {
    let name = settings.file.display().to_string();
    let text = script::read(&settings.file)?;
    crate::state::backend::check_lease_ttl(settings.lease_ttl).map_err(Error::Usage)?;
    let session = Session::open(config, runtime)?;
    stop_on_ctrl_c(runtime, session.stop().clone());
    let state_dir = config.state_dir()?.to_path_buf();
    let mut campaign = settings.campaign.clone();
    campaign.confirm = output::terminal_confirm();
    let failed_rows = campaign.failed_rows.clone();
    // Armed here, on the thread that evaluates: what this thread allocates is the run's.
    let budget =
        Budget::arm_if(settings.limits.max_memory).map_err(|e| Error::Usage(e.to_string()))?;
    let engine = engine::build(HostOptions {
        limits: settings.limits,
        state_dir: Some(state_dir),
        shared_state: config
            .state
            .postgres()
            .map(|t| t.with_lease(settings.lease_ttl)),
        campaign,
        sink: Arc::new(StdSink),
        api: Some(session.api.clone()),
        bridge: session.bridge.clone(),
        memory: budget.as_ref().map(Budget::meter),
    });
    let outcome = script::compile(&engine, &name, &text).and_then(|ast| {
        engine
            .eval_ast_with_scope::<Dynamic>(&mut engine::new_scope(&settings.args), &ast)
            .map_err(|e| script::failure(&name, &text, &e))
    });
    drop(engine);
    drop(budget);
    session.close(runtime);
    let value = outcome?;
    if config.json {
        let json = engine::convert::to_json(&value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        output::json_pretty(&json);
    }
    match failed_rows.load(std::sync::atomic::Ordering::Relaxed) {
        0 => Ok(()),
        n => Err(Error::Incomplete(format!(
            "{n} campaign row{} failed and will be retried when you run it again",
            if n == 1 { "" } else { "s" }
        ))),
    }
}
