//! Campaign locks on PostgreSQL as the server sees them: the advisory-lock key that names
//! a campaign (one definition, used by the runner that takes the lock and by `state
//! status` that reports it) and the locks held right now, read from `pg_locks` and
//! `pg_stat_activity` — so a runner that died shows nothing, whatever its last run record
//! says. Reads the campaign tables with plain SQL; it must not import the campaign layer
//! (it sits below it) and never takes or releases a lock itself.

use super::connect::Conn;
use crate::state::error::StateError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The advisory-lock key of a campaign: the first 8 bytes of a hash of what names it,
/// computed here so it does not depend on the server's internal hash functions.
pub fn key(target: &str, key_fp: &str, name: &str) -> i64 {
    let digest = Sha256::digest(format!("campaign\n{target}\n{key_fp}\n{name}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// A campaign whose lock a live session holds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldLock {
    pub campaign: String,
    /// The API base URL the campaign sends to.
    pub target: String,
    /// The holder's host and process, from its connection's application name.
    pub host: Option<String>,
    pub process: Option<u32>,
    /// The holder's application name when it does not have the usual shape.
    pub application: Option<String>,
    /// Since when: the holder's current run's start, else when its connection opened.
    pub since: Option<DateTime<Utc>>,
    /// The server process of the holding session (for `pg_terminate_backend`).
    pub server_pid: i32,
    pub client_addr: Option<String>,
}

/// The campaign locks held now in this database, by campaign name.
pub async fn held(conn: &Conn) -> Result<Vec<HeldLock>, StateError> {
    // A bigint advisory key shows as classid (high half), objid (low half), objsubid 1.
    let locks = conn
        .client
        .query(
            "SELECT (l.classid::bigint << 32) | l.objid::bigint, l.pid,
                    a.application_name, a.backend_start, host(a.client_addr)
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .map_err(conn.err("reading the advisory locks held"))?;
    if locks.is_empty() {
        return Ok(vec![]);
    }
    let campaigns = conn
        .client
        .query(
            "SELECT c.target, c.key_fp, c.name, r.host, r.pid, r.started_at_ms
             FROM campaigns c LEFT JOIN LATERAL (
                 SELECT host, pid, started_at_ms FROM campaign_runs
                 WHERE campaign_id = c.id AND outcome = 'running'
                 ORDER BY id DESC LIMIT 1) r ON true",
            &[],
        )
        .await
        .map_err(conn.err("reading the campaigns"))?;
    let mut out = vec![];
    for c in &campaigns {
        let (target, key_fp, name): (String, String, String) = (c.get(0), c.get(1), c.get(2));
        let k = key(&target, &key_fp, &name);
        let Some(lock) = locks.iter().find(|l| l.get::<_, i64>(0) == k) else {
            continue;
        };
        let app: Option<String> = lock.get(2);
        let backend_start: Option<DateTime<Utc>> = lock.get(3);
        let who = app.as_deref().and_then(parse_application_name);
        let (host, process) = match &who {
            Some((_, h, p)) => (Some(h.clone()), Some(*p)),
            None => (None, None),
        };
        // The running run is the holder's only when it was recorded by the same process:
        // a killed runner's record says `running` too, and must not lend its start time.
        let run_host: Option<String> = c.get(3);
        let run_pid: Option<i32> = c.get(4);
        let run_start: Option<i64> = c.get(5);
        let since = match (&host, process, run_host, run_pid, run_start) {
            (Some(h), Some(p), Some(rh), Some(rp), Some(ms)) if *h == rh && p as i32 == rp => {
                DateTime::from_timestamp_millis(ms).or(backend_start)
            }
            _ => backend_start,
        };
        out.push(HeldLock {
            campaign: name,
            target,
            application: if who.is_none() { app } else { None },
            host,
            process,
            since,
            server_pid: lock.get(1),
            client_addr: lock.get(4),
        });
    }
    out.sort_by(|a, b| (&a.campaign, &a.target).cmp(&(&b.campaign, &b.target)));
    Ok(out)
}

/// ("campaign", "host-a", 4242) from "zavu-script campaign on host-a (process 4242)", the
/// shape [`super::connect`] gives every connection.
pub fn parse_application_name(app: &str) -> Option<(String, String, u32)> {
    let rest = app.strip_prefix("zavu-script ")?;
    let (role, rest) = rest.split_once(" on ")?;
    let (host, rest) = rest.rsplit_once(" (process ")?;
    let pid = rest.strip_suffix(')')?.parse().ok()?;
    Some((role.to_string(), host.to_string(), pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_names_give_host_and_process() {
        assert_eq!(
            parse_application_name("zavu-script campaign on host-a (process 4242)"),
            Some(("campaign".into(), "host-a".into(), 4242))
        );
        assert_eq!(
            parse_application_name("zavu-script state status on h (process 1)"),
            Some(("state status".into(), "h".into(), 1))
        );
        assert_eq!(parse_application_name("psql"), None);
        assert_eq!(
            parse_application_name("zavu-script campaign on h (process x)"),
            None
        );
    }

    #[test]
    fn each_campaign_has_its_own_key() {
        assert_ne!(key("t", "fp", "spring"), key("t", "fp", "autumn"));
        assert_ne!(key("t", "fp", "spring"), key("u", "fp", "spring"));
        assert_eq!(key("t", "fp", "spring"), key("t", "fp", "spring"));
    }
}
