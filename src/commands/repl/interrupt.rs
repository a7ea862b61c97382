//! Ctrl-C while an input runs. At the prompt the line editor has the terminal in raw mode
//! and sees Ctrl-C as a key (it cancels the line); while an input is evaluated the terminal
//! is back in cooked mode, so Ctrl-C arrives as SIGINT. This listens for SIGINT for the
//! whole session and, only while an input runs, asks it to stop — the engine's progress
//! hook and the bridge both watch the same [`Stop`], so a busy loop, an API call or a
//! `sleep` end promptly and the session goes on.
//!
//! It never ends the process, except on a second Ctrl-C while a stop is already pending
//! (something is not listening) or when there is no line editor to cancel a line (piped
//! input), where Ctrl-C means "leave", as it does for any filter.

use crate::stop::Stop;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::runtime::Runtime;

/// What Ctrl-C means right now.
#[derive(Clone)]
pub struct Interrupts {
    running: Arc<AtomicBool>,
}

/// Marks an input as running until dropped.
pub struct Running<'a>(&'a Interrupts);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::SeqCst);
    }
}

pub const REASON: &str = "interrupted by Ctrl-C";

impl Interrupts {
    /// Starts listening. `line_editor`: whether a line editor owns Ctrl-C at the prompt.
    pub fn install(runtime: &Runtime, stop: Arc<Stop>, line_editor: bool) -> Interrupts {
        let running = Arc::new(AtomicBool::new(false));
        let flag = running.clone();
        runtime.spawn(async move {
            #[cfg(unix)]
            let mut sigint =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            loop {
                #[cfg(unix)]
                let got = sigint.recv().await.is_some();
                #[cfg(not(unix))]
                let got = tokio::signal::ctrl_c().await.is_ok();
                if !got {
                    return;
                }
                if flag.load(Ordering::SeqCst) {
                    if stop.is_set() {
                        eprintln!("\nzavu-script: still stopping; quitting now");
                        std::process::exit(130);
                    }
                    stop.trigger(REASON);
                } else if !line_editor {
                    std::process::exit(130);
                }
            }
        });
        Interrupts { running }
    }

    /// For the duration of one input: Ctrl-C stops it.
    pub fn running(&self) -> Running<'_> {
        self.running.store(true, Ordering::SeqCst);
        Running(self)
    }
}
