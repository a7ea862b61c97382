//! Where shared state lives, and the one place that knows there are two places it can
//! live: SQLite and files under the state directory (the default, one machine), or a
//! PostgreSQL database that several machines share (`--state-url postgres://…` /
//! `ZAVU_STATE_URL`). [`backend`] parses the setting and never shows a password,
//! [`postgres`] connects, migrates the schema and answers for the Postgres side,
//! [`cron`] is the cron scheduler's state behind one interface for both backends, and
//! [`status`] gathers what `zavu-script state status` shows.
//!
//! Imports: `files` and outside crates only; it is a bottom layer, so it knows nothing of
//! campaigns, scripts or the command line and returns its own [`StateError`].

pub mod backend;
pub mod error;
pub mod postgres;
pub mod replica;
pub mod status;

pub use backend::Backend;
pub use error::StateError;
