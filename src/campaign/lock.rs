//! One runner per campaign at a time — two runs could otherwise both see a row as unsent
//! and both invite the client. Where the journal is, the lock is:
//!
//! - **SQLite (one machine):** an exclusive lock on a file in the state directory, held for
//!   the whole run and released by the operating system even if the process is killed.
//! - **PostgreSQL (several machines):** a session advisory lock, taken on the journal's own
//!   dedicated connection. Every journal write of the run goes over that connection, so a
//!   committed write proves the lock was still held (fencing by construction); if the
//!   connection is lost the next write fails and the run halts, and the lock is gone with
//!   the session — a killed runner's at once (the server sees the socket close), a frozen or
//!   cut-off machine's when the server's TCP keepalives give up on it. Rows it left in
//!   flight stay `sending` and are reconciled by the next run. A second runner is refused
//!   with who holds the campaign (host, process) and since when, read from the server's own
//!   lock table. Session locks need a session of their own: reach the database directly or
//!   through a session-mode pooler, never a transaction-mode one.

use super::journal::Journal;
use crate::files::{LockError, LockFile, lock_exclusive};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Held for as long as the run (or clean-up) lasts.
pub enum CampaignLock {
    File(LockFile),
    /// Held by the journal's session: released when the journal's connection closes.
    Session,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum Refused {
    /// Another runner holds it; who, as far as can be told.
    Busy(String),
    /// The lock could not even be asked for (a file or the database failed).
    Failed(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Busy(m) | Refused::Failed(m) => f.write_str(m),
        }
    }
}

fn refusal(name: &str, holder: &str) -> Refused {
    Refused::Busy(format!(
        "campaign '{name}' is already running{holder} — wait for it to finish, or stop it \
         first (with --wait this run waits and takes over when it ends)"
    ))
}

impl CampaignLock {
    /// Takes the file lock for (target, key fingerprint, name), or says who holds it.
    pub fn acquire(
        state_dir: &Path,
        target: &str,
        key_fp: &str,
        name: &str,
    ) -> Result<CampaignLock, Refused> {
        let dir = state_dir.join("locks");
        crate::files::create_private_dir(&dir)
            .map_err(|e| Refused::Failed(format!("cannot create {}: {e}", dir.display())))?;
        let id =
            hex::encode(&Sha256::digest(format!("{target}\n{key_fp}\n{name}").as_bytes())[..12]);
        let path = dir.join(format!("campaign-{id}.lock"));
        match lock_exclusive(&path) {
            Ok(file) => Ok(CampaignLock::File(file)),
            Err(LockError::Held { pid }) => Err(refusal(
                name,
                &pid.map(|p| format!(" (process {p})")).unwrap_or_default(),
            )),
            Err(e) => Err(Refused::Failed(e.to_string())),
        }
    }

    /// Takes the campaign's lock where its journal is: the state directory's file, or a
    /// session lock on the state database's connection the journal writes through.
    pub async fn acquire_for(
        journal: &Journal,
        state_dir: &Path,
        target: &str,
        key_fp: &str,
        name: &str,
    ) -> Result<CampaignLock, Refused> {
        let pg = match journal {
            Journal::Sqlite(_) => return CampaignLock::acquire(state_dir, target, key_fp, name),
            Journal::Postgres(pg) => pg,
        };
        let conn = pg.conn();
        let key = session_key(target, key_fp, name);
        let fail = |doing: &str, e: tokio_postgres::Error| {
            Refused::Failed(crate::state::StateError::postgres(&conn.at, doing, &e).to_string())
        };
        let got: bool = conn
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(|e| fail("taking the campaign's lock", e))?
            .get(0);
        if got {
            return Ok(CampaignLock::Session);
        }
        // The holder as the server knows it: a bigint key shows as classid (high half),
        // objid (low half) and objsubid 1.
        let holder = conn
            .client
            .query_opt(
                "SELECT a.application_name, a.backend_start
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.classid = $1 AND l.objid = $2
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 LIMIT 1",
                &[&((key >> 32) as u32), &(key as u32)],
            )
            .await
            .map_err(|e| fail("reading who holds the campaign's lock", e))?;
        let holder = match holder {
            Some(row) => describe_holder(
                row.get::<_, Option<String>>(0).as_deref(),
                row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(1),
            ),
            None => String::new(),
        };
        Err(refusal(name, &holder))
    }
}

/// The advisory-lock key of a campaign (defined in the state layer, which also reports
/// who holds it).
pub fn session_key(target: &str, key_fp: &str, name: &str) -> i64 {
    crate::state::postgres::campaign_locks::key(target, key_fp, name)
}

/// " on host-a (process 4242), since 2026-12-03 09:01:02 UTC" from the holder's
/// connection (its application name says where it runs: see `state::postgres::connect`).
fn describe_holder(app: Option<&str>, since: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let who = match app.unwrap_or_default() {
        a if a.starts_with("zavu-script campaign on ") => {
            format!(" {}", a.trim_start_matches("zavu-script campaign "))
        }
        "" => String::new(),
        a => format!(" by {a}"),
    };
    let since = since
        .map(|t| format!(", since {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
        .unwrap_or_default();
    format!("{who}{since}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_runner_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = CampaignLock::acquire(dir.path(), "t", "fp", "spring").unwrap();
        let err = CampaignLock::acquire(dir.path(), "t", "fp", "spring")
            .err()
            .unwrap();
        assert!(
            matches!(&err, Refused::Busy(m) if m.contains("already running")),
            "{err}"
        );
        assert!(CampaignLock::acquire(dir.path(), "t", "fp", "autumn").is_ok());
        drop(first);
        assert!(CampaignLock::acquire(dir.path(), "t", "fp", "spring").is_ok());
    }

    #[test]
    fn the_holder_is_named_by_host_process_and_time() {
        let since = chrono::DateTime::from_timestamp(1_796_202_062, 0);
        let shown = describe_holder(Some("zavu-script campaign on host-a (process 4242)"), since);
        assert_eq!(
            shown,
            " on host-a (process 4242), since 2026-12-02 09:01:02 UTC"
        );
        assert_eq!(describe_holder(None, None), "");
        assert_ne!(
            session_key("t", "fp", "spring"),
            session_key("t", "fp", "autumn")
        );
    }
}
