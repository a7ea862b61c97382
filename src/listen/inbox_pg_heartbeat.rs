//! A `listen` replica's heartbeat in the shared state database: every third of the lease
//! (at most every 5 s), on a connection of its own, it bumps the replica's `last_seen` and
//! renews the leases of the events it is handling, and keeps what it found for `/healthz`
//! — when the database last answered, or why it did not. It claims and records nothing.

use crate::state::backend::PgTarget;
use crate::state::error::StateError;
use crate::state::postgres::connect::{Conn, connect};
use crate::state::replica::Replica;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// What the heartbeat last found, for `/healthz`.
#[derive(Default)]
pub struct Heartbeat {
    /// Why this replica's leases could not be renewed at the last try, if they could not.
    pub trouble: Mutex<Option<String>>,
    /// When the database last answered a heartbeat (epoch ms; 0: not yet).
    pub answered_at_ms: AtomicI64,
}

/// The heartbeat: every third of `ttl` (at most every 5 s, so `/healthz` hears of a lost
/// database soon), on a connection of its own, bumps this replica's `last_seen` and renews
/// the leases of the events it is running. What goes wrong is kept for `/healthz`.
pub(super) async fn renew(target: PgTarget, replica: Replica, ttl: Duration, beat: Arc<Heartbeat>) {
    let every = (ttl / 3).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let mut conn: Option<Conn> = None;
    loop {
        tokio::time::sleep(every).await;
        let round = async {
            let c = match conn.take() {
                Some(c) if !c.client.is_closed() => c,
                _ => connect(&target, "listen heartbeat").await?,
            };
            replica.heartbeat(&c, ttl).await?;
            c.client
                .execute(
                    "UPDATE inbox_events SET lease_until = now() + make_interval(secs => $2)
                     WHERE owner = $1 AND state = 'running'",
                    &[&replica.id, &ttl.as_secs_f64()],
                )
                .await
                .map_err(c.err("renewing this replica's leases"))?;
            Ok::<_, StateError>(c)
        }
        .await;
        let why = match round {
            Ok(c) => {
                conn = Some(c);
                let now = chrono::Utc::now().timestamp_millis();
                beat.answered_at_ms.store(now, Ordering::Relaxed);
                None
            }
            Err(e) => Some(format!(
                "cannot renew this replica's leases in the state database: {e}"
            )),
        };
        *beat.trouble.lock().unwrap_or_else(|p| p.into_inner()) = why;
    }
}
