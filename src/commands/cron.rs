//! The `cron` front door: check the crontab (and stop there for `--test` and `--next`),
//! then open a session and hand the checked crontab to the scheduler until SIGTERM.

use super::session::Session;
use crate::config::{Config, CronSettings, Globals};
use crate::cron::clock::SystemClock;
use crate::cron::load::{self, Defaults, Loaded};
use crate::cron::shared::Shared;
use crate::cron::{next_lines, run, scheduler, state};
use crate::error::Error;
use crate::service_log::{Level, Log, Record};
use crate::service_metrics::{self, CronMetrics, Health};
use crate::state::{Backend, backend::PgTarget};
use chrono::Utc;
use std::sync::Arc;
use tokio::runtime::Runtime;

pub fn execute(globals: &Globals, runtime: &Runtime, settings: &CronSettings) -> Result<(), Error> {
    let defaults = Defaults {
        timeout: settings.job_timeout,
        grace: settings.missed_grace,
    };
    let loaded = checked(runtime, settings, defaults)?;
    if let Some(n) = settings.next {
        let now = settings.now.unwrap_or_else(Utc::now);
        for line in next_lines(&loaded, now, n) {
            println!("{line}");
        }
        return Ok(());
    }
    if settings.test {
        let n = loaded.jobs.len();
        eprintln!(
            "{}: ok ({n} job{})",
            loaded.file,
            if n == 1 { "" } else { "s" }
        );
        return Ok(());
    }

    let config = Config::resolve(globals)?;
    let state_dir = config.state_dir()?.to_path_buf();
    let state_file = state::StateFile::for_crontab(&state_dir, &settings.file);
    // One scheduler per crontab and state directory: two would fire every job twice and
    // fight over the state file.
    let _lock = state_file.lock()?;
    let session = Session::open(&config, runtime)?;
    let log = Arc::new(Log::stderr("cron", settings.json_logs));
    let env_log = log.clone();
    let env = Arc::new(run::RunEnv {
        handle: runtime.handle().clone(),
        api: session.api.clone(),
        limits: settings.limits,
        state_dir: Some(state_dir.clone()),
        shared_state: config
            .state
            .postgres()
            .map(|t| t.with_lease(settings.lease_ttl)),
        log,
    });
    let scheduler = scheduler::Scheduler::new(
        loaded,
        scheduler::Settings {
            defaults,
            shutdown_grace: settings.shutdown_grace,
            watch: settings.watch,
        },
        env,
        Arc::new(SystemClock),
        state_file,
    );
    let (scheduler, replica) = match &config.state {
        Backend::Sqlite { .. } => (scheduler, None),
        Backend::Postgres(target) => {
            let shared = shared_state(runtime, settings, target)?;
            let replica = shared.replica_id().to_string();
            (scheduler.shared(shared), Some(replica))
        }
    };
    if let Some(addr) = settings.http {
        let metrics = scheduler.metrics();
        serve_metrics(runtime, &env_log, addr, metrics, replica)?;
    }
    let outcome = runtime.block_on(scheduler.run());
    session.close(runtime);
    outcome
}

/// `/metrics` and `/healthz` for the scheduler, in the background until the process ends.
/// Healthy while the state database answers heartbeats (always, without one).
fn serve_metrics(
    runtime: &Runtime,
    log: &Log,
    addr: std::net::SocketAddr,
    metrics: Arc<CronMetrics>,
    replica: Option<String>,
) -> Result<(), Error> {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| Error::Usage(format!("--http {addr}: {e}")))?;
    let bound = listener.local_addr().unwrap_or(addr);
    let health_metrics = metrics.clone();
    let health: Health = Arc::new(move || {
        let up = health_metrics.state_up.get() == 1;
        let age = health_metrics.heartbeat_age.get();
        let mut body = serde_json::json!({
            "ok": up,
            "backend": if replica.is_some() { "postgres" } else { "sqlite" },
        });
        if let Some(r) = &replica {
            body["replica"] = r.clone().into();
        }
        if !up {
            body["reason"] =
                format!("the state database has not answered a heartbeat for {age:.1}s").into();
        }
        (up, body)
    });
    let app = service_metrics::router(Arc::new(move || metrics.encode()), health);
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    log.emit(
        Record::new(
            Level::Info,
            "http",
            format!("serving /metrics and /healthz on http://{bound}"),
        )
        .field("addr", bound.to_string()),
    );
    Ok(())
}

/// The link to the other replicas: the crontab under its shared name, its text's digest
/// (so replicas that disagree show in `state status`), the lease length.
fn shared_state(
    runtime: &Runtime,
    settings: &CronSettings,
    target: &PgTarget,
) -> Result<Shared, Error> {
    crate::state::backend::check_lease_ttl(settings.lease_ttl).map_err(Error::Usage)?;
    let name = settings.crontab_name.clone().unwrap_or_else(|| {
        settings
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "crontab".into())
    });
    let text = std::fs::read_to_string(&settings.file).map_err(|source| Error::Io {
        path: settings.file.clone(),
        source,
    })?;
    Ok(runtime.block_on(Shared::open(target, name, &text, settings.lease_ttl))?)
}

/// The crontab, checked; a bad one is reported line by line on stderr.
fn checked(
    runtime: &Runtime,
    settings: &CronSettings,
    defaults: Defaults,
) -> Result<Loaded, Error> {
    load::load(&settings.file, defaults, runtime.handle(), Utc::now()).map_err(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        Error::Usage(format!(
            "{}: {} error{}; nothing was started",
            settings.file.display(),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ))
    })
}
