//! The `listen` front door: compile the handler, find the webhook secret (from a file, the
//! environment, or by registering the project webhook), open the inbox (SQLite under the
//! inbox's lock, or the state database that replicas share), start the handler's workers
//! (`--concurrency`) and the receiver, catch up on what was missed (on start, then every
//! `--catch-up-every`), and serve until SIGTERM or Ctrl-C — then stop taking deliveries (the
//! sender retries them) and let the handlers in progress finish within the grace period.

use super::session::Session;
use crate::client::ApiClient;
use crate::config::{Config, ListenSettings};
use crate::engine::bridge::Bridge;
use crate::engine::{self, HostOptions, StdSink, script};
use crate::error::Error;
use crate::listen::bell::Bells;
use crate::listen::catchup;
use crate::listen::inbox::{Inbox, PgInbox, Shard, SqliteInbox, inbox_path};
use crate::listen::receiver::{AliveWhileHeld, Receiver, router};
use crate::listen::recorder::Recorder;
use crate::listen::watchdog::Watchdog;
use crate::listen::worker::{self, WorkerEnv};
use crate::service_log::Log;
use crate::stop::Stop;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use tokio::runtime::Runtime;

pub fn execute(config: &Config, runtime: &Runtime, settings: &ListenSettings) -> Result<(), Error> {
    // Every delivery and every handler run allocates and frees on its thread: keep freed
    // memory in the process instead of trimming and refaulting it per burst.
    crate::memory::keep_freed_heap();
    // Thousands of events a second, three lines each: gathered into few writes.
    let log = Arc::new(Log::stderr_gathered("listen", settings.json_logs));
    check_path(&settings.path)?;
    let name = settings.handler.display().to_string();
    let text = script::read(&settings.handler)?;
    let compiler = engine::build(HostOptions {
        limits: settings.limits,
        state_dir: None,
        shared_state: None,
        campaign: Default::default(),
        sink: Arc::new(StdSink),
        api: None,
        bridge: Arc::new(Bridge::new(
            runtime.handle().clone(),
            Arc::new(Stop::default()),
        )),
        memory: None,
    });
    let ast = Arc::new(script::compile(&compiler, &name, &text)?);
    drop(compiler);

    let state_dir = config.state_dir()?.to_path_buf();
    let session = Session::open(config, runtime)?;
    let client = ApiClient::new(session.api.clone()).map_err(|e| Error::Usage(e.to_string()))?;

    let scope = format!(
        "{} {}",
        session.api.base_url,
        session.api.api_key.fingerprint()
    );
    // On SQLite the lock must outlive the inbox: it is what proves running events abandoned.
    let (inbox, _lock) = open_inbox(config, runtime, settings, &state_dir, &scope, &log)?;
    let requeued = inbox
        .requeue_abandoned()
        .map_err(|e| Error::Usage(e.to_string()))?;
    if requeued > 0 {
        let why = match inbox {
            Inbox::Sqlite(_) => "were being handled when the last run stopped",
            Inbox::Postgres(_) => "were being handled by a replica whose lease ran out",
        };
        log.warn(
            "recover",
            format!("{requeued} event(s) {why}; they run again"),
        );
    }
    if settings.retry_failed {
        let n = inbox
            .requeue_failed()
            .map_err(|e| Error::Usage(e.to_string()))?;
        log.info("retry", format!("{n} failed event(s) back in line"));
    }
    let home = inbox.home();
    let inbox = Arc::new(Mutex::new(inbox));
    Inbox::checkpoint_in_background(&inbox).map_err(|e| Error::Usage(e.to_string()))?;

    // Bound before the webhook is registered: the project is never pointed at a port this
    // process could not take, and `--register self` knows its own address.
    let receiving = if settings.catch_up_only {
        if settings.register.is_some() {
            return Err(Error::Usage(
                "--register configures deliveries to a receiver; --catch-up runs none".into(),
            ));
        }
        None
    } else {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind((
                settings.host,
                settings.port,
            )))
            .map_err(|e| {
                Error::Usage(format!(
                    "cannot listen on {}:{}: {e}",
                    settings.host, settings.port
                ))
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Usage(e.to_string()))?;
        let secret = runtime.block_on(secret(
            settings,
            &own_url(addr, &settings.path),
            &client,
            &log,
        ))?;
        Some((listener, addr, secret))
    };

    // The handler's workers: one thread each, with its own engine, watchdog and part of
    // the inbox.
    let bells = Arc::new(Bells::new(
        settings.concurrency,
        matches!(
            &*inbox.lock().unwrap_or_else(|p| p.into_inner()),
            Inbox::Sqlite(_)
        ),
    ));
    let metrics = Arc::new(crate::service_metrics::ListenMetrics::new());
    let stop = Arc::new(Stop::default());
    let shutdown = Arc::new(Stop::default());
    // Events another replica records wake this one's workers at once.
    if let Inbox::Postgres(pg) = &*inbox.lock().unwrap_or_else(|p| p.into_inner()) {
        pg.wake_on_new_events(bells.clone());
    }
    let handler_alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut watchdogs = vec![];
    let mut workers = vec![];
    for shard in Shard::each(settings.concurrency) {
        let watchdog =
            Watchdog::start(runtime.handle(), settings.handler_timeout, shutdown.clone());
        if let Inbox::Postgres(pg) = &*inbox.lock().unwrap_or_else(|p| p.into_inner()) {
            watchdog.watch_lease(pg.heartbeat(), settings.lease_ttl);
        }
        let env = WorkerEnv {
            handle: runtime.handle().clone(),
            api: session.api.clone(),
            limits: settings.limits,
            state_dir: state_dir.clone(),
            shared_state: config.state.postgres(),
            log: log.clone(),
            handler: ast.clone(),
            handler_name: handler_label(&settings.handler),
            inbox: inbox.clone(),
            max_attempts: settings.max_attempts,
            metrics: metrics.clone(),
            watchdog: watchdog.clone(),
            look_every: settings.look_every,
            bell: bells.part(shard),
            shard,
        };
        let (stop, shutdown) = (stop.clone(), shutdown.clone());
        // Any worker ending, however it ends, makes /healthz unhealthy.
        let alive = AliveWhileHeld(handler_alive.clone());
        let worker = std::thread::Builder::new()
            .name("listen-handler".into())
            .spawn(move || {
                let _alive = alive;
                worker::run(env, stop, shutdown)
            })
            .map_err(|e| Error::Usage(format!("cannot start a handler's thread: {e}")))?;
        watchdogs.push(watchdog);
        workers.push(worker);
    }

    let outcome = runtime.block_on(async {
        let Some((listener, addr, secret)) = receiving else {
            let caught = catch_up(&client, &inbox, &log, true).await;
            bells.ring_all();
            caught?;
            return drain(&inbox, &handler_alive).await;
        };
        let receiver = Arc::new(Receiver {
            secret,
            tolerance_seconds: settings.tolerance.as_secs() as i64,
            recorder: Recorder::start(inbox.clone(), home.clone()).map_err(|e| {
                Error::Usage(format!("cannot start the inbox's writer thread: {e}"))
            })?,
            wake: bells.clone(),
            log: log.clone(),
            metrics: metrics.clone(),
            handler_alive: handler_alive.clone(),
            watchdogs: watchdogs.clone(),
        });
        log.info(
            "listening",
            format!(
                "receiving deliveries on http://{addr}{} (health: http://{addr}/healthz, \
                 metrics: http://{addr}/metrics)",
                settings.path
            ),
        );
        let app = router(&settings.path, receiver);
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(super::signals::stop_requested())
                .await
        });
        // On start, then every --catch-up-every: expiry is never announced, and a delivery
        // can be lost for good.
        let every = settings.catch_up_every;
        let catching_up = {
            let (client, inbox, log, bells) =
                (client.clone(), inbox.clone(), log.clone(), bells.clone());
            tokio::spawn(async move {
                let mut on_start = true;
                loop {
                    if let Err(e) = catch_up(&client, &inbox, &log, on_start).await {
                        log.error("catch-up", e.to_string());
                    }
                    bells.ring_all();
                    if every.is_zero() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                    on_start = false;
                }
            })
        };
        let served = server.await;
        catching_up.abort();
        log.info(
            "stopping",
            "no more deliveries taken; finishing the events in hand",
        );
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Usage(format!("the receiver failed: {e}"))),
            Err(e) => Err(Error::Usage(format!("the receiver failed: {e}"))),
        }
    });

    // Let the handlers in hand finish, within the grace period.
    stop.trigger("shutting down");
    bells.ring_all();
    let deadline = std::time::Instant::now() + settings.shutdown_grace;
    let running =
        |workers: &[std::thread::JoinHandle<()>]| workers.iter().any(|w| !w.is_finished());
    while running(&workers) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if running(&workers) {
        log.warn(
            "stopping",
            "grace period over: stopping the handlers still running",
        );
        shutdown.trigger("the receiver is shutting down");
        bells.ring_all();
    }
    for worker in workers {
        let _ = worker.join();
    }
    inbox.lock().unwrap_or_else(|p| p.into_inner()).close();
    session.close(runtime);
    log.info("stopped", "stopped");
    log.flush();
    outcome
}

/// The inbox: in the state database when `--state-url` is set (replicas share it, so no
/// lock), else in the state directory under the lock that keeps it to one receiver.
fn open_inbox(
    config: &Config,
    runtime: &Runtime,
    settings: &ListenSettings,
    state_dir: &std::path::Path,
    scope: &str,
    log: &Log,
) -> Result<(Inbox, Option<crate::files::LockFile>), Error> {
    if let Some(target) = config.state.postgres() {
        let inbox = PgInbox::open(&target, scope, runtime.handle().clone(), settings.lease_ttl)
            .map_err(|e| Error::Usage(e.to_string()))?;
        log.info(
            "inbox",
            format!(
                "inbox in the state database {target}, shared with every listen replica \
                 there; this replica is {} (leases of {})",
                inbox.owner(),
                crate::duration::format(settings.lease_ttl)
            ),
        );
        return Ok((Inbox::Postgres(inbox), None));
    }
    // One receiver per project and state directory: two would run each event twice.
    let lock_path = state_dir.join(format!(
        "inbox-{}.lock",
        hex::encode(&Sha256::digest(scope.as_bytes())[..6])
    ));
    let lock = crate::files::lock_exclusive(&lock_path).map_err(|e| match e {
        crate::files::LockError::Held { pid } => Error::Usage(format!(
            "another zavu-script listen{} is already receiving for this project with this \
             state directory; stop it first, or give this one its own --state-dir",
            pid.map(|p| format!(" (process {p})")).unwrap_or_default()
        )),
        other => Error::Usage(other.to_string()),
    })?;
    let inbox = SqliteInbox::open(&inbox_path(state_dir), scope)
        .map_err(|e| Error::Usage(e.to_string()))?;
    Ok((Inbox::Sqlite(inbox), Some(lock)))
}

/// The name a handler's lines carry: its file stem.
fn handler_label(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "handler".into())
}

/// `--path`: a route of its own, as the router takes it.
fn check_path(path: &str) -> Result<(), Error> {
    let ok = path.starts_with('/')
        && path != "/healthz"
        && !path.contains(['{', '}', '*', '?', '#', ' '])
        && !path.contains("//");
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--path {path:?}: give an absolute path such as /webhooks/zavu (no spaces, \
             query, wildcards or {{…}} parts; /healthz is taken)"
        )))
    }
}

/// The URL deliveries reach this receiver at, from this machine: a wildcard bind address is
/// reached through loopback.
fn own_url(addr: std::net::SocketAddr, path: &str) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!(
        "http://{}{path}",
        std::net::SocketAddr::new(ip, addr.port())
    )
}

/// The secret deliveries are signed with: registered now (`self` being `own`), or given.
async fn secret(
    settings: &ListenSettings,
    own: &str,
    client: &ApiClient,
    log: &Log,
) -> Result<String, Error> {
    if let Some(url) = &settings.register {
        let url = if url == "self" { own } else { url.as_str() };
        let hook = client
            .configure_webhook(url, None)
            .await
            .map_err(|source| Error::ApiDuring {
                context: "registering the project webhook".into(),
                source,
            })?;
        log.info(
            "registered",
            format!(
                "project webhook → {} for {}; secret fingerprint {}",
                hook.url,
                hook.events.join(", "),
                fingerprint(&hook.secret)
            ),
        );
        return Ok(hook.secret);
    }
    if let Some(file) = &settings.secret_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::Usage(format!("--secret-file {}: {e}", file.display())))?;
        let secret = text.lines().next().unwrap_or("").trim().to_string();
        if secret.is_empty() {
            return Err(Error::Usage(format!(
                "--secret-file {}: the file is empty; put the secret on its first line",
                file.display()
            )));
        }
        return Ok(secret);
    }
    settings.secret.clone().ok_or_else(|| {
        Error::Usage(
            "no webhook secret: pass --register URL (configures the project webhook), \
             --secret-file PATH, or set ZAVU_WEBHOOK_SECRET"
                .into(),
        )
    })
}

/// A secret as the log may show it: the first 12 hex digits of its SHA-256.
pub fn fingerprint(secret: &str) -> String {
    format!(
        "sha256:{}",
        &hex::encode(Sha256::digest(secret.as_bytes()))[..12]
    )
}

/// One catch-up, logged: on start always, later only when it found something.
async fn catch_up(
    client: &ApiClient,
    inbox: &Mutex<Inbox>,
    log: &Log,
    on_start: bool,
) -> Result<(), Error> {
    let caught = catchup::catch_up(client, inbox)
        .await
        .map_err(Error::Usage)?;
    if caught.baseline {
        log.info(
            "catch-up",
            format!(
                "first start: {} invitation(s) taken as they are; changes from now on are handled",
                caught.read
            ),
        );
    } else if on_start {
        log.info(
            "catch-up",
            format!(
                "read {} invitation(s); {} change(s) missed while down, recorded to handle",
                caught.read, caught.synthesized
            ),
        );
    } else if caught.synthesized > 0 {
        log.info(
            "catch-up",
            format!(
                "read {} invitation(s); {} change(s) no delivery announced (expiry, or a lost \
                 delivery), recorded to handle",
                caught.read, caught.synthesized
            ),
        );
    }
    Ok(())
}

/// `--catch-up`: waits until nothing is due (retries waiting for later count as done), or
/// fails once a handler worker has stopped.
async fn drain(
    inbox: &Mutex<Inbox>,
    handler_alive: &std::sync::atomic::AtomicBool,
) -> Result<(), Error> {
    loop {
        let busy = {
            let inbox = inbox.lock().unwrap_or_else(|p| p.into_inner());
            let now = chrono::Utc::now().timestamp_millis();
            inbox.next_due(now).ok().flatten().is_some() || inbox.running().unwrap_or(0) > 0
        };
        if !busy {
            return Ok(());
        }
        // A worker that ended leaves its part's events to nobody: waiting would be forever.
        if !handler_alive.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::Usage(
                "a handler worker stopped before every caught-up event was handled; they are \
                 kept in the inbox for the next start"
                    .into(),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
