//! The API a front door talks to for one session: the configured server, or a sandbox
//! started in this process for `--sandbox` — plus the bridge and stop signal that every
//! script of the session shares.

use crate::config::{Config, Target as ConfiguredTarget};
use crate::engine::bridge::Bridge;
use crate::engine::modules::zavu::Target;
use crate::error::Error;
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::stop::Stop;
use std::sync::Arc;
use tokio::runtime::Runtime;

pub struct Session {
    pub target: Target,
    pub sandbox: Option<Sandbox>,
    pub bridge: Arc<Bridge>,
}

impl Session {
    /// Resolves the target; with `--sandbox`, starts one on a free port and says so on
    /// stderr in one line.
    pub fn open(config: &Config, runtime: &Runtime) -> Result<Session, Error> {
        let key = config.key_for_target()?;
        let (base_url, sandbox) = match &config.target {
            ConfiguredTarget::Remote(url) => (url.clone(), None),
            ConfiguredTarget::InProcessSandbox => {
                let sandbox = runtime.block_on(Sandbox::start(SandboxOptions {
                    keys: vec![key.expose().to_string()],
                    ..Default::default()
                }))?;
                eprintln!(
                    "zavu-script: in-process sandbox at {} (key {}); nothing leaves this machine",
                    sandbox.base_url(),
                    if key.expose() == crate::sandbox::DEFAULT_KEY {
                        key.expose().to_string()
                    } else {
                        key.redacted()
                    }
                );
                (sandbox.base_url().to_string(), Some(sandbox))
            }
        };
        let target = Target {
            base_url,
            api_key: Some(key),
            timeout: config.timeout,
            max_retries: config.max_retries,
            rate_cap_per_minute: config.rate_cap_per_minute,
        };
        let bridge = Arc::new(Bridge::new(
            runtime.handle().clone(),
            Arc::new(Stop::default()),
        ));
        Ok(Session {
            target,
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
