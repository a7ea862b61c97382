//! Who this process is to the other replicas sharing a state database: an id, its kind
//! (`cron`, `listen`, `campaign`), host, process id and version, registered in `replicas`
//! and kept fresh by a heartbeat. The heartbeat is also what keeps this replica's leases
//! alive, so it renews them in the same statement.

use super::error::StateError;
use super::postgres::connect::Conn;

/// This host's name, for ids, `application_name` and status lines.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and we read only up to the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// This process as a replica.
#[derive(Clone, Debug)]
pub struct Replica {
    pub id: String,
    pub kind: &'static str,
    pub host: String,
    pub pid: u32,
    /// For cron: the crontab's shared name and the sha256 of its text, so replicas that
    /// disagree about the crontab show up in `state status`.
    pub crontab: Option<(String, String)>,
    /// How long its leases (and its claim to be alive) last without a heartbeat: what
    /// `state status` judges it by.
    pub ttl: std::time::Duration,
}

impl Replica {
    pub fn new(
        kind: &'static str,
        crontab: Option<(String, String)>,
        ttl: std::time::Duration,
    ) -> Replica {
        let host = hostname();
        let pid = std::process::id();
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        // Two replicas of one process (tests, or an inbox beside a scheduler) stay apart.
        static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let again = if n == 0 {
            String::new()
        } else {
            format!(".{n}")
        };
        Replica {
            id: format!("{host}:{pid}:{:x}{again}", nonce & 0xffff_ffff),
            kind,
            host,
            pid,
            crontab,
            ttl,
        }
    }

    /// Registers (or re-registers) this replica.
    pub async fn register(&self, conn: &Conn) -> Result<(), StateError> {
        let (crontab, digest) = match &self.crontab {
            Some((c, d)) => (Some(c.as_str()), Some(d.as_str())),
            None => (None, None),
        };
        conn.client
            .execute(
                "INSERT INTO replicas (id, kind, host, pid, version, crontab, digest, lease_ttl_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET last_seen = now(), stopped_at = NULL,
                   lease_ttl_ms = excluded.lease_ttl_ms",
                &[
                    &self.id,
                    &self.kind,
                    &self.host,
                    &(self.pid as i32),
                    &env!("CARGO_PKG_VERSION"),
                    &crontab,
                    &digest,
                    &(self.ttl.as_millis() as i64),
                ],
            )
            .await
            .map_err(conn.err("registering this replica"))?;
        Ok(())
    }

    /// "Still here": bumps last_seen and renews this replica's running leases until
    /// `now() + ttl`. Returns the number of leases renewed.
    pub async fn heartbeat(
        &self,
        conn: &Conn,
        ttl: std::time::Duration,
    ) -> Result<u64, StateError> {
        let row = conn
            .client
            .query_one(
                "WITH me AS (UPDATE replicas SET last_seen = now() WHERE id = $1),
                      renewed AS (
                        UPDATE cron_fires SET lease_until = now() + make_interval(secs => $2)
                        WHERE replica = $1 AND state = 'running' RETURNING 1)
                 SELECT count(*) FROM renewed",
                &[&self.id, &ttl.as_secs_f64()],
            )
            .await
            .map_err(conn.err("heartbeat"))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// A clean exit: marks the replica stopped, so status does not call it missing.
    pub async fn stopped(&self, conn: &Conn) -> Result<(), StateError> {
        conn.client
            .execute(
                "UPDATE replicas SET stopped_at = now(), last_seen = now() WHERE id = $1",
                &[&self.id],
            )
            .await
            .map_err(conn.err("recording this replica's exit"))?;
        Ok(())
    }
}

/// How long a lease (and a replica's claim to be alive) lasts without a heartbeat.
pub const DEFAULT_TTL: std::time::Duration = std::time::Duration::from_secs(30);
