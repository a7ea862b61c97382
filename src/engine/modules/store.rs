//! `store::get(key)`, `store::set(key, value)`, `store::has(key)`, `store::remove(key)`:
//! what a script remembers between runs — which clients a daily follow-up already
//! welcomed — in an SQLite file in the state directory, readable only by its owner, or
//! with `--state-url` in the shared PostgreSQL database (`crate::state`), so every machine
//! sees the same entries.
//!
//! Values are anything JSON can hold (maps, arrays, strings, numbers, booleans, `()`).
//! Entries are kept per API target — base URL plus a fingerprint of the key, never the key
//! — so a run against a sandbox never sees what a live run remembered. Each `set` is its
//! own committed write, so runs on parallel threads or in other processes never lose each
//! other's entries. This module stores and fetches; what to remember is the script's call.

use crate::client::ClientOptions;
use crate::engine::bridge::Bridge;
use crate::engine::convert::{from_json, to_json};
use crate::state::backend::PgTarget;
use crate::state::postgres::kv::PgKv;
use rhai::{Dynamic, EvalAltResult, FuncRegistration, Module};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// The store's file inside the state directory.
pub const FILE_NAME: &str = "store.sqlite3";

const MAX_KEY_BYTES: usize = 512;

/// One script's view of the store: where it lives, whose entries it sees, and a connection
/// opened on first use (a script that never calls `store::` never touches the disk).
pub struct Store {
    dir: Option<PathBuf>,
    scope: String,
    conn: Mutex<Option<Connection>>,
    /// With a state database: the entries live there, reached through the script's bridge.
    shared: Option<(PgKv, Arc<Bridge>)>,
}

impl Store {
    pub fn new(dir: Option<PathBuf>, api: Option<&ClientOptions>) -> Store {
        let scope = match api {
            Some(t) => format!("{} {}", t.base_url, t.api_key.fingerprint()),
            None => String::new(),
        };
        Store {
            dir,
            scope,
            conn: Mutex::new(None),
            shared: None,
        }
    }

    /// The same store, kept in the state database.
    pub fn shared(mut self, target: &PgTarget, bridge: Arc<Bridge>) -> Store {
        self.shared = Some((PgKv::new(target.clone()), bridge));
        self
    }

    /// Runs `op` against the state database on the script's bridge (which gives up when
    /// the run is stopped); `None` when the store is the local file.
    fn remote(&self, call: &str, op: Op<'_>) -> Option<RhaiResult<Answer>> {
        let (kv, bridge) = self.shared.as_ref()?;
        let scope = self.scope.as_str();
        let work = async move {
            match op {
                Op::Get(k) => kv.get(scope, k).await.map(Answer::Value),
                Op::Set(k, v, at) => kv.set(scope, k, v, at).await.map(|_| Answer::Done),
                Op::Has(k) => kv.has(scope, k).await.map(Answer::Flag),
                Op::Remove(k) => kv.remove(scope, k).await.map(Answer::Flag),
            }
        };
        Some(match bridge.block_on(work) {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(format!("{call}: {e}").into()),
            Err(stopped) => Err(format!("{call}: {}", stopped.0).into()),
        })
    }

    fn with_conn<T>(
        &self,
        call: &str,
        f: impl FnOnce(&Connection, &str) -> rusqlite::Result<T>,
    ) -> RhaiResult<T> {
        let Some(dir) = &self.dir else {
            return Err(format!(
                "{call}: there is no state directory to keep the store in \
                 (pass --state-dir DIR or set ZAVU_SCRIPT_STATE_DIR)"
            )
            .into());
        };
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(open(dir).map_err(|e| format!("{call}: {e}"))?);
        }
        let Some(conn) = slot.as_ref() else {
            return Err(format!("{call}: the store is not open").into());
        };
        f(conn, &self.scope).map_err(|e| {
            format!(
                "{call}: the store at {} failed: {e}",
                dir.join(FILE_NAME).display()
            )
            .into()
        })
    }

    pub fn get(&self, key: &str) -> RhaiResult<Dynamic> {
        check_key("store::get", key)?;
        let text: Option<String> = if let Some(r) = self.remote("store::get", Op::Get(key)) {
            match r? {
                Answer::Value(v) => v,
                _ => None,
            }
        } else {
            self.with_conn("store::get", |c, scope| {
                c.query_row(
                    "SELECT value FROM store WHERE scope = ?1 AND key = ?2",
                    params![scope, key],
                    |row| row.get(0),
                )
                .optional()
            })?
        };
        match text {
            None => Ok(Dynamic::UNIT),
            Some(t) => serde_json::from_str(&t)
                .map(|v| from_json(&v))
                .map_err(|e| format!("store::get: the value of {key:?} is unreadable: {e}").into()),
        }
    }

    pub fn set(&self, key: &str, value: Dynamic) -> RhaiResult<()> {
        check_key("store::set", key)?;
        let json = to_json(&value).map_err(|e| format!("store::set: {key:?}: {e}"))?;
        let text = serde_json::to_string(&json).map_err(|e| format!("store::set: {e}"))?;
        let now = crate::api::Timestamp(chrono::Utc::now()).to_string();
        if let Some(r) = self.remote("store::set", Op::Set(key, &text, &now)) {
            return r.map(|_| ());
        }
        self.with_conn("store::set", |c, scope| {
            c.execute(
                "INSERT INTO store (scope, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value,
                                                        updated_at = excluded.updated_at",
                params![scope, key, text, now],
            )
            .map(|_| ())
        })
    }

    pub fn has(&self, key: &str) -> RhaiResult<bool> {
        check_key("store::has", key)?;
        if let Some(r) = self.remote("store::has", Op::Has(key)) {
            return r.map(|a| matches!(a, Answer::Flag(true)));
        }
        self.with_conn("store::has", |c, scope| {
            c.query_row(
                "SELECT 1 FROM store WHERE scope = ?1 AND key = ?2",
                params![scope, key],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
        })
    }

    pub fn remove(&self, key: &str) -> RhaiResult<bool> {
        check_key("store::remove", key)?;
        if let Some(r) = self.remote("store::remove", Op::Remove(key)) {
            return r.map(|a| matches!(a, Answer::Flag(true)));
        }
        self.with_conn("store::remove", |c, scope| {
            c.execute(
                "DELETE FROM store WHERE scope = ?1 AND key = ?2",
                params![scope, key],
            )
            .map(|n| n > 0)
        })
    }
}

/// One store call, for the state database.
enum Op<'a> {
    Get(&'a str),
    Set(&'a str, &'a str, &'a str),
    Has(&'a str),
    Remove(&'a str),
}

enum Answer {
    Value(Option<String>),
    Flag(bool),
    Done,
}

fn check_key(call: &str, key: &str) -> RhaiResult<()> {
    if key.is_empty() {
        return Err(format!("{call}: the key must not be empty").into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("{call}: keys are at most {MAX_KEY_BYTES} bytes").into());
    }
    Ok(())
}

/// Opens (creating it 0600 on first use) the store in `dir`.
fn open(dir: &Path) -> Result<Connection, String> {
    crate::files::create_private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(FILE_NAME);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let conn =
        Connection::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))
        .and_then(|_| conn.pragma_update(None, "journal_mode", "WAL"))
        .and_then(|_| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS store (
                     scope TEXT NOT NULL,
                     key TEXT NOT NULL,
                     value TEXT NOT NULL,
                     updated_at TEXT NOT NULL,
                     PRIMARY KEY (scope, key)
                 )",
            )
        })
        .map_err(|e| format!("cannot set up {}: {e}", path.display()))?;
    Ok(conn)
}

pub fn module(store: Arc<Store>) -> Module {
    let mut m = Module::new();
    let s = store.clone();
    FuncRegistration::new("get")
        .with_comments([
            "/// The value kept under `key` by an earlier `store::set`, or `()` if there is none.",
            "/// ```rhai",
            "/// let last = store::get(\"report/last-run\") ?? \"never\";",
            "/// ```",
        ])
        .with_params_info(["key: &str", "Dynamic"])
        .set_into_module(&mut m, move |key: &str| s.get(key));
    let s = store.clone();
    FuncRegistration::new("set")
        .with_comments([
            "/// Keeps `value` (anything JSON can hold) under `key`, for later runs.",
            "/// ```rhai",
            "/// store::set(\"welcome-\" + inv.id, #{ messageId: sent.message.id });",
            "/// ```",
        ])
        .with_params_info(["key: &str", "value: Dynamic", "()"])
        .set_into_module(&mut m, move |key: &str, value: Dynamic| s.set(key, value));
    let s = store.clone();
    FuncRegistration::new("has")
        .with_comments([
            "/// Whether anything is kept under `key`.",
            "/// ```rhai",
            "/// if store::has(\"welcome-\" + inv.id) { continue; }",
            "/// ```",
        ])
        .with_params_info(["key: &str", "bool"])
        .set_into_module(&mut m, move |key: &str| s.has(key));
    let s = store;
    FuncRegistration::new("remove")
        .with_comments([
            "/// Forgets `key`; true if something was kept under it.",
            "/// ```rhai",
            "/// store::remove(\"report/last-run\");",
            "/// ```",
        ])
        .with_params_info(["key: &str", "bool"])
        .set_into_module(&mut m, move |key: &str| s.remove(key));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ApiKey;

    fn target(url: &str, key: &str) -> ClientOptions {
        ClientOptions::new(url, ApiKey::new(key))
    }

    #[test]
    fn keeps_values_between_stores_and_apart_per_target() {
        let dir = tempfile::tempdir().unwrap();
        let live = target("https://api.zavu.dev", "zv_live_a");
        let a = Store::new(Some(dir.path().into()), Some(&live));
        let engine = rhai::Engine::new();
        let value: Dynamic = engine.eval(r#"#{ id: "msg_1", n: [1, 2.5, ()] }"#).unwrap();
        assert!(!a.has("k").unwrap());
        a.set("k", value).unwrap();
        assert!(a.has("k").unwrap());

        // A later run sees it; a run against another target does not.
        let b = Store::new(Some(dir.path().into()), Some(&live));
        let got = b.get("k").unwrap();
        assert_eq!(
            to_json(&got).unwrap(),
            serde_json::json!({"id": "msg_1", "n": [1, 2.5, null]})
        );
        let sandbox = target("http://127.0.0.1:4010", "zv_test_sandbox");
        let c = Store::new(Some(dir.path().into()), Some(&sandbox));
        assert!(c.get("k").unwrap().is_unit());
        assert!(b.remove("k").unwrap());
        assert!(!a.has("k").unwrap());

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The key itself is nowhere in the file.
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("zv_live_a"));
    }

    #[test]
    fn without_a_state_dir_it_says_so() {
        let s = Store::new(None, None);
        let err = s.set("k", Dynamic::from(1_i64)).unwrap_err().to_string();
        assert!(err.contains("no state directory"), "{err}");
    }

    #[test]
    fn refuses_values_json_cannot_hold_and_empty_keys() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::new(Some(dir.path().into()), None);
        let engine = rhai::Engine::new();
        let f: Dynamic = engine.eval("|x| x + 1").unwrap();
        assert!(
            s.set("f", f)
                .unwrap_err()
                .to_string()
                .contains("store::set")
        );
        assert!(
            s.get("")
                .unwrap_err()
                .to_string()
                .contains("must not be empty")
        );
    }
}
