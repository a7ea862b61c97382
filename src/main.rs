//! The binary: parse arguments, set up logging, run, and turn the outcome into an exit
//! status. Everything else lives in the library.

use clap::Parser;
use std::process::ExitCode;
use zavu_script::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose, cli.global.debug);
    match zavu_script::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", e.render());
            e.exit_code()
        }
    }
}

fn init_logging(verbose: u8, debug: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let mut filter = format!("{level},hyper=warn,reqwest=warn,rustls=warn,h2=warn");
    if debug {
        filter.push_str(",zavu_script::http=debug");
    }
    let filter =
        EnvFilter::try_from_env("ZAVU_SCRIPT_LOG").unwrap_or_else(|_| EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
