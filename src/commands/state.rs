//! `zavu-script state migrate|status`: bring the state database's schema up to date, or
//! show the backend, its schema version, the replicas and their heartbeats, the leases and
//! the cron jobs' progress (`--json` for the same as one JSON document). With no
//! `--state-url` the state is SQLite under the state directory and there is nothing to
//! migrate by hand.

use super::output;
use crate::config::{Config, StateAction};
use crate::error::Error;
use crate::state::postgres::{self, migrate};
use crate::state::{Backend, replica, status};
use tokio::runtime::Runtime;

pub fn execute(config: &Config, runtime: &Runtime, action: &StateAction) -> Result<(), Error> {
    match action {
        StateAction::Migrate => runtime.block_on(run_migrate(config)),
        StateAction::Status => {
            let status = runtime.block_on(status::gather(&config.state))?;
            if config.json {
                let value = serde_json::to_value(&status)
                    .map_err(|e| Error::Usage(format!("cannot show the status as JSON: {e}")))?;
                output::json_pretty(&value);
            } else {
                for line in status.lines() {
                    println!("{line}");
                }
            }
            Ok(())
        }
    }
}

async fn run_migrate(config: &Config) -> Result<(), Error> {
    let target = match &config.state {
        Backend::Sqlite { dir } => {
            println!(
                "state is SQLite and files in {}: each file migrates itself when opened; \
                 nothing to do (set --state-url or ZAVU_STATE_URL for PostgreSQL)",
                dir.display()
            );
            return Ok(());
        }
        Backend::Postgres(target) => target,
    };
    let conn = postgres::connect(target, "state migrate").await?;
    let by = format!("{} (process {})", replica::hostname(), std::process::id());
    let (before, after) = migrate::migrate(&conn, &by).await?;
    if before == after {
        println!("{target}: schema already at version {after}");
    } else {
        println!("{target}: schema migrated from version {before} to {after}");
    }
    Ok(())
}
