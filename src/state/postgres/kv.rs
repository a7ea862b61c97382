//! `store::` entries in the state database, so a job that remembers something on one
//! replica finds it on the others. One lazily opened connection per store (a script that
//! never calls `store::` never connects), the schema brought up to date on first use,
//! and each write its own autocommitted statement, as with SQLite. Values are JSON text,
//! stored and returned as given.

use super::connect::{Conn, connect};
use super::migrate;
use crate::state::backend::PgTarget;
use crate::state::error::StateError;
use tokio::sync::Mutex;

pub struct PgKv {
    target: PgTarget,
    conn: Mutex<Option<Conn>>,
}

impl PgKv {
    pub fn new(target: PgTarget) -> PgKv {
        PgKv {
            target,
            conn: Mutex::new(None),
        }
    }

    async fn conn(&self) -> Result<Conn, StateError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref()
            && !c.client.is_closed()
        {
            return Ok(c.clone());
        }
        let c = connect(&self.target, "store").await?;
        let by = format!(
            "{} (process {})",
            crate::state::replica::hostname(),
            std::process::id()
        );
        migrate::migrate(&c, &by).await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    pub async fn get(&self, scope: &str, key: &str) -> Result<Option<String>, StateError> {
        let c = self.conn().await?;
        let row = c
            .client
            .query_opt(
                "SELECT value FROM store WHERE scope = $1 AND key = $2",
                &[&scope, &key],
            )
            .await
            .map_err(c.err("reading the store"))?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn set(
        &self,
        scope: &str,
        key: &str,
        value: &str,
        updated_at: &str,
    ) -> Result<(), StateError> {
        let c = self.conn().await?;
        c.client
            .execute(
                "INSERT INTO store (scope, key, value, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value,
                                                        updated_at = excluded.updated_at",
                &[&scope, &key, &value, &updated_at],
            )
            .await
            .map_err(c.err("writing the store"))?;
        Ok(())
    }

    pub async fn has(&self, scope: &str, key: &str) -> Result<bool, StateError> {
        Ok(self.get(scope, key).await?.is_some())
    }

    pub async fn remove(&self, scope: &str, key: &str) -> Result<bool, StateError> {
        let c = self.conn().await?;
        let n = c
            .client
            .execute(
                "DELETE FROM store WHERE scope = $1 AND key = $2",
                &[&scope, &key],
            )
            .await
            .map_err(c.err("removing from the store"))?;
        Ok(n > 0)
    }
}
