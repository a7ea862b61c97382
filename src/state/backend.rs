//! The state setting, parsed: SQLite and files under the state directory (no URL), or a
//! PostgreSQL database (`postgres://` or `postgresql://`). The URL may carry a password;
//! like the API key it is never shown: [`PgTarget`]'s `Display` and `Debug` replace it
//! with `***`, and that redacted form is the only one messages and logs ever get.
//!
//! Parsing only: connecting is [`super::postgres::connect`]'s job.

use super::error::StateError;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where the shared state lives.
#[derive(Clone, Debug)]
pub enum Backend {
    /// SQLite databases and files in this directory (the default).
    Sqlite {
        dir: PathBuf,
    },
    Postgres(PgTarget),
}

impl Backend {
    /// The setting as given: `None` (or blank) means SQLite in `state_dir`.
    pub fn from_setting(url: Option<&str>, state_dir: PathBuf) -> Result<Backend, StateError> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(Backend::Sqlite { dir: state_dir }),
            Some(u) => PgTarget::parse(u).map(Backend::Postgres),
        }
    }

    /// The PostgreSQL database, if that is where state lives.
    pub fn postgres(&self) -> Option<PgTarget> {
        match self {
            Backend::Postgres(t) => Some(t.clone()),
            Backend::Sqlite { .. } => None,
        }
    }

    /// One line for people: the redacted URL, or the directory.
    pub fn describe(&self) -> String {
        match self {
            Backend::Sqlite { dir } => format!("SQLite and files in {}", dir.display()),
            Backend::Postgres(t) => format!("PostgreSQL at {t}"),
        }
    }
}

/// A PostgreSQL database to connect to, with the password kept out of sight, and how long
/// the locks its sessions hold outlive a holder that went silent.
#[derive(Clone)]
pub struct PgTarget {
    config: Box<tokio_postgres::Config>,
    redacted: String,
    lease: Duration,
}

impl PgTarget {
    pub fn parse(raw: &str) -> Result<PgTarget, StateError> {
        let setting = |m: String| StateError::Setting(m);
        let url = ::url::Url::parse(raw).map_err(|e| {
            setting(format!(
                "not a URL ({e}); expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            ))
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(setting(format!(
                "the scheme is `{}:`; the state database must be postgres:// or \
                 postgresql:// (leave the setting unset to keep state in the state directory)",
                url.scheme()
            )));
        }
        let mut shown = url.clone();
        if shown.password().is_some() {
            // Setting a password only fails on URLs that cannot have one, which this has.
            let _ = shown.set_password(Some("***"));
        }
        let redacted = shown.to_string();
        let config: tokio_postgres::Config = raw
            .parse()
            .map_err(|e| setting(format!("{redacted}: {e}")))?;
        if config.get_hosts().is_empty() {
            return Err(setting(format!("{redacted}: no host")));
        }
        Ok(PgTarget {
            config: Box::new(config),
            redacted,
            lease: super::replica::DEFAULT_TTL,
        })
    }

    /// How long a session that holds a lock outlives its process once that process stops
    /// talking (frozen, cut off, its machine dead): see `postgres::connect::connect_holding`.
    pub fn with_lease(mut self, lease: Duration) -> PgTarget {
        self.lease = lease;
        self
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The connection settings, to be adjusted per connection (application name, options).
    pub fn config(&self) -> tokio_postgres::Config {
        let mut c = (*self.config).clone();
        if c.get_connect_timeout().is_none() {
            c.connect_timeout(Duration::from_secs(10));
        }
        c
    }
}

/// Refuses a lease too short to renew (`--lease-ttl` on `cron` and `run`).
pub fn check_lease_ttl(ttl: Duration) -> Result<(), String> {
    if ttl < Duration::from_millis(300) {
        return Err(format!(
            "--lease-ttl {}ms: too short to renew; use at least 300ms",
            ttl.as_millis()
        ));
    }
    Ok(())
}

impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgTarget({})", self.redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_url_is_the_state_directory() {
        let b = Backend::from_setting(None, "/s".into()).unwrap();
        assert!(matches!(b, Backend::Sqlite { .. }));
        let b = Backend::from_setting(Some("  "), "/s".into()).unwrap();
        assert_eq!(b.describe(), "SQLite and files in /s");
    }

    #[test]
    fn the_password_never_shows() {
        let b = Backend::from_setting(
            Some("postgres://zavu:s3cr3t-pw@db.internal:5433/zavu"),
            "/s".into(),
        )
        .unwrap();
        let shown = format!("{} {:?}", b.describe(), b);
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(
            shown.contains("postgres://zavu:***@db.internal:5433/zavu"),
            "{shown}"
        );
        let Backend::Postgres(t) = b else { panic!() };
        assert_eq!(t.config().get_password(), Some(&b"s3cr3t-pw"[..]));

        let err = PgTarget::parse("postgres://u:s3cr3t-pw@h/db?bogus=1").unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("s3cr3t-pw") && msg.contains("bogus"), "{msg}");
    }

    #[test]
    fn other_schemes_are_refused_by_name() {
        let err = PgTarget::parse("mysql://h/db").unwrap_err().to_string();
        assert!(
            err.contains("`mysql:`") && err.contains("postgres://"),
            "{err}"
        );
        let err = PgTarget::parse("not a url").unwrap_err().to_string();
        assert!(
            err.starts_with("--state-url / ZAVU_STATE_URL: not a URL"),
            "{err}"
        );
    }
}
