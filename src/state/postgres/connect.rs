//! Opening a connection to the state database: plain TCP (`NoTls`; TLS would come through
//! a rustls connector), an `application_name` that names the process and host so a
//! person can tell replicas apart in `pg_stat_activity`, the `zavu_script` schema first
//! on the search path, and a background task that drives the connection. A lost
//! connection surfaces as an error on the next statement, never a panic.

use crate::state::backend::PgTarget;
use crate::state::error::StateError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The schema every table lives in, apart from whatever else shares the database.
pub const SCHEMA: &str = "zavu_script";

/// A connection and where it goes (for messages).
#[derive(Clone)]
pub struct Conn {
    pub client: Arc<tokio_postgres::Client>,
    pub at: String,
    /// For a session that holds a lock: when the server last heard from it.
    pub held: Option<Arc<Held>>,
}

impl Conn {
    /// Wraps a statement's error with what we were doing.
    pub fn err(
        &self,
        doing: impl Into<String>,
    ) -> impl FnOnce(tokio_postgres::Error) -> StateError {
        let (at, doing) = (self.at.clone(), doing.into());
        move |e| StateError::postgres(&at, doing, &e)
    }
}

/// A lock-holding session's lease, as its own process can vouch for it. The server ends
/// the session (and its locks go) once it has been silent for the lease; a heartbeat keeps
/// it talking while the process runs. The process counts its lock as held only while its
/// last answered heartbeat was sent less than half a lease ago — so after it was frozen
/// (SIGSTOP, a paused VM) or cut off, it finds out before acting on a lock that may
/// already have passed to someone else, with half a lease to spare.
pub struct Held {
    lease: Duration,
    /// When the last heartbeat that got an answer was sent.
    heard: Mutex<Instant>,
}

impl Held {
    /// `Err` with what it means when the lock can no longer be counted on.
    pub fn check(&self) -> Result<(), String> {
        let heard = *self.heard.lock().unwrap_or_else(|p| p.into_inner());
        let silent = heard.elapsed();
        if silent > self.lease / 2 {
            return Err(format!(
                "the state database has not answered this process for {} (the lock's lease is \
                 {}): the lock may already belong to another runner, so nothing more is sent",
                seconds(silent),
                seconds(self.lease)
            ));
        }
        Ok(())
    }
}

/// "3.9s", "30s": the duration layer sits beside this one, not below it.
fn seconds(d: Duration) -> String {
    format!("{}s", (d.as_secs_f64() * 10.0).round() / 10.0)
}

/// How often a holding session says it is still there: a quarter of its lease, so a
/// heartbeat or two may be slow without the holder doubting its lock.
fn heartbeat_every(lease: Duration) -> Duration {
    (lease / 4).max(Duration::from_millis(50))
}

/// Connects as `role` (e.g. `cron`, `state status`), from inside a tokio runtime.
pub async fn connect(target: &PgTarget, role: &str) -> Result<Conn, StateError> {
    connect_with(target, role, "").await
}

/// Like [`connect`], for a connection whose session holds a lock. The server ends the
/// session — releasing its locks — once it has been idle for the target's lease
/// (`idle_session_timeout`, PostgreSQL 14 and newer): a holder that was frozen, cut off, or
/// whose machine died loses its locks a lease after it fell silent, however the network
/// behaves. While the process runs, a heartbeat every quarter lease keeps the session busy
/// and records when the server last answered ([`Held::check`]). TCP keepalives make the
/// client notice a vanished server too.
pub async fn connect_holding(target: &PgTarget, role: &str) -> Result<Conn, StateError> {
    let lease = target.lease();
    let mut conn = connect_with(
        target,
        role,
        &format!(
            " -c idle_session_timeout={} -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 \
             -c tcp_keepalives_count=3",
            lease.as_millis().max(1)
        ),
    )
    .await?;
    let held = Arc::new(Held {
        lease,
        heard: Mutex::new(Instant::now()),
    });
    conn.held = Some(held.clone());
    // The heartbeat holds the client weakly: it must not keep the session (and the lock)
    // alive after the journal let go of it.
    let client = Arc::downgrade(&conn.client);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(heartbeat_every(lease));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(client) = client.upgrade() else {
                return;
            };
            let sent = Instant::now();
            if client.simple_query("SELECT 1").await.is_err() {
                return;
            }
            *held.heard.lock().unwrap_or_else(|p| p.into_inner()) = sent;
        }
    });
    Ok(conn)
}

/// Like [`connect`], for a connection whose commits need not wait for the write-ahead log
/// to reach the disk (`synchronous_commit = off`): for statements whose loss in a crash of
/// the database server only means work done again. A transaction that must be durable
/// before it is answered sets `synchronous_commit = on` locally.
pub async fn connect_async_commit(target: &PgTarget, role: &str) -> Result<Conn, StateError> {
    connect_with(target, role, " -c synchronous_commit=off").await
}

/// Like [`connect`], for a session that `LISTEN`s: the server's notifications to it come
/// through the receiver, which ends when the connection does (the server went away, or the
/// client was dropped). Notifications arrive between statements, never inside one.
pub async fn connect_notified(
    target: &PgTarget,
    role: &str,
) -> Result<
    (
        Conn,
        tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
    ),
    StateError,
> {
    let (client, mut connection) = config_for(target, role, "")
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| StateError::postgres(&target.to_string(), "connecting", &e))?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    // Driving the connection by its messages, not by awaiting it, is what hands the
    // notifications over; anything else it says (notices) is not ours to act on.
    tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if tx.send(n).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    Ok((
        Conn {
            client: Arc::new(client),
            at: target.to_string(),
            held: None,
        },
        rx,
    ))
}

fn config_for(target: &PgTarget, role: &str, options: &str) -> tokio_postgres::Config {
    let mut config = target.config();
    config
        .keepalives(true)
        .keepalives_idle(std::time::Duration::from_secs(10));
    config.application_name(format!(
        "zavu-script {role} on {} (process {})",
        crate::state::replica::hostname(),
        std::process::id()
    ));
    config.options(format!("-c search_path={SCHEMA}{options}"));
    config
}

async fn connect_with(target: &PgTarget, role: &str, options: &str) -> Result<Conn, StateError> {
    let (client, connection) = config_for(target, role, options)
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| StateError::postgres(&target.to_string(), "connecting", &e))?;
    // The connection task ends when the client is dropped or the server goes away; the
    // client's next statement reports the latter.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Conn {
        client: Arc::new(client),
        at: target.to_string(),
        held: None,
    })
}
