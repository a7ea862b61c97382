//! The schema, versioned: numbered SQL files under `migrations/postgres/`, compiled into
//! the binary, applied in order inside one transaction under a transaction-scoped
//! advisory lock, each recorded in `schema_version`. Replicas that start together queue
//! on the lock, so exactly one applies a migration and the rest find it done. A database
//! at a version newer than this binary knows is refused, never touched.
//!
//! Migrations only add (expand now, contract in a later release), so replicas of the
//! previous version keep running during a rolling upgrade.

use super::connect::{Conn, SCHEMA};
use crate::state::error::StateError;

/// Every migration this binary knows, oldest first: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "replicas_and_cron",
        include_str!("../../../migrations/postgres/0001_replicas_and_cron.sql"),
    ),
    (
        2,
        "store",
        include_str!("../../../migrations/postgres/0002_store.sql"),
    ),
    (
        3,
        "campaigns",
        include_str!("../../../migrations/postgres/0003_campaigns.sql"),
    ),
    (
        4,
        "campaign_rows_lookups",
        include_str!("../../../migrations/postgres/0004_campaign_rows_lookups.sql"),
    ),
    (
        5,
        "inbox",
        include_str!("../../../migrations/postgres/0005_inbox.sql"),
    ),
    (
        6,
        "replica_lease",
        include_str!("../../../migrations/postgres/0006_replica_lease.sql"),
    ),
];

/// The advisory-lock key migrations serialize on (any constant; the text is "zavu-mig").
const LOCK_KEY: i64 = 0x7a61_7675_2d6d_6967;

/// The newest schema version this binary knows.
pub fn newest() -> i32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// The database's schema version; 0 when nothing was ever applied.
pub async fn current(conn: &Conn) -> Result<i32, StateError> {
    let row = conn
        .client
        .query_one(
            &format!("SELECT to_regclass('{SCHEMA}.schema_version') IS NOT NULL"),
            &[],
        )
        .await
        .map_err(conn.err("reading the schema version"))?;
    if !row.get::<_, bool>(0) {
        return Ok(0);
    }
    let row = conn
        .client
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {SCHEMA}.schema_version"),
            &[],
        )
        .await
        .map_err(conn.err("reading the schema version"))?;
    Ok(row.get(0))
}

/// Refuses a database this binary is too old for.
pub fn check_known(version: i32) -> Result<(), StateError> {
    if version > newest() {
        return Err(StateError::Schema(format!(
            "the state database is at schema version {version}; this zavu-script knows up to \
             {} — upgrade it",
            newest()
        )));
    }
    Ok(())
}

/// Applies what is missing; returns the versions before and after. `by` is recorded with
/// each applied migration (host and process).
pub async fn migrate(conn: &Conn, by: &str) -> Result<(i32, i32), StateError> {
    let c = &conn.client;
    c.batch_execute("BEGIN")
        .await
        .map_err(conn.err("starting the migration"))?;
    let outcome = apply(conn, by).await;
    let end = if outcome.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    let ended = c.batch_execute(end).await;
    let versions = outcome?;
    ended.map_err(conn.err("committing the migration"))?;
    Ok(versions)
}

async fn apply(conn: &Conn, by: &str) -> Result<(i32, i32), StateError> {
    let c = &conn.client;
    // The lock comes before CREATE … IF NOT EXISTS: concurrent ones can still collide.
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(conn.err("waiting for the migration lock"))?;
    c.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {SCHEMA};
         CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_version (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now(),
             applied_by text NOT NULL);
         SET LOCAL search_path = {SCHEMA};"
    ))
    .await
    .map_err(conn.err("creating the schema"))?;
    let before = current(conn).await?;
    check_known(before)?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > before) {
        c.batch_execute(sql)
            .await
            .map_err(conn.err(format!("applying migration {version:04} {name}")))?;
        c.execute(
            "INSERT INTO schema_version (version, name, applied_by) VALUES ($1, $2, $3)",
            &[version, name, &by],
        )
        .await
        .map_err(conn.err(format!("recording migration {version:04}")))?;
    }
    Ok((before, newest().max(before)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps_and_match_their_files() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        assert_eq!(files.len(), MIGRATIONS.len(), "{files:?}");
        for (i, ((version, name, sql), file)) in MIGRATIONS.iter().zip(&files).enumerate() {
            assert_eq!(*version, i as i32 + 1);
            assert_eq!(file, &format!("{version:04}_{name}.sql"));
            let on_disk = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
            assert_eq!(&on_disk, sql);
        }
        assert!(check_known(newest()).is_ok());
        let err = check_known(newest() + 1).unwrap_err().to_string();
        assert!(err.contains("upgrade it"), "{err}");
    }
}
