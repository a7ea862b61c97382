//! What the user typed: the clap definition of every flag and subcommand, and nothing
//! else. Parsing only — resolving env vars, files and defaults into checked values is
//! [`crate::config`]'s job, and only `config` (and the binary) import this module: the
//! front doors and everything below them take plain settings, never clap types.
//!
//! Value parsers come from the lowest module that owns the concept (`duration`,
//! `api::time`), so the command line, the crontab and scripts read values the same way.
//! [`completions`] writes the shell completion scripts.

mod args;
pub mod completions;

pub use args::*;

/// Parses the command line — exiting with clap's own message on a usage error — and
/// says what in it deserves a warning.
pub fn parse() -> (Cli, Vec<&'static str>) {
    use args::Cli;
    use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let mut warnings = vec![];
    if matches.value_source("api_key") == Some(ValueSource::CommandLine) {
        warnings.push(
            "warning: a key given with --api-key ends up in shell history and process lists; \
             set ZAVUDEV_API_KEY or use --api-key-file PATH instead",
        );
    }
    (cli, warnings)
}
