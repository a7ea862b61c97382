//! zavu-script: script the Zavu Partner Invitations API with Rhai.
//!
//! Data flows one way, and every module imports only from the layers below it:
//!
//! ```text
//! cli ─► config ─► commands (front doors: run/check, campaign, repl, cron, sandbox)
//!                     └─► cron (scheduler) ─► engine (Rhai) ─► campaign ─► client ─► HTTP
//!                                                                          sandbox ◄─┘
//! ground: api (wire types), files, duration, memory, stop, state (SQLite or PostgreSQL)
//!         — imported by all, importing none
//! ```
//!
//! `cli` is what was typed (clap), `config` turns it into plain settings, a front door in
//! `commands` runs one command, `engine` builds the Rhai engine and its script namespaces,
//! `campaign` runs bulk invitations with their journal, `client` speaks HTTP to the Zavu API
//! or to the `sandbox`, its built-in imitation. [`run`] is the whole program minus argument
//! parsing and exit-code mapping.

pub mod api;
pub mod campaign;
pub mod cli;
pub mod client;
mod commands;
pub mod config;
pub mod cron;
pub mod duration;
pub mod engine;
pub mod error;
pub mod files;
pub mod listen;
pub mod memory;
pub mod sandbox;
pub mod service_log;
pub mod service_metrics;
pub mod state;
pub mod stop;

pub use error::Error;

use cli::Cli;

/// Runs one command to completion.
pub fn run(cli: Cli) -> Result<(), Error> {
    if let cli::Command::Completions { shell } = cli.command {
        cli::completions::print(shell);
        return Ok(());
    }
    let Some(invocation) = config::Invocation::from_cli(cli) else {
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    commands::execute(invocation, &runtime)
}
