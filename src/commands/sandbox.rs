//! `zavu-script sandbox`: serve the built-in imitation of the API until Ctrl-C or SIGTERM,
//! saying once, on stdout, where it listens and which key it accepts.

use super::session::shown_key;
use crate::config::{Config, SandboxSettings};
use crate::error::Error;
use crate::sandbox::{Sandbox, SandboxOptions};
use tokio::runtime::Runtime;

pub fn serve(config: &Config, runtime: &Runtime, settings: &SandboxSettings) -> Result<(), Error> {
    runtime.block_on(serve_until_stopped(config, settings))
}

/// Serves until Ctrl-C or SIGTERM, then saves state and returns.
async fn serve_until_stopped(config: &Config, settings: &SandboxSettings) -> Result<(), Error> {
    let keys = config
        .api_key
        .as_ref()
        .map(|k| vec![k.expose().to_string()])
        .unwrap_or_default();
    let shown = match &config.api_key {
        Some(k) if k.expose() != crate::sandbox::DEFAULT_KEY => {
            format!("{} (from --api-key / ZAVUDEV_API_KEY)", shown_key(k))
        }
        _ => crate::sandbox::DEFAULT_KEY.to_string(),
    };
    let sandbox = Sandbox::start(SandboxOptions {
        host: settings.host,
        port: settings.port,
        keys,
        state_file: settings.state_file.clone(),
        budget_per_minute: settings.budget_per_minute,
        ..Default::default()
    })
    .await?;
    if config.json {
        super::output::json_line(
            &serde_json::json!({"baseUrl": sandbox.base_url(), "apiKey": shown}),
        );
    } else {
        println!(
            "Zavu sandbox listening on {} — API key {} — Ctrl-C to stop",
            sandbox.base_url(),
            shown
        );
    }
    super::signals::stop_requested().await;
    eprintln!("sandbox: stopping");
    sandbox.shutdown().await?;
    Ok(())
}
