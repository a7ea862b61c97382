//! What a scheduler is told from outside, as one stream: every common signal, each on
//! purpose — SIGTERM, SIGINT and SIGQUIT stop it gracefully; SIGHUP and SIGUSR2 (the habit
//! supercronic taught) reload the crontab; SIGUSR1 asks for a status line — and, with
//! `--watch`, a change to the crontab file, which reloads it too. None of them kills a
//! running job unannounced: their default actions (terminate, core dump) are replaced.
//! Listening only; what each means is the scheduler's call.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

pub enum Signal {
    Stop(&'static str),
    /// Why: the signal's name, or "the crontab changed".
    Reload(&'static str),
    Status(&'static str),
}

/// Editors save in bursts (write, rename, chmod): events this close together are one change.
const SETTLE: Duration = Duration::from_millis(300);

pub struct Signals {
    #[cfg(unix)]
    unix: Unix,
    watch: Option<Watch>,
}

#[cfg(unix)]
struct Unix {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

/// A watch on one file: its directory is watched (an editor may replace the file), and
/// only events naming the file count.
struct Watch {
    _watcher: notify::RecommendedWatcher,
    changes: UnboundedReceiver<()>,
    /// A change was seen and is settling until then. Kept here, not in the future, so a
    /// wait cut short by the loop's other events resumes instead of losing the change.
    settle_until: Option<tokio::time::Instant>,
}

impl Watch {
    fn start(file: &Path) -> Result<Watch, String> {
        use notify::Watcher;
        let file: PathBuf = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        let dir = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let name = file.file_name().map(|n| n.to_os_string());
        let (tx, changes) = unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if event.kind.is_access() {
                    return;
                }
                if event.paths.iter().any(|p| p.file_name() == name.as_deref()) {
                    let _ = tx.send(());
                }
            })
            .map_err(|e| format!("cannot watch {}: {e}", file.display()))?;
        watcher
            .watch(&dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        Ok(Watch {
            _watcher: watcher,
            changes,
            settle_until: None,
        })
    }

    /// The next change, once its burst of events has settled.
    /// Cancel-safe: the loop drops this future whenever another event comes first.
    async fn changed(&mut self) {
        let until = match self.settle_until {
            Some(t) => t,
            None => {
                if self.changes.recv().await.is_none() {
                    std::future::pending::<()>().await;
                }
                let t = tokio::time::Instant::now() + SETTLE;
                self.settle_until = Some(t);
                t
            }
        };
        tokio::time::sleep_until(until).await;
        self.settle_until = None;
        while self.changes.try_recv().is_ok() {}
    }
}

impl Signals {
    /// Starts listening; with `watch`, also for changes to that file.
    pub fn listen(watch: Option<&Path>) -> Result<Signals, String> {
        let watch = watch.map(Watch::start).transpose()?;
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let on = |kind: SignalKind, name: &str| {
                signal(kind).map_err(|e| format!("cannot listen for {name}: {e}"))
            };
            Ok(Signals {
                unix: Unix {
                    term: on(SignalKind::terminate(), "SIGTERM")?,
                    int: on(SignalKind::interrupt(), "SIGINT")?,
                    quit: on(SignalKind::quit(), "SIGQUIT")?,
                    hup: on(SignalKind::hangup(), "SIGHUP")?,
                    usr1: on(SignalKind::user_defined1(), "SIGUSR1")?,
                    usr2: on(SignalKind::user_defined2(), "SIGUSR2")?,
                },
                watch,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals { watch })
        }
    }

    pub async fn recv(&mut self) -> Signal {
        #[cfg(unix)]
        let Signals { unix: u, watch } = self;
        #[cfg(not(unix))]
        let Signals { watch } = self;
        let changed = async {
            match watch.as_mut() {
                Some(w) => w.changed().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(unix)]
        {
            tokio::select! {
                _ = u.term.recv() => Signal::Stop("SIGTERM"),
                _ = u.int.recv() => Signal::Stop("SIGINT"),
                _ = u.quit.recv() => Signal::Stop("SIGQUIT"),
                _ = u.hup.recv() => Signal::Reload("SIGHUP"),
                _ = u.usr2.recv() => Signal::Reload("SIGUSR2"),
                _ = u.usr1.recv() => Signal::Status("SIGUSR1"),
                _ = changed => Signal::Reload("the crontab changed"),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Signal::Stop("Ctrl-C"),
                _ = changed => Signal::Reload("the crontab changed"),
            }
        }
    }
}
