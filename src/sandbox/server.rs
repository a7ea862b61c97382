//! Serving: binding, the accept loop, graceful shutdown, the state-file saver, and the
//! webhook deliverer's task.
//!
//! The loop is hand-rolled over hyper (not `axum::serve`) for two reasons: a handler must
//! be able to close its own connection *without answering* — the "committed, then the
//! network dropped it" failure that `dropAfterCommitRate` injects (each connection gets a
//! `Notify`; when a handler fires it, the connection future is dropped and the socket
//! closes) — and each connection's stream is [`Guarded`], so the answers hyper gives by
//! itself (malformed requests, stalled heads) carry JSON bodies too.

use super::clock::Clock;
use super::reply::ConnDrop;
use super::routes::router;
use super::state::{AppState, Keys};
use super::store::{Store, load_snapshot, save_snapshot};
use super::wire::Guarded;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// The key a sandbox accepts when nobody configured one.
pub const DEFAULT_KEY: &str = "zv_test_sandbox";

/// Requests per key and minute the sandbox allows, and reports in `X-RateLimit-*`, when no
/// `rateLimitPerMinute` fault is set: far above any real tier, so nothing is slowed, yet
/// every answer carries the headers the real API always sends.
pub const DEFAULT_BUDGET_PER_MINUTE: u64 = 1_000_000;

#[derive(Clone, Debug)]
pub struct SandboxOptions {
    pub host: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// The bearer keys accepted; empty means the well-known `zv_test_sandbox`.
    pub keys: Vec<String>,
    /// Keep state in this JSON file (loaded at start, saved on change and at shutdown).
    pub state_file: Option<PathBuf>,
    /// Requests per key and minute allowed (and advertised) without a rate-limit fault.
    pub budget_per_minute: u64,
    /// How long a request head may take to arrive (also how long an idle connection stays).
    pub head_timeout: Duration,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            keys: vec![],
            state_file: None,
            budget_per_minute: DEFAULT_BUDGET_PER_MINUTE,
            head_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("sandbox state: {0}")]
    State(String),
}

/// A running sandbox. Dropping it without [`Sandbox::shutdown`] stops serving when the
/// runtime ends, but may lose the last changes to a state file.
pub struct Sandbox {
    addr: SocketAddr,
    base_url: String,
    state: Arc<AppState>,
    state_file: Option<PathBuf>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    saver: Option<JoinHandle<()>>,
    deliverer: JoinHandle<()>,
}

impl Sandbox {
    /// Binds, loads state (if a state file is set) and starts serving in the background.
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let requested = SocketAddr::new(opts.host, opts.port);
        let listener = TcpListener::bind(requested)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: requested,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: requested,
            source,
        })?;
        let base_url = format!("http://{addr}");
        let clock;
        let store;
        let epoch = Clock::default().now();
        match &opts.state_file {
            Some(path) => match load_snapshot(path).map_err(SandboxError::State)? {
                Some(snap) => {
                    clock = Clock::with_offset(snap.clock_offset_ms);
                    store = Store::restore(epoch, snap);
                }
                None => {
                    clock = Clock::default();
                    store = Store::new(epoch);
                }
            },
            None => {
                clock = Clock::default();
                store = Store::new(epoch);
            }
        }
        let keys = if opts.keys.is_empty() {
            vec![DEFAULT_KEY.to_string()]
        } else {
            opts.keys.clone()
        };
        let dirty = opts.state_file.as_ref().map(|_| Arc::new(Notify::new()));
        let state = Arc::new(AppState::new(
            store,
            clock,
            Keys::Only(keys),
            base_url.clone(),
            dirty.clone(),
            opts.budget_per_minute.max(1),
            opts.body_timeout,
        ));
        let (stop, stopped) = watch::channel(false);
        let saver = match (&opts.state_file, dirty) {
            (Some(path), Some(dirty)) => Some(tokio::spawn(save_loop(
                state.clone(),
                path.clone(),
                dirty,
                stopped.clone(),
            ))),
            _ => None,
        };
        let deliverer = tokio::spawn(super::deliver::run(state.clone(), stopped.clone()));
        let server = tokio::spawn(accept_loop(
            listener,
            state.clone(),
            stopped,
            opts.head_timeout,
        ));
        Ok(Sandbox {
            addr,
            base_url,
            state,
            state_file: opts.state_file,
            stop,
            server,
            saver,
            deliverer,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` — what a client's base URL should be.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Stops accepting, lets open requests finish (a few seconds at most) and saves state.
    pub async fn shutdown(self) -> Result<(), SandboxError> {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        let _ = self.deliverer.await;
        if let Some(saver) = self.saver {
            let _ = saver.await;
        }
        if let Some(path) = &self.state_file {
            save_now(&self.state, path)?;
        }
        Ok(())
    }
}

fn save_now(state: &AppState, path: &std::path::Path) -> Result<(), SandboxError> {
    let snap = state.store().snapshot(state.clock.offset_ms());
    save_snapshot(path, &snap).map_err(SandboxError::State)
}

/// Saves after changes, coalescing bursts so a busy sandbox writes a few times a second,
/// not once per request.
async fn save_loop(
    state: Arc<AppState>,
    path: PathBuf,
    dirty: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = dirty.notified() => {}
            _ = stopped.changed() => return,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (state, path) = (state.clone(), path.clone());
        let result = tokio::task::spawn_blocking(move || save_now(&state, &path)).await;
        if let Ok(Err(e)) = result {
            tracing::warn!("sandbox: {e}");
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<AppState>,
    mut stopped: watch::Receiver<bool>,
    head_timeout: Duration,
) {
    let app = router(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            conn = listener.accept() => match conn {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("sandbox: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let dropper = Arc::new(Notify::new());
        let conn_drop = ConnDrop(dropper.clone());
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(conn_drop.clone());
            app.clone().oneshot(req.map(Body::new))
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            // The guarded stream times out stalled heads itself, with a JSON 408.
            .header_read_timeout(None)
            .keep_alive(true)
            .serve_connection(TokioIo::new(Guarded::new(stream, head_timeout)), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            tokio::select! {
                _ = conn => {}
                // Dropping the connection future closes the socket without an answer.
                _ = dropper.notified() => {}
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
}
