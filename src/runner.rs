//! The `run` and `check` front doors: read a script, compile it, run it once against the
//! session's API, and report — the script's own output on stdout, everything else
//! (banners, logs, diagnostics) on stderr, so output can be piped.

use crate::cli::RunArgs;
use crate::config::Config;
use crate::engine::bridge::Bridge;
use crate::engine::diagnostics::{self, FailureKind};
use crate::engine::{self, HostOptions, StdSink};
use crate::error::Error;
use crate::session::{Session, stop_on_ctrl_c};
use crate::stop::Stop;
use rhai::{AST, Dynamic, Engine};
use std::path::Path;
use std::sync::Arc;
use tokio::runtime::Runtime;

/// A script file's text, with a `#!` first line blanked (not removed, so line numbers
/// stay true).
pub fn read_script(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read script {}: {e}", path.display())))?;
    Ok(if text.starts_with("#!") {
        match text.find('\n') {
            Some(i) => text[i..].to_string(),
            None => String::new(),
        }
    } else {
        text
    })
}

pub fn compile(engine: &Engine, name: &str, text: &str) -> Result<AST, Error> {
    let mut ast = engine
        .compile(text)
        .map_err(|e| Error::Script(diagnostics::render_parse(name, text, &e)))?;
    ast.set_source(name);
    Ok(ast)
}

/// Turns a failed run into the error that picks the exit status.
pub fn failure(name: &str, text: &str, err: &rhai::EvalAltResult) -> Error {
    let rendered = diagnostics::render(name, text, err);
    match diagnostics::classify(err) {
        FailureKind::Script => Error::Script(rendered),
        FailureKind::Api => Error::ScriptApi(rendered),
        FailureKind::Interrupted => Error::Script(rendered).interrupted(),
    }
}

pub fn run(config: &Config, runtime: &Runtime, args: &RunArgs) -> Result<(), Error> {
    let name = args.file.display().to_string();
    let text = read_script(&args.file)?;
    let session = Session::open(config, runtime)?;
    stop_on_ctrl_c(runtime, session.stop().clone());
    let state_dir = config.state_dir()?.to_path_buf();
    let campaign = args.campaign.defaults();
    let failed_rows = campaign.failed_rows.clone();
    let engine = engine::build(HostOptions {
        limits: args.limits.limits(),
        state_dir: Some(state_dir),
        campaign,
        sink: Arc::new(StdSink),
        target: Some(session.target.clone()),
        bridge: session.bridge.clone(),
    });
    let outcome = compile(&engine, &name, &text).and_then(|ast| {
        engine
            .eval_ast_with_scope::<Dynamic>(&mut engine::new_scope(&args.args), &ast)
            .map_err(|e| failure(&name, &text, &e))
    });
    session.close(runtime);
    let value = outcome?;
    if config.json {
        let json = engine::convert::to_json(&value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    }
    match failed_rows.load(std::sync::atomic::Ordering::Relaxed) {
        0 => Ok(()),
        n => Err(Error::Incomplete(format!(
            "{n} campaign row{} failed and will be retried when you run it again",
            if n == 1 { "" } else { "s" }
        ))),
    }
}

pub fn check(runtime: &Runtime, file: &Path) -> Result<(), Error> {
    let name = file.display().to_string();
    let text = read_script(file)?;
    let bridge = Arc::new(Bridge::new(
        runtime.handle().clone(),
        Arc::new(Stop::default()),
    ));
    let engine = engine::build(HostOptions {
        limits: Default::default(),
        state_dir: None,
        campaign: Default::default(),
        sink: Arc::new(StdSink),
        target: None,
        bridge,
    });
    compile(&engine, &name, &text)?;
    eprintln!("{name}: ok");
    Ok(())
}
