//! One subcommand enum, one `execute` match: each arm hands off to its front door.

use crate::cli::{Cli, Command, SandboxArgs};
use crate::config::Config;
use crate::error::Error;
use crate::sandbox::{DEFAULT_KEY, Sandbox, SandboxOptions};
use clap::CommandFactory;
use tokio::runtime::Runtime;

pub fn execute(cli: Cli, runtime: &Runtime) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => {
            let config = Config::resolve(&cli.global)?;
            crate::runner::run(&config, runtime, &args)
        }
        Command::Check { file } => crate::runner::check(runtime, &file),
        Command::Campaign { action } => {
            let config = Config::resolve(&cli.global)?;
            crate::campaign_command::execute(&config, runtime, &action)
        }
        Command::Cron(args) => crate::cron::execute(&cli.global, runtime, &args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "zavu-script",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Repl(args) => {
            let config = Config::resolve(&cli.global)?;
            crate::repl::run(&config, runtime, &args)
        }
        Command::Sandbox(args) => {
            let config = Config::resolve(&cli.global)?;
            runtime.block_on(serve_sandbox(&config, &args))
        }
    }
}

/// `zavu-script sandbox`: serve until Ctrl-C or SIGTERM, then save state and exit 0.
async fn serve_sandbox(config: &Config, args: &SandboxArgs) -> Result<(), Error> {
    let keys = config
        .api_key
        .as_ref()
        .map(|k| vec![k.expose().to_string()])
        .unwrap_or_default();
    let shown_key = match &config.api_key {
        Some(k) if k.expose() != DEFAULT_KEY => {
            format!("{} (from --api-key / ZAVUDEV_API_KEY)", k.redacted())
        }
        _ => DEFAULT_KEY.to_string(),
    };
    let sandbox = Sandbox::start(SandboxOptions {
        host: args.host,
        port: args.port,
        keys,
        state_file: args.state.clone(),
    })
    .await?;
    if config.json {
        println!(
            "{}",
            serde_json::json!({"baseUrl": sandbox.base_url(), "apiKey": shown_key})
        );
    } else {
        println!(
            "Zavu sandbox listening on {} — API key {} — Ctrl-C to stop",
            sandbox.base_url(),
            shown_key
        );
    }
    wait_for_stop_signal().await;
    eprintln!("sandbox: stopping");
    sandbox.shutdown().await?;
    Ok(())
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
