//! The one error type of the state layer: what went wrong with the state database or the
//! state directory, in words a user can act on. Messages never carry the state URL's
//! password (only the redacted form of the URL is ever formatted into them).

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// `--state-url` / `ZAVU_STATE_URL` is not something we can use.
    #[error("--state-url / ZAVU_STATE_URL: {0}")]
    Setting(String),
    /// The database could not be reached or refused a statement; `doing` names what we
    /// were doing, `at` the redacted address.
    #[error("state database {at}: {doing}: {detail}")]
    Postgres {
        at: String,
        doing: String,
        detail: String,
    },
    /// The database holds a schema this binary does not know.
    #[error("{0}")]
    Schema(String),
    /// A file under the state directory.
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

impl StateError {
    /// A failed statement or connection: `doing` says what we were doing, `at` is the
    /// redacted address.
    pub fn postgres(at: &str, doing: impl Into<String>, e: &tokio_postgres::Error) -> StateError {
        StateError::Postgres {
            at: at.to_string(),
            doing: doing.into(),
            detail: detail(e),
        }
    }
}

/// tokio-postgres shows only "db error" or "error connecting to server"; the server's own
/// message (or the I/O cause) is what a person needs.
fn detail(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        return s;
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
