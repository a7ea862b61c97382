//! A run's stop signal: Ctrl-C, a cron job's timeout or a scheduler shutdown asks a run to
//! stop, and everything working for that run — the script's progress hook, a call waiting on
//! the network, a campaign's loop — watches the same flag and gives up at its next step.
//!
//! It sits at the bottom (campaigns, the engine and the scheduler all share it) and imports
//! nothing of the project.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// Why a run was asked to stop, shared by the bridge and the engine's progress hook.
#[derive(Debug, Default)]
pub struct Stop {
    flag: AtomicBool,
    reason: Mutex<Option<String>>,
    notify: Notify,
}

impl Stop {
    /// Asks the run to stop; the first reason wins.
    pub fn trigger(&self, reason: impl Into<String>) {
        let mut slot = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(reason.into());
        }
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    pub fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Clears a stop, so the next input of a REPL runs normally.
    pub fn reset(&self) {
        *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.flag.store(false, Ordering::SeqCst);
    }

    /// Resolves once the run is asked to stop.
    pub async fn stopped(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}
