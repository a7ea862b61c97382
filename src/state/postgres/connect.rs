//! Opening a connection to the state database: plain TCP (`NoTls`; TLS would come through
//! a rustls connector), an `application_name` that names the process and host so a
//! person can tell replicas apart in `pg_stat_activity`, the `zavu_script` schema first
//! on the search path, and a background task that drives the connection. A lost
//! connection surfaces as an error on the next statement, never a panic.

use crate::state::backend::PgTarget;
use crate::state::error::StateError;
use std::sync::Arc;

/// The schema every table lives in, apart from whatever else shares the database.
pub const SCHEMA: &str = "zavu_script";

/// A connection and where it goes (for messages).
#[derive(Clone)]
pub struct Conn {
    pub client: Arc<tokio_postgres::Client>,
    pub at: String,
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

/// Connects as `role` (e.g. `cron`, `state status`), from inside a tokio runtime.
pub async fn connect(target: &PgTarget, role: &str) -> Result<Conn, StateError> {
    connect_with(target, role, "").await
}

/// Like [`connect`], for a connection whose session holds a lock: the server probes the
/// client every few seconds when idle (TCP keepalives) and ends the session — releasing
/// its locks — about 25 s after a machine stops answering, instead of the system default
/// of hours; the client probes the server likewise.
pub async fn connect_holding(target: &PgTarget, role: &str) -> Result<Conn, StateError> {
    connect_with(
        target,
        role,
        " -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
    )
    .await
}

/// Like [`connect`], for a connection whose commits need not wait for the write-ahead log
/// to reach the disk (`synchronous_commit = off`): for statements whose loss in a crash of
/// the database server only means work done again. A transaction that must be durable
/// before it is answered sets `synchronous_commit = on` locally.
pub async fn connect_async_commit(target: &PgTarget, role: &str) -> Result<Conn, StateError> {
    connect_with(target, role, " -c synchronous_commit=off").await
}

async fn connect_with(target: &PgTarget, role: &str, options: &str) -> Result<Conn, StateError> {
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
    let (client, connection) = config
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
    })
}
