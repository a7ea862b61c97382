//! The binary: parse arguments, set up logging, run, and turn the outcome into an exit
//! status. Everything else lives in the library.

use std::io::IsTerminal;
use std::process::ExitCode;
use zavu_script::cli::Command;

fn main() -> ExitCode {
    let (cli, warnings) = zavu_script::cli::parse();
    for w in warnings {
        eprintln!("{w}");
    }
    // A scheduler writing JSON logs writes every line as JSON, `--debug` ones included.
    let json_logs = match &cli.command {
        Command::Cron(a) => a.json_logs,
        Command::Listen(a) => a.json_logs,
        _ => false,
    };
    init_logging(cli.global.verbose, cli.global.debug, json_logs);
    match zavu_script::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = e.render();
            if !text.is_empty() {
                eprintln!("{text}");
            }
            e.exit_code()
        }
    }
}

fn init_logging(verbose: u8, debug: bool, json: bool) {
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        // Colour codes only for a person at a terminal, never into a file or a pipe.
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}
