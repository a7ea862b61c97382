//! The PostgreSQL side of the state layer: [`connect`] opens connections that say who
//! they are (in `pg_stat_activity`) and live in the `zavu_script` schema, [`migrate`]
//! brings the schema up to date under an advisory lock, [`cron`] holds the scheduler's
//! claims and leases, [`kv`] the entries scripts keep with `store::`, and
//! [`campaign_locks`] names a campaign's advisory lock and reads who holds which.
//!
//! Every statement uses the database's clock (`now()`) for leases, never a replica's.

pub mod campaign_locks;
pub mod connect;
pub mod cron;
pub mod kv;
pub mod migrate;

pub use connect::{Conn, Held, connect};
