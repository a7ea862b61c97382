//! The journal's tables and how an older journal file is brought up to date: the schema
//! as first released, then numbered migrations that only ever add (columns, indexes), so a
//! journal written by any earlier version opens, keeps every row, and is upgraded in
//! place. `PRAGMA user_version` records how far a file has come.
//!
//! Also the one mapping between a `rows` record and an [`Entry`]. This file holds SQL and
//! nothing else: what the rows mean is `journal.rs`'s business.

use super::journal::{Entry, Lifecycle, RowState};
use rusqlite::Connection;

/// The first released shape. Never changed: later shapes are migrations below.
const BASE: &str = "
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    key_fp TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    clock_offset_ms INTEGER,
    UNIQUE (target, key_fp, name)
);
CREATE TABLE IF NOT EXISTS rows (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    row_key TEXT NOT NULL,
    line INTEGER,
    state TEXT NOT NULL,
    attempt_at_ms INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    invitation_id TEXT,
    url TEXT,
    inv_status TEXT,
    error_code TEXT,
    error_message TEXT,
    match_email TEXT,
    match_phone TEXT,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, row_key)
);
CREATE INDEX IF NOT EXISTS rows_by_state ON rows (campaign_id, state);
";

/// Version 1: what a funnel report needs — the client's name and the invitation's
/// lifecycle times as the API last told them, and when the campaign was last refreshed.
const V1_ROW_COLUMNS: &[(&str, &str)] = &[
    ("client_name", "TEXT"),
    ("inv_created_ms", "INTEGER"),
    ("inv_expires_ms", "INTEGER"),
    ("inv_viewed_ms", "INTEGER"),
    ("inv_started_ms", "INTEGER"),
    ("inv_completed_ms", "INTEGER"),
    ("inv_failed_ms", "INTEGER"),
    ("inv_changed_ms", "INTEGER"),
    ("inv_failure_reason", "TEXT"),
];
const V1_CAMPAIGN_COLUMNS: &[(&str, &str)] = &[("refreshed_at_ms", "INTEGER")];

/// The newest version this build writes.
pub const VERSION: i64 = 1;

fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    names.collect()
}

fn add_columns(conn: &Connection, table: &str, wanted: &[(&str, &str)]) -> rusqlite::Result<()> {
    let have = columns(conn, table)?;
    for (name, ty) in wanted {
        if !have.iter().any(|h| h == name) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {name} {ty}"))?;
        }
    }
    Ok(())
}

/// Creates the tables or brings an existing file up to [`VERSION`]. Runs in one
/// immediate transaction, so two processes opening an old journal at once upgrade it once.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(BASE)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= VERSION {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let upgraded = (|| {
        // Read again under the lock: another process may have just done it.
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < 1 {
            add_columns(conn, "rows", V1_ROW_COLUMNS)?;
            add_columns(conn, "campaigns", V1_CAMPAIGN_COLUMNS)?;
        }
        conn.execute_batch(&format!("PRAGMA user_version = {VERSION}"))
    })();
    match upgraded {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The columns [`entry`] reads, in its order.
pub const COLUMNS: &str = "row_key, line, state, attempt_at_ms, attempts, invitation_id, url, inv_status, \
     error_code, error_message, match_email, match_phone, updated_at_ms, client_name, \
     inv_created_ms, inv_expires_ms, inv_viewed_ms, inv_started_ms, inv_completed_ms, \
     inv_failed_ms, inv_changed_ms, inv_failure_reason";

pub fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        key: row.get(0)?,
        line: row.get::<_, Option<i64>>(1)?.map(|l| l as u64),
        state: RowState::parse(&row.get::<_, String>(2)?),
        attempt_at_ms: row.get(3)?,
        attempts: row.get(4)?,
        invitation_id: row.get(5)?,
        url: row.get(6)?,
        inv_status: row.get(7)?,
        error_code: row.get(8)?,
        error_message: row.get(9)?,
        match_email: row.get(10)?,
        match_phone: row.get(11)?,
        updated_at_ms: row.get(12)?,
        client_name: row.get(13)?,
        life: Lifecycle {
            created_ms: row.get(14)?,
            expires_ms: row.get(15)?,
            viewed_ms: row.get(16)?,
            started_ms: row.get(17)?,
            completed_ms: row.get(18)?,
            failed_ms: row.get(19)?,
            changed_ms: row.get(20)?,
            failure_reason: row.get(21)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_from_before_the_funnel_columns_is_upgraded_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(BASE).unwrap();
            conn.execute_batch(
                "INSERT INTO campaigns (id, target, key_fp, name, created_at_ms) VALUES (1, 'http://x', 'fp', 'old', 5);
                 INSERT INTO rows (campaign_id, row_key, line, state, invitation_id, inv_status, updated_at_ms)
                 VALUES (1, 'a@x.co', 2, 'created', 'inv1', 'pending', 6);",
            )
            .unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        migrate(&conn).unwrap();
        migrate(&conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, VERSION);
        let e = conn
            .query_row(&format!("SELECT {COLUMNS} FROM rows"), [], entry)
            .unwrap();
        assert_eq!(e.key, "a@x.co");
        assert_eq!(e.invitation_id.as_deref(), Some("inv1"));
        assert_eq!((e.client_name, e.life), (None, Lifecycle::default()));
        assert!(
            columns(&conn, "campaigns")
                .unwrap()
                .contains(&"refreshed_at_ms".to_string())
        );
    }
}
