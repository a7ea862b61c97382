//! The one seam between Rhai's synchronous native functions and the async client.
//!
//! Scripts run on a plain thread (never a runtime worker: `block_on` there panics), and
//! every native function that needs the network calls [`Bridge::block_on`], which drives
//! the future on the shared tokio runtime and gives up as soon as the run is stopped —
//! Ctrl-C, a cron timeout — so a long call never outlives the user's patience.

use crate::stop::Stop;
use std::future::Future;
use tokio::runtime::Handle;

/// The run was stopped while waiting; carries the reason.
#[derive(Debug, Clone)]
pub struct Stopped(pub String);

#[derive(Debug)]
pub struct Bridge {
    handle: Handle,
    stop: std::sync::Arc<Stop>,
}

impl Bridge {
    pub fn new(handle: Handle, stop: std::sync::Arc<Stop>) -> Self {
        Bridge { handle, stop }
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    pub fn stop(&self) -> &std::sync::Arc<Stop> {
        &self.stop
    }

    /// Runs a future to completion on the runtime, unless the run is stopped first.
    /// Must not be called from inside the runtime (scripts never run there).
    pub fn block_on<T>(&self, fut: impl Future<Output = T>) -> Result<T, Stopped> {
        let stop = &self.stop;
        if stop.is_set() {
            return Err(Stopped(stop.reason().unwrap_or_else(|| "stopped".into())));
        }
        self.handle.block_on(async {
            tokio::select! {
                out = fut => Ok(out),
                _ = stop.stopped() => Err(Stopped(stop.reason().unwrap_or_else(|| "stopped".into()))),
            }
        })
    }
}
