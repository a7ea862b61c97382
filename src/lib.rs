//! zavu-script: script the Zavu Partner Invitations API with Rhai.
//!
//! Data flows one way: `cli` (what was typed) → `config` (what we run with) → a front door
//! (`runner`, `repl`, `cron`, or the `sandbox` command) → `engine` (Rhai) → `client`
//! (HTTP) → the Zavu API or the `sandbox`. `api` holds the wire types both sides of the
//! wire share. [`run`] is the whole program minus argument parsing and exit-code mapping.

pub mod api;
pub mod campaign;
mod campaign_command;
pub mod cli;
pub mod client;
mod commands;
pub mod config;
pub mod cron;
pub mod duration;
pub mod engine;
pub mod error;
pub mod files;
pub mod repl;
pub mod runner;
pub mod sandbox;
pub mod session;
pub mod stop;

pub use error::Error;

use cli::Cli;

/// Runs one command to completion.
pub fn run(cli: Cli) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    commands::execute(cli, &runtime)
}
