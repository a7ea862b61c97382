//! Prompt wake-ups for an idle `listen` replica: on a connection of its own it `LISTEN`s on
//! the channel every replica's recorder notifies when it commits new events (see
//! [`super::inbox_pg_record`]), and rings this replica's handler workers' bells for each
//! notification about its project — so an event recorded by another replica is looked at
//! within milliseconds, not at the next periodic look (which stays, as the fallback for a
//! notification lost with a connection). A lost connection is opened again after a pause,
//! and the bells are rung then too, in case something was missed meanwhile. It wakes; it
//! reads and claims nothing.

use super::bell::Bells;
use super::inbox_pg_record::CHANNEL;
use crate::state::backend::PgTarget;
use crate::state::error::StateError;
use crate::state::postgres::connect::connect_notified;
use std::sync::Arc;
use std::time::Duration;

/// How long to wait before opening a lost listening connection again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Listens until its task is aborted, ringing `wake` for each notification about `scope`.
/// A database that cannot be reached is the heartbeat's to report (`/healthz`); this only
/// tries again.
pub(super) async fn listen(target: PgTarget, scope: String, wake: Arc<Bells>) {
    let mut first = true;
    loop {
        if !first {
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
        first = false;
        let listening = async {
            let (conn, notes) = connect_notified(&target, "listen wake-ups").await?;
            conn.client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .await
                .map_err(conn.err("listening for new events"))?;
            Ok::<_, StateError>((conn, notes))
        }
        .await;
        let Ok((conn, mut notes)) = listening else {
            continue;
        };
        // Whatever was recorded while nobody listened is found by this look.
        wake.ring_all();
        while let Some(note) = notes.recv().await {
            if note.payload() == scope {
                wake.ring_all();
            }
        }
        drop(conn);
    }
}
