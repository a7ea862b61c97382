//! What `zavu-script state status` shows, gathered in one place: the backend (the URL
//! redacted), the schema version against the newest this binary knows, the replicas seen
//! with their last heartbeat, who holds which lease (cron runs, and the webhook events
//! `listen` replicas are handling), which campaigns are running where
//! (their live locks), and each cron job's progress. Data
//! only, with a plain-text rendering; the front door prints it (or its JSON).

use super::backend::{Backend, PgTarget};
use super::error::StateError;
use super::postgres::campaign_locks::{self, HeldLock};
use super::postgres::connect::{Conn, connect};
use super::postgres::migrate;
use super::replica;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub backend: String,
    /// `None` for SQLite, whose files migrate themselves when opened.
    pub schema: Option<Schema>,
    pub replicas: Vec<ReplicaRow>,
    pub fires: Vec<FireRow>,
    /// Webhook events a `listen` replica is handling now, under its lease.
    pub inbox_claims: Vec<ClaimRow>,
    pub jobs: Vec<JobRow>,
    /// Campaigns whose lock a live session holds: running now, and where.
    pub campaign_locks: Vec<HeldLock>,
    /// Things a person should look at (replicas disagreeing about a crontab, …).
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub version: i32,
    pub newest_known: i32,
    pub pending: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaRow {
    pub id: String,
    pub kind: String,
    pub host: String,
    pub pid: i32,
    pub version: String,
    pub crontab: Option<String>,
    pub digest: Option<String>,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub seen_seconds_ago: f64,
    pub stopped_at: Option<DateTime<Utc>>,
    /// The replica's own lease (`--lease-ttl`); the default for a replica too old to say.
    pub lease_seconds: f64,
    /// Not stopped, and silent for longer than its lease lasts.
    pub stale: bool,
}

/// A claimed due time that is running (holding a lease) or waiting.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FireRow {
    pub crontab: String,
    pub job: String,
    pub slot: DateTime<Utc>,
    pub state: String,
    pub replica: String,
    pub run: Option<i64>,
    pub started_at: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    /// Seconds until the lease runs out (negative: already expired, not yet reaped).
    pub lease_expires_in: Option<f64>,
}

/// A webhook event claimed by a `listen` replica.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRow {
    pub event_id: String,
    pub invitation_id: String,
    pub replica: Option<String>,
    pub attempt: i64,
    /// Seconds until the lease runs out (negative: expired, the event is claimable again).
    pub lease_expires_in: Option<f64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRow {
    pub crontab: String,
    pub job: String,
    pub handled_until: DateTime<Utc>,
    pub last_slot: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
}

/// Gathers the status of `backend` (inside a tokio runtime).
pub async fn gather(backend: &Backend) -> Result<Status, StateError> {
    match backend {
        Backend::Sqlite { .. } => Ok(Status {
            backend: backend.describe(),
            schema: None,
            replicas: vec![],
            fires: vec![],
            inbox_claims: vec![],
            jobs: vec![],
            campaign_locks: vec![],
            warnings: vec![],
        }),
        Backend::Postgres(target) => gather_postgres(backend, target).await,
    }
}

async fn gather_postgres(backend: &Backend, target: &PgTarget) -> Result<Status, StateError> {
    let conn = connect(target, "state status").await?;
    let version = migrate::current(&conn).await?;
    let pending = migrate::MIGRATIONS
        .iter()
        .filter(|m| m.0 > version)
        .map(|m| format!("{:04}_{}", m.0, m.1))
        .collect();
    let mut status = Status {
        backend: backend.describe(),
        schema: Some(Schema {
            version,
            newest_known: migrate::newest(),
            pending,
        }),
        replicas: vec![],
        fires: vec![],
        inbox_claims: vec![],
        jobs: vec![],
        campaign_locks: vec![],
        warnings: vec![],
    };
    if version == 0 {
        status
            .warnings
            .push("the schema is not there yet: run `zavu-script state migrate`".into());
        return Ok(status);
    }
    if let Err(e) = migrate::check_known(version) {
        status.warnings.push(e.to_string());
    }
    status.replicas = replicas(&conn, version).await?;
    status.fires = fires(&conn).await?;
    if version >= 5 {
        status.inbox_claims = inbox_claims(&conn).await?;
    }
    status.jobs = jobs(&conn).await?;
    status.campaign_locks = campaign_locks::held(&conn).await?;
    status
        .warnings
        .extend(crontab_disagreements(&status.replicas));
    Ok(status)
}

async fn replicas(conn: &Conn, version: i32) -> Result<Vec<ReplicaRow>, StateError> {
    // Each replica by its own lease; one that did not record it (an older version), by
    // the default (so too before migration 6, which added the column).
    let default_ms = replica::DEFAULT_TTL.as_millis() as i64;
    let lease = if version >= 6 { "lease_ttl_ms" } else { "NULL" };
    let rows = conn
        .client
        .query(
            &format!(
                "SELECT id, kind, host, pid, version, crontab, digest, started_at, last_seen,
                        extract(epoch FROM now() - last_seen)::float8, stopped_at,
                        coalesce({lease}, $1::int8)
                 FROM replicas
                 WHERE stopped_at IS NULL OR stopped_at > now() - interval '1 day'
                 ORDER BY kind, started_at"
            ),
            &[&default_ms],
        )
        .await
        .map_err(conn.err("reading replicas"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let ago: f64 = r.get(9);
            let stopped_at: Option<DateTime<Utc>> = r.get(10);
            let lease_ms: i64 = r.get(11);
            ReplicaRow {
                id: r.get(0),
                kind: r.get(1),
                host: r.get(2),
                pid: r.get(3),
                version: r.get(4),
                crontab: r.get(5),
                digest: r.get(6),
                started_at: r.get(7),
                last_seen: r.get(8),
                seen_seconds_ago: ago,
                lease_seconds: lease_ms as f64 / 1000.0,
                stale: stopped_at.is_none() && ago > lease_ms as f64 / 1000.0,
                stopped_at,
            }
        })
        .collect())
}

async fn fires(conn: &Conn) -> Result<Vec<FireRow>, StateError> {
    let rows = conn
        .client
        .query(
            "SELECT crontab, job, slot, state, replica, run_no, started_at, deadline,
                    extract(epoch FROM lease_until - now())::float8
             FROM cron_fires WHERE state IN ('running', 'queued')
             ORDER BY crontab, job, slot",
            &[],
        )
        .await
        .map_err(conn.err("reading leases"))?;
    Ok(rows
        .iter()
        .map(|r| FireRow {
            crontab: r.get(0),
            job: r.get(1),
            slot: r.get(2),
            state: r.get(3),
            replica: r.get(4),
            run: r.get(5),
            started_at: r.get(6),
            deadline: r.get(7),
            lease_expires_in: r.get(8),
        })
        .collect())
}

async fn inbox_claims(conn: &Conn) -> Result<Vec<ClaimRow>, StateError> {
    let rows = conn
        .client
        .query(
            "SELECT event_id, invitation_id, owner, attempts,
                    extract(epoch FROM lease_until - now())::float8
             FROM inbox_events WHERE state = 'running' ORDER BY lease_until",
            &[],
        )
        .await
        .map_err(conn.err("reading the webhook events being handled"))?;
    Ok(rows
        .iter()
        .map(|r| ClaimRow {
            event_id: r.get(0),
            invitation_id: r.get(1),
            replica: r.get(2),
            attempt: r.get(3),
            lease_expires_in: r.get(4),
        })
        .collect())
}

async fn jobs(conn: &Conn) -> Result<Vec<JobRow>, StateError> {
    let rows = conn
        .client
        .query(
            "SELECT crontab, job, handled_until, last_slot, last_outcome
             FROM cron_jobs ORDER BY crontab, job",
            &[],
        )
        .await
        .map_err(conn.err("reading cron jobs"))?;
    Ok(rows
        .iter()
        .map(|r| JobRow {
            crontab: r.get(0),
            job: r.get(1),
            handled_until: r.get(2),
            last_slot: r.get(3),
            last_outcome: r.get(4),
        })
        .collect())
}

/// Live cron replicas running the same crontab name with different text.
fn crontab_disagreements(replicas: &[ReplicaRow]) -> Vec<String> {
    let mut out = vec![];
    let live: Vec<&ReplicaRow> = replicas
        .iter()
        .filter(|r| r.stopped_at.is_none() && !r.stale)
        .collect();
    for (i, a) in live.iter().enumerate() {
        for b in &live[i + 1..] {
            if a.crontab.is_some() && a.crontab == b.crontab && a.digest != b.digest {
                out.push(format!(
                    "replicas {} and {} run crontab '{}' with different contents",
                    a.id,
                    b.id,
                    a.crontab.as_deref().unwrap_or_default()
                ));
            }
        }
    }
    out
}

/// ", lease expires in 12.3s", or that it has run out.
fn lease(expires_in: Option<f64>) -> String {
    match expires_in {
        Some(s) if s >= 0.0 => format!(", lease expires in {s:.1}s"),
        Some(s) => format!(", lease EXPIRED {:.1}s ago", -s),
        None => String::new(),
    }
}

/// "30s", "2.5s".
fn seconds(s: f64) -> String {
    format!("{}s", (s * 10.0).round() / 10.0)
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Status {
    /// The status as lines for a terminal.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("backend: {}", self.backend)];
        match &self.schema {
            None => out.push("schema: each SQLite file migrates itself when opened".into()),
            Some(s) if s.pending.is_empty() => out.push(format!(
                "schema: version {} (the newest this zavu-script knows)",
                s.version
            )),
            Some(s) => out.push(format!(
                "schema: version {}; this zavu-script knows up to {}; pending: {}",
                s.version,
                s.newest_known,
                s.pending.join(", ")
            )),
        }
        if self.schema.is_some() {
            out.push(format!("replicas: {}", self.replicas.len()));
            for r in &self.replicas {
                let state = match (r.stopped_at, r.stale) {
                    (Some(t), _) => format!("stopped at {}", time(t)),
                    (None, true) => format!(
                        "STALE: last heartbeat {:.0}s ago (lease {})",
                        r.seen_seconds_ago,
                        seconds(r.lease_seconds)
                    ),
                    (None, false) => format!("last heartbeat {:.1}s ago", r.seen_seconds_ago),
                };
                let crontab = match (&r.crontab, &r.digest) {
                    (Some(c), Some(d)) => format!(", crontab {c} ({})", &d[..d.len().min(12)]),
                    _ => String::new(),
                };
                out.push(format!(
                    "  {} {} on {} (process {}), v{}, started {}{crontab}: {state}",
                    r.kind,
                    r.id,
                    r.host,
                    r.pid,
                    r.version,
                    time(r.started_at)
                ));
            }
            out.push(format!("leases: {}", self.fires.len()));
            for f in &self.fires {
                let lease = lease(f.lease_expires_in);
                let deadline = f
                    .deadline
                    .map(|d| format!(", deadline {}", time(d)))
                    .unwrap_or_default();
                out.push(format!(
                    "  {}/{} slot {} {} on {}{}{deadline}{lease}",
                    f.crontab,
                    f.job,
                    time(f.slot),
                    f.state,
                    f.replica,
                    f.run.map(|r| format!(" run {r}")).unwrap_or_default(),
                ));
            }
            out.push(format!(
                "webhook events being handled: {}",
                self.inbox_claims.len()
            ));
            for c in &self.inbox_claims {
                out.push(format!(
                    "  {} ({}) attempt {} on {}{}",
                    c.event_id,
                    c.invitation_id,
                    c.attempt,
                    c.replica.as_deref().unwrap_or("?"),
                    lease(c.lease_expires_in)
                ));
            }
            out.push(format!("jobs: {}", self.jobs.len()));
            for j in &self.jobs {
                out.push(format!(
                    "  {}/{}: handled until {}{}",
                    j.crontab,
                    j.job,
                    time(j.handled_until),
                    j.last_outcome
                        .as_ref()
                        .map(|o| format!(", last run {o}"))
                        .unwrap_or_default()
                ));
            }
            out.push(format!("campaign locks: {}", self.campaign_locks.len()));
            for l in &self.campaign_locks {
                out.push(format!("  {}", lock_line(l)));
            }
        }
        for w in &self.warnings {
            out.push(format!("warning: {w}"));
        }
        out
    }
}

/// "spring (https://api…) held on host-a (process 4242) since …, server process 77".
fn lock_line(l: &HeldLock) -> String {
    let who = match (&l.host, l.process, &l.application) {
        (Some(h), Some(p), _) => format!("on {h} (process {p})"),
        (_, _, Some(a)) => format!("by {a}"),
        _ => "by an unnamed session".into(),
    };
    let from = l
        .client_addr
        .as_ref()
        .map(|a| format!(" from {a}"))
        .unwrap_or_default();
    let since = l
        .since
        .map(|t| format!(" since {}", time(t)))
        .unwrap_or_default();
    format!(
        "{} ({}) held {who}{from}{since}, server process {}",
        l.campaign, l.target, l.server_pid
    )
}
