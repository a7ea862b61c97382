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
    use clap::{CommandFactory, FromArgMatches, error::ErrorKind, parser::ValueSource};
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            // A missing argument: say which (clap does), and show it in use.
            if e.kind() == ErrorKind::MissingRequiredArgument
                && let Some(example) = example_for(&e.render().to_string())
            {
                let _ = e.print();
                eprintln!("\nExample: {example}");
                std::process::exit(e.exit_code());
            }
            e.exit()
        }
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let mut warnings = vec![];
    // Environment variables are read by `config`, not by clap, so a value from the
    // environment never shows in a usage line as a flag that was typed.
    if matches.value_source("api_key") == Some(ValueSource::CommandLine) {
        warnings.push(
            "warning: a key given with --api-key ends up in shell history and process lists; \
             set ZAVUDEV_API_KEY or use --api-key-file PATH instead",
        );
    }
    (cli, warnings)
}

/// A command line that works, for the subcommand a usage error is about.
fn example_for(rendered: &str) -> Option<&'static str> {
    let usage = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: zavu-script"))?;
    let words: Vec<&str> = usage
        .split_whitespace()
        .take_while(|w| !w.starts_with(['<', '[', '-']))
        .collect();
    Some(match words.as_slice() {
        ["run", ..] => {
            "zavu-script --sandbox run scripts/onboard_from_csv.rhai examples/clients.csv"
        }
        ["check", ..] => "zavu-script check scripts/onboard_from_csv.rhai",
        ["cron", ..] => "zavu-script --sandbox cron scripts/crontab",
        ["campaign", "cleanup", ..] => {
            "zavu-script campaign cleanup onboard-clients --dry-run   (names: zavu-script campaign list)"
        }
        ["campaign", ..] => "zavu-script campaign list",
        ["completions", ..] => "source <(zavu-script completions bash)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_arguments_come_with_an_example() {
        use clap::CommandFactory;
        for (argv, expect) in [
            (
                &["zavu-script", "run"][..],
                "run scripts/onboard_from_csv.rhai",
            ),
            (&["zavu-script", "cron"][..], "cron scripts/crontab"),
            (
                &["zavu-script", "campaign", "cleanup"][..],
                "cleanup onboard-clients",
            ),
        ] {
            let e = Cli::command().try_get_matches_from(argv).unwrap_err();
            let rendered = e.render().to_string();
            let example = example_for(&rendered).unwrap_or_else(|| panic!("{rendered}"));
            assert!(example.contains(expect), "{argv:?}: {example}");
        }
    }
}
