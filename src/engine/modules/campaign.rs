//! `campaign::run(#{ … })`, `campaign::status(name)`, `campaign::cleanup(name)`: the bulk
//! invitation primitive as scripts see it.
//!
//! This file turns script options into campaign settings and script rows into planned
//! creates — calling the script's `params` and `key` closures row by row, as rows are
//! needed — and turns the summary back into a map. Running, journaling, reconciling and
//! reporting belong to `crate::campaign`.

use super::csv::{CsvRows, CsvStream, row_map};
use super::zavu::{Zavu, ZavuHost};
use crate::campaign::operate::{OperateError, Place};
use crate::campaign::plan::{self, Problem, SourceRow};
use crate::campaign::results::RowResult;
use crate::campaign::{self, CampaignError, Env, Halt, Rows, Settings, Summary};
use crate::engine::api_error::ScriptApiError;
use crate::engine::context::CampaignDefaults;
use crate::engine::convert::{self, to_dynamic};
use crate::engine::diagnostics;
use rhai::{
    Array, Dynamic, EvalAltResult, FnPtr, FuncRegistration, Map, Module, NativeCallContext,
    Position,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

const OPTIONS: &[&str] = &[
    "name",
    "rows",
    "params",
    "key",
    "concurrency",
    "report",
    "dryRun",
    "settleSeconds",
    "client",
    "reinvite",
    "wait",
];

/// Where the rows come from.
enum Source {
    Array(Array),
    Csv(CsvStream),
}

struct Options {
    settings: Settings,
    source: Source,
    params: Option<FnPtr>,
    key: Option<FnPtr>,
    client: Option<Zavu>,
}

fn bad(message: String) -> Box<EvalAltResult> {
    format!("campaign::run: {message}").into()
}

fn options(map: &Map, defaults: &CampaignDefaults) -> RhaiResult<Options> {
    for k in map.keys() {
        if !OPTIONS.contains(&k.as_str()) {
            let hint = crate::api::validate::suggest(k, OPTIONS)
                .map(|s| format!(" — did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(bad(format!(
                "unknown option `{k}`{hint} (options: {})",
                OPTIONS.join(", ")
            )));
        }
    }
    let get = |k: &str| map.get(k).filter(|v| !v.is_unit());
    let name = match get("name") {
        Some(v) if v.is_string() => v.to_string(),
        Some(v) => {
            return Err(bad(format!(
                "`name` must be a string, not {}",
                v.type_name()
            )));
        }
        None => {
            return Err(bad(
                "`name` is required: it identifies the campaign across runs".into(),
            ));
        }
    };
    let mut settings = Settings::new(name);
    let source = match get("rows") {
        Some(v) if v.is::<CsvStream>() => Source::Csv(v.clone_cast::<CsvStream>()),
        Some(v) if v.is_array() => Source::Array(v.clone().into_array().unwrap_or_default()),
        Some(v) if v.is_string() => {
            return Err(bad(format!(
                "`rows` is a string; for a CSV file use `rows: csv::stream({v:?})`"
            )));
        }
        Some(v) => {
            return Err(bad(format!(
                "`rows` must be an array of maps or csv::stream(path), not {}",
                v.type_name()
            )));
        }
        None => {
            return Err(bad(
                "`rows` is required: an array of maps, or csv::stream(path)".into(),
            ));
        }
    };
    let fnptr = |k: &str| -> RhaiResult<Option<FnPtr>> {
        match get(k) {
            None => Ok(None),
            Some(v) if v.is_fnptr() => Ok(Some(v.clone_cast::<FnPtr>())),
            Some(v) => Err(bad(format!(
                "`{k}` must be a function like |row| …, not {}",
                v.type_name()
            ))),
        }
    };
    let params = fnptr("params")?;
    let key = fnptr("key")?;
    if let Some(v) = get("concurrency") {
        match v.as_int() {
            Ok(n) if (1..=256).contains(&n) => settings.concurrency = n as usize,
            _ => {
                return Err(bad(format!(
                    "`concurrency` must be a whole number from 1 to 256, not {v}"
                )));
            }
        }
    }
    if let Some(v) = get("report") {
        if !v.is_string() {
            return Err(bad(format!(
                "`report` must be a path, not {}",
                v.type_name()
            )));
        }
        settings.report = Some(PathBuf::from(v.to_string()));
    }
    if let Some(v) = get("dryRun") {
        settings.dry_run = v
            .as_bool()
            .map_err(|_| bad(format!("`dryRun` must be true or false, not {v}")))?;
    }
    if let Some(v) = get("reinvite") {
        settings.reinvite = v
            .as_bool()
            .map_err(|_| bad(format!("`reinvite` must be true or false, not {v}")))?;
    }
    if let Some(v) = get("wait") {
        settings.wait = v
            .as_bool()
            .map_err(|_| bad(format!("`wait` must be true or false, not {v}")))?;
    }
    if let Some(v) = get("settleSeconds") {
        let secs = v
            .as_float()
            .or_else(|_| v.as_int().map(|i| i as f64))
            .unwrap_or(-1.0);
        if !(0.0..=600.0).contains(&secs) {
            return Err(bad(format!(
                "`settleSeconds` must be between 0 and 600, not {v}"
            )));
        }
        settings.settle = Duration::from_secs_f64(secs);
    }
    let client = match get("client") {
        None => None,
        Some(v) if v.is::<Zavu>() => Some(v.clone_cast::<Zavu>()),
        Some(v) => {
            return Err(bad(format!(
                "`client` must be a client from zavu_client(…), not {}",
                v.type_name()
            )));
        }
    };
    // The command line has the last word.
    settings.dry_run |= defaults.dry_run;
    settings.reinvite |= defaults.reinvite;
    settings.wait |= defaults.wait;
    settings.yes = defaults.yes;
    settings.quiet = defaults.quiet;
    if let Some(c) = defaults.concurrency {
        settings.concurrency = c;
    }
    if let Some(s) = defaults.settle {
        settings.settle = s;
    }
    Ok(Options {
        settings,
        source,
        params,
        key,
        client,
    })
}

/// Plans one row: runs the script's closures, converts, validates. `None` stops the
/// campaign (the run was interrupted while a closure ran).
fn plan_row(ctx: &NativeCallContext, opts: &Options, line: u64, row: Dynamic) -> Option<SourceRow> {
    let invalid = |message: String| {
        Some(SourceRow::Invalid(Problem {
            line,
            name: None,
            key: None,
            field: None,
            message,
        }))
    };
    let call = |f: &FnPtr, what: &str| -> Result<Dynamic, Option<String>> {
        f.call_within_context::<Dynamic>(ctx, (row.clone(),))
            .map_err(|e| {
                if matches!(*e, EvalAltResult::ErrorTerminated(..)) {
                    None
                } else {
                    Some(format!(
                        "the `{what}` function failed: {}",
                        diagnostics::message(&e)
                    ))
                }
            })
    };
    let params = match &opts.params {
        Some(f) => match call(f, "params") {
            Ok(v) => v,
            Err(None) => return None,
            Err(Some(m)) => return invalid(m),
        },
        None => row.clone(),
    };
    let Some(map) = params.read_lock::<Map>().map(|m| m.clone()) else {
        return invalid(format!(
            "the row's parameters are {}, not a map",
            params.type_name()
        ));
    };
    let json = match convert::params(&map) {
        Ok(j) => j,
        Err(e) => return invalid(e),
    };
    let key = match &opts.key {
        Some(f) => match call(f, "key") {
            Ok(v) if v.is_unit() => None,
            Ok(v) => Some(v.to_string()),
            Err(None) => return None,
            Err(Some(m)) => return invalid(m),
        },
        None => None,
    };
    Some(plan::plan(line, json, key))
}

fn result_map(r: &RowResult) -> Dynamic {
    to_dynamic(r)
}

fn summary_map(s: &Summary) -> Dynamic {
    let t = &s.tally;
    let mut m = Map::new();
    m.insert("name".into(), s.name.clone().into());
    m.insert(
        "created".into(),
        Dynamic::from((t.created + t.reconciled) as i64),
    );
    m.insert("reconciled".into(), Dynamic::from(t.reconciled as i64));
    m.insert("skipped".into(), Dynamic::from(t.skipped as i64));
    m.insert("alreadyInvited".into(), Dynamic::from(t.existing as i64));
    m.insert("duplicate".into(), Dynamic::from(t.duplicate as i64));
    m.insert("invalid".into(), Dynamic::from(t.invalid as i64));
    m.insert("failed".into(), Dynamic::from(t.failed as i64));
    m.insert("planned".into(), Dynamic::from(t.planned as i64));
    m.insert("sent".into(), Dynamic::from(t.sent as i64));
    m.insert("retried".into(), Dynamic::from(t.retried as i64));
    m.insert("dryRun".into(), Dynamic::from(s.dry_run));
    m.insert(
        "elapsedSeconds".into(),
        Dynamic::from(s.elapsed.as_secs_f64()),
    );
    let results: Array = s.results.iter().map(result_map).collect();
    m.insert("results".into(), Dynamic::from_array(results));
    m.insert("resultsComplete".into(), Dynamic::from(s.results_complete));
    let report = match &s.report {
        Some((csv, json)) => {
            let mut r = Map::new();
            r.insert("csv".into(), csv.display().to_string().into());
            r.insert("json".into(), json.display().to_string().into());
            Dynamic::from_map(r)
        }
        None => Dynamic::UNIT,
    };
    m.insert("report".into(), report);
    Dynamic::from_map(m)
}

/// Where campaigns keep their journal: the state directory, and the state database when
/// `--state-url` names one.
#[derive(Clone, Debug, Default)]
pub struct Places {
    pub dir: Option<PathBuf>,
    pub shared: Option<crate::state::backend::PgTarget>,
}

fn state_dir(places: &Places) -> RhaiResult<Place<'_>> {
    let dir = places.dir.as_ref().ok_or_else(|| -> Box<EvalAltResult> {
        "campaigns need a state directory for their journal; this command has none".into()
    })?;
    Ok(Place {
        state_dir: dir,
        shared: places.shared.as_ref(),
    })
}

fn run(
    ctx: NativeCallContext,
    host: &ZavuHost,
    dir: &Places,
    defaults: &CampaignDefaults,
    map: Map,
) -> RhaiResult<Dynamic> {
    let opts = options(&map, defaults)?;
    let dir = state_dir(dir)?;
    let zavu = match &opts.client {
        Some(z) => z.clone(),
        None => host.default_zavu()?,
    };
    let bridge = host.bridge();
    let env = Env {
        client: zavu.client(),
        handle: bridge.handle(),
        stop: bridge.stop(),
        state_dir: dir.state_dir,
        shared_state: dir.shared,
        confirm: &defaults.confirm,
    };
    if let (Source::Csv(stream), None) = (&opts.source, &opts.params) {
        // Rows go straight to the API: every column must be an invitation field.
        let rows = CsvRows::open(&stream.path).map_err(bad)?;
        plan::check_columns(rows.headers())
            .map_err(|e| bad(format!("{}: {e}", stream.path.display())))?;
    }
    let ctx = &ctx;
    let opts_ref = &opts;
    let open_rows = move || -> Result<Rows<'_>, String> {
        match &opts_ref.source {
            Source::Array(items) => {
                let total = Some(items.len() as u64);
                let iter = items.iter().enumerate().map_while(move |(i, item)| {
                    let line = i as u64 + 1;
                    if item.is_map() {
                        plan_row(ctx, opts_ref, line, item.clone())
                    } else {
                        Some(SourceRow::Invalid(Problem {
                            line,
                            name: None,
                            key: None,
                            field: None,
                            message: format!("item {line} is {}, not a map", item.type_name()),
                        }))
                    }
                });
                Ok((Box::new(iter), total))
            }
            Source::Csv(stream) => {
                let total = stream.count_hint();
                let rows = CsvRows::open(&stream.path)?;
                let iter = rows.map_while(move |row| match row.cells {
                    Ok(cells) => {
                        plan_row(ctx, opts_ref, row.line, Dynamic::from_map(row_map(&cells)))
                    }
                    Err(e) => Some(SourceRow::Invalid(Problem {
                        line: row.line,
                        name: None,
                        key: None,
                        field: None,
                        message: e,
                    })),
                });
                Ok((Box::new(iter), total))
            }
        }
    };
    let summary = campaign::run(&env, &opts.settings, open_rows).map_err(|e| match e {
        CampaignError::Setup(m) | CampaignError::Refused(m) => bad(m),
        CampaignError::Api(e) => ScriptApiError::from_client("campaign::run", &e).into_err(),
        CampaignError::Interrupted(reason) => Box::new(EvalAltResult::ErrorTerminated(
            reason.into(),
            Position::NONE,
        )),
    })?;
    defaults
        .failed_rows
        .fetch_add(summary.tally.failed, std::sync::atomic::Ordering::Relaxed);
    match summary.halted {
        None => Ok(summary_map(&summary)),
        Some(Halt::Interrupted(reason)) => Err(Box::new(EvalAltResult::ErrorTerminated(
            reason.into(),
            Position::NONE,
        ))),
        Some(Halt::Api(e)) => Err(ScriptApiError::from_client("campaign::run", &e).into_err()),
        Some(Halt::Journal(m)) => Err(bad(m)),
    }
}

pub fn module(host: Arc<ZavuHost>, state_dir: Places, defaults: CampaignDefaults) -> Module {
    let mut m = Module::new();
    let (h, d, c) = (host.clone(), state_dir.clone(), defaults.clone());
    FuncRegistration::new("run")
        .with_comments([
            "/// Invites every row exactly once, concurrently, at the API's rate limit; resumable.",
            "/// Options: name (required), rows (array of maps or csv::stream(path)), params (|row| → invitation",
            "/// params; default: the row itself), key (|row| → row key; default: email, else phone),",
            "/// concurrency (8), report (path prefix for .csv/.json), dryRun, settleSeconds (5), client,",
            "/// reinvite (false: a client who already holds a live invitation in the project is skipped),",
            "/// wait (false: a campaign another runner holds is refused; true: wait and take over when it ends).",
            "/// Returns #{ created, skipped, alreadyInvited, duplicate, invalid, failed, results, report, … }.",
            "/// ```rhai",
            "/// let r = campaign::run(#{ name: \"spring\", rows: csv::stream(\"clients.csv\"), report: \"clients.report\" });",
            "/// print(`created ${r.created}, skipped ${r.skipped}, invalid ${r.invalid}, failed ${r.failed}`);",
            "/// ```",
        ])
        .with_params_info(["options: Map", "Map"])
        .set_into_module(&mut m, move |ctx: NativeCallContext, options: Map| run(ctx, &h, &d, &c, options));

    let (h, d) = (host.clone(), state_dir.clone());
    FuncRegistration::new("status")
        .with_comments([
            "/// Where a campaign stands, from its journal: #{ rows: #{ created, invalid, duplicate, … },",
            "/// invitations: #{ pending, completed, … }, lastRun } (statuses as last seen; lastRun: the last run's counts).",
            "/// ```rhai",
            "/// print(campaign::status(\"spring\").invitations);",
            "/// ```",
        ])
        .with_params_info(["name: &str", "Map"])
        .set_into_module(&mut m, move |name: &str| status(&h, &d, name, false));
    let (h, d) = (host.clone(), state_dir.clone());
    FuncRegistration::new("status")
        .with_comments([
            "/// Like status(name); with `refresh` true, reads each invitation's current status from the API first.",
            "/// ```rhai",
            "/// print(campaign::status(\"spring\", true).invitations.completed);",
            "/// ```",
        ])
        .with_params_info(["name: &str", "refresh: bool", "Map"])
        .set_into_module(&mut m, move |name: &str, refresh: bool| status(&h, &d, name, refresh));
    let (h, d) = (host.clone(), state_dir.clone());
    FuncRegistration::new("report")
        .with_comments([
            "/// A campaign's report numbers, as `zavu-script campaign report NAME --json` prints them:",
            "/// #{ funnel: #{ invited, viewed, started, completed }, outcomes: #{ expired, cancelled, failed,",
            "/// invalid, notSent }, percent, timeToComplete: #{ medianSeconds, p90Seconds, measured },",
            "/// completions: #{ bucket, buckets }, rowStates, invitations, asOf, refreshed }.",
            "/// ```rhai",
            "/// let r = campaign::report(\"spring\"); print(`${r.funnel.completed} of ${r.funnel.invited} connected`);",
            "/// ```",
        ])
        .with_params_info(["name: &str", "Map"])
        .set_into_module(&mut m, move |name: &str| report(&h, &d, name, &Map::new()));
    let (h, d) = (host.clone(), state_dir.clone());
    FuncRegistration::new("report")
        .with_comments([
            "/// Like report(name), with options: `refresh: true` reads every invitation's status from the",
            "/// API first (one pass over the list); `html: \"path.html\"` also writes the report page there.",
            "/// ```rhai",
            "/// let r = campaign::report(\"spring\", #{ refresh: true, html: \"spring.html\" });",
            "/// ```",
        ])
        .with_params_info(["name: &str", "options: Map", "Map"])
        .set_into_module(&mut m, move |name: &str, options: Map| {
            report(&h, &d, name, &options)
        });
    let (h, d) = (host, state_dir);
    FuncRegistration::new("cleanup")
        .with_comments([
            "/// Cancels the campaign's invitations that are still open (pending, in progress, failed).",
            "/// Returns #{ cancelled, closed, failed }.",
            "/// ```rhai",
            "/// let r = campaign::cleanup(\"spring\"); print(`cancelled ${r.cancelled}`);",
            "/// ```",
        ])
        .with_params_info(["name: &str", "Map"])
        .set_into_module(&mut m, move |name: &str| cleanup(&h, &d, name));
    m
}

fn counts(map: &std::collections::BTreeMap<String, i64>) -> Dynamic {
    Dynamic::from_map(
        map.iter()
            .map(|(k, v)| (k.as_str().into(), Dynamic::from(*v)))
            .collect(),
    )
}

/// The outcome of an operation run on the bridge, as a script result.
fn settled<T>(
    call: &str,
    r: Result<Result<T, OperateError>, crate::engine::bridge::Stopped>,
) -> RhaiResult<T> {
    match r.map_err(|stopped| super::zavu::stopped(stopped.0))? {
        Ok(v) => Ok(v),
        // An API failure stays a catchable `ApiError`, as from any other call.
        Err(OperateError::Api { source, .. }) => {
            Err(ScriptApiError::from_client(call, &source).into_err())
        }
        Err(e) => Err(format!("{call}: {e}").into()),
    }
}

fn status(host: &ZavuHost, dir: &Places, name: &str, refresh: bool) -> RhaiResult<Dynamic> {
    let dir = state_dir(dir)?;
    let zavu = host.default_zavu()?;
    let s = settled(
        "campaign::status",
        host.bridge()
            .block_on(campaign::operate::status(dir, zavu.client(), name, refresh)),
    )?;
    let mut m = Map::new();
    m.insert("name".into(), s.name.into());
    m.insert("rows".into(), counts(&s.rows));
    m.insert("invitations".into(), counts(&s.invitations));
    let last_run = match &s.last_run {
        Some(r) => rhai::serde::to_dynamic(r.to_json())?,
        None => Dynamic::UNIT,
    };
    m.insert("lastRun".into(), last_run);
    Ok(Dynamic::from_map(m))
}

fn report(host: &ZavuHost, dir: &Places, name: &str, options: &Map) -> RhaiResult<Dynamic> {
    const REPORT_OPTIONS: &[&str] = &["refresh", "html"];
    let bad = |m: String| -> Box<EvalAltResult> { format!("campaign::report: {m}").into() };
    for k in options.keys() {
        if !REPORT_OPTIONS.contains(&k.as_str()) {
            return Err(bad(format!(
                "unknown option `{k}` (options: {})",
                REPORT_OPTIONS.join(", ")
            )));
        }
    }
    let get = |k: &str| options.get(k).filter(|v| !v.is_unit());
    let refresh = match get("refresh") {
        None => false,
        Some(v) => v
            .as_bool()
            .map_err(|_| bad(format!("`refresh` must be true or false, not {v}")))?,
    };
    let html = match get("html") {
        None => None,
        Some(v) if v.is_string() => Some(PathBuf::from(v.to_string())),
        Some(v) => return Err(bad(format!("`html` must be a path, not {}", v.type_name()))),
    };
    let dir = state_dir(dir)?;
    let zavu = host.default_zavu()?;
    let r = settled(
        "campaign::report",
        host.bridge()
            .block_on(campaign::operate::report(dir, zavu.client(), name, refresh)),
    )?;
    let mut value = serde_json::to_value(&r.funnel).map_err(|e| bad(e.to_string()))?;
    if let Some(path) = &html {
        let now = crate::api::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
        campaign::report_page::write(path, &r.funnel, &r.rows, &now)
            .map_err(|e| bad(format!("cannot write {}: {e}", path.display())))?;
        value["html"] = serde_json::Value::String(path.display().to_string());
    }
    Ok(to_dynamic(&value))
}

fn cleanup(host: &ZavuHost, dir: &Places, name: &str) -> RhaiResult<Dynamic> {
    let dir = state_dir(dir)?;
    let zavu = host.default_zavu()?;
    let c = settled(
        "campaign::cleanup",
        host.bridge()
            .block_on(campaign::operate::cleanup(dir, zavu.client(), name, false)),
    )?;
    let mut m = Map::new();
    m.insert("cancelled".into(), Dynamic::from(c.cancelled as i64));
    m.insert("closed".into(), Dynamic::from(c.closed as i64));
    m.insert("failed".into(), Dynamic::from(c.failed as i64));
    Ok(Dynamic::from_map(m))
}
