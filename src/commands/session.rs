//! The API a front door talks to for one session: the configured server, or a sandbox
//! started in this process for `--sandbox` — resolved once into the client settings every
//! client of the session shares, plus the bridge and stop signal every script of the
//! session shares, and the Ctrl-C handling that triggers it.

use crate::client::{ApiKey, ClientOptions};
use crate::config::{Config, Target};
use crate::engine::bridge::Bridge;
use crate::error::Error;
use crate::sandbox::{DEFAULT_KEY, Sandbox, SandboxOptions};
use crate::stop::Stop;
use std::sync::Arc;
use tokio::runtime::Runtime;

pub struct Session {
    /// Where calls go, with the key and the run's client settings.
    pub api: ClientOptions,
    pub sandbox: Option<Sandbox>,
    pub bridge: Arc<Bridge>,
}

impl Session {
    /// Resolves the target; with `--sandbox`, starts one on a free port and says so on
    /// stderr in one line.
    pub fn open(config: &Config, runtime: &Runtime) -> Result<Session, Error> {
        let key = config.key_for_target()?;
        let (base_url, sandbox) = match &config.target {
            Target::Remote(url) => (url.clone(), None),
            Target::InProcessSandbox => {
                let sandbox = runtime.block_on(Sandbox::start(SandboxOptions {
                    keys: vec![key.expose().to_string()],
                    ..Default::default()
                }))?;
                eprintln!(
                    "zavu-script: in-process sandbox at {} (key {}); nothing leaves this machine",
                    sandbox.base_url(),
                    shown_key(&key)
                );
                (sandbox.base_url().to_string(), Some(sandbox))
            }
        };
        let bridge = Arc::new(Bridge::new(
            runtime.handle().clone(),
            Arc::new(Stop::default()),
        ));
        Ok(Session {
            api: config.client_options(&base_url, key),
            sandbox,
            bridge,
        })
    }

    pub fn stop(&self) -> &Arc<Stop> {
        self.bridge.stop()
    }

    /// Stops the in-process sandbox, if any.
    pub fn close(self, runtime: &Runtime) {
        if let Some(sb) = self.sandbox {
            let _ = runtime.block_on(sb.shutdown());
        }
    }
}

/// A key as the front doors show it: the sandbox's well-known key in full (it is no
/// secret, and a newcomer needs it), any other key redacted.
pub fn shown_key(key: &ApiKey) -> String {
    if key.expose() == DEFAULT_KEY {
        key.expose().to_string()
    } else {
        key.redacted()
    }
}

/// First Ctrl-C: ask the running script to stop at its next step. Second: quit now.
pub fn stop_on_ctrl_c(runtime: &Runtime, stop: Arc<Stop>) {
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("zavu-script: stopping after the current step (Ctrl-C again to quit now)");
        stop.trigger("interrupted by Ctrl-C");
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
}
