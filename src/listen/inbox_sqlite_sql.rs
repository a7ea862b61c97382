//! The SQLite inbox's statements' shared parts: the look for due events (in the order the
//! `events_due_in_order` index keeps, narrowed to one worker's part) and the SQL function
//! that part is computed with, registered on each connection. Text and registration only;
//! it runs no statement.

use super::inbox_schema::{COLUMNS, STAGE, shard_of};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

/// Adds `zv_shard(invitation_id, of)` to `conn`: which worker's an invitation is, in SQL,
/// so a worker's look reads only its own events however many of others' wait before them.
pub(super) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "zv_shard",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let id = ctx.get::<String>(0)?;
            let of = u32::try_from(ctx.get::<i64>(1)?)
                .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
            Ok(i64::from(shard_of(&id, of)))
        },
    )
}

/// Whether an event is a shard's, with the shard's size as parameter `?of` and its index
/// as `?index`. With one worker the hash is never computed.
pub(super) fn shard_filter(of: usize, index: usize) -> String {
    format!("(?{of} = 1 OR zv_shard(invitation_id, ?{of}) = ?{index})")
}

pub(super) fn due_query() -> String {
    format!(
        "SELECT {COLUMNS} FROM events WHERE scope = ?1 AND state = 'received'
         AND not_before_ms <= ?2 AND {}
         ORDER BY event_ms, {STAGE}, received_ms LIMIT ?3",
        shard_filter(4, 5)
    )
}
