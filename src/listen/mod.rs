//! `zavu-script listen HANDLER.rhai`: react to the project webhook within seconds, exactly
//! once per event, and still be right after the receiver was down — on one machine, or on
//! several replicas sharing the state database.
//!
//! [`receiver`] takes signed deliveries over HTTP and records them in the [`inbox`] (in
//! SQLite, [`inbox_sqlite`] with [`inbox_sqlite_sql`], or PostgreSQL, [`inbox_pg`] with
//! [`inbox_pg_claim`], [`inbox_pg_record`], [`inbox_pg_wake`], [`inbox_pg_sql`] and
//! [`inbox_pg_heartbeat`]; its rows: [`inbox_schema`]) before answering — through
//! [`recorder`], which gives deliveries arriving together one commit. [`worker`]s (one, or
//! `--concurrency N`, each with its part of the invitations, woken by the [`bell`]) run the
//! handler script for each recorded event, once per event id, in order per invitation, each
//! run bounded by a [`watchdog`]; [`catchup`] finds what happened while nobody listened and
//! records it as synthesized events. The `listen` front door (`commands::listen`) wires them
//! together from the command line; nothing here reads it.
//!
//! Imports: `api`, `client`, `engine`, `files`, `memory`, `service_log`, `state`, `stop`. Must not
//! import `cron`, `config`, `cli` or the front doors.

pub mod bell;
pub mod catchup;
pub mod inbox;
pub mod inbox_pg;
pub mod inbox_pg_claim;
pub mod inbox_pg_heartbeat;
pub mod inbox_pg_record;
pub mod inbox_pg_sql;
pub mod inbox_pg_wake;
pub mod inbox_schema;
pub mod inbox_sqlite;
pub mod inbox_sqlite_sql;
pub mod receiver;
pub mod recorder;
pub mod watchdog;
pub mod worker;
