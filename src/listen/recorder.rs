//! Group commit for the receiver: deliveries that arrive while the inbox is committing are
//! recorded together, in one transaction, by one thread (on Postgres, on a connection of
//! its own, so the handler's statements never wait behind a flush) — and each is answered
//! only after that commit, so "recorded before the 2xx" holds for every one of them. It also says,
//! cheaply, whether recording works right now (for `/healthz`): the writer thread is alive
//! and not stuck in a commit, the last commit did not fail, and — on SQLite — the inbox file
//! is still the one it opened (an inbox removed under a running receiver would take every
//! event "recorded" since with it, so then batches are refused and the sender retries) or —
//! on Postgres — the state database answered the last heartbeat. It records; it verifies,
//! answers and runs nothing.

use super::inbox::{Home, Inbox, InboxError, NewEvent};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// At most this many deliveries share one commit: a bound on how long the first one waits
/// behind the rest.
const MAX_BATCH: usize = 256;

/// A commit that takes longer than this means the writer is stuck (a wedged disk, a lock
/// held elsewhere): a healthy one takes milliseconds.
pub const STALL_AFTER: Duration = Duration::from_secs(10);

type Job = (NewEvent, oneshot::Sender<Result<bool, InboxError>>);

/// The receiver's side of the inbox's writer thread; the thread ends when this is dropped.
pub struct Recorder {
    jobs: mpsc::Sender<Job>,
    home: Home,
    writer: std::thread::JoinHandle<()>,
    /// The inbox file as opened: (device, inode).
    opened: Option<(u64, u64)>,
    /// When the batch in hand began (epoch milliseconds); 0 while idle.
    busy_since_ms: Arc<AtomicI64>,
    /// The last commit's error and when it happened (epoch ms), until a commit succeeds.
    last_error: Arc<Mutex<Option<(i64, String)>>>,
}

fn identity(path: &Path) -> std::io::Result<(u64, u64)> {
    std::fs::metadata(path).map(|m| (m.dev(), m.ino()))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Why the inbox at `path`, opened as `opened`, is no longer where events last.
fn moved(path: &Path, opened: Option<(u64, u64)>) -> Option<String> {
    match identity(path) {
        Err(e) => Some(format!(
            "the inbox {} is gone ({e}): events recorded now would be lost at the next start",
            path.display()
        )),
        Ok(now) if Some(now) != opened => Some(format!(
            "the inbox {} was replaced by another file since it was opened",
            path.display()
        )),
        Ok(_) => None,
    }
}

impl Recorder {
    /// Starts the writer thread on the shared inbox.
    pub fn start(inbox: Arc<Mutex<Inbox>>, home: Home) -> std::io::Result<Recorder> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let opened = match &home {
            Home::File(path) => identity(path).ok(),
            Home::Database(_) => None,
        };
        let file = match &home {
            Home::File(path) => Some(path.clone()),
            Home::Database(_) => None,
        };
        // Postgres: a connection of the recorder's own, off the inbox's mutex.
        let writer = inbox.lock().unwrap_or_else(|p| p.into_inner()).writer();
        let busy_since_ms = Arc::new(AtomicI64::new(0));
        let last_error = Arc::new(Mutex::new(None));
        let (busy, failed) = (busy_since_ms.clone(), last_error.clone());
        let writer = std::thread::Builder::new()
            .name("listen-inbox".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    busy.store(now_ms(), Ordering::Relaxed);
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let events: Vec<&NewEvent> = batch.iter().map(|(e, _)| e).collect();
                    let gone = file
                        .as_ref()
                        .and_then(|at| moved(at, opened).map(|why| (at.clone(), why)));
                    let recorded = match gone {
                        Some((path, message)) => Err(InboxError { path, message }),
                        None => match &writer {
                            Some(w) => w.record_all(&events),
                            None => inbox
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .record_all(&events),
                        },
                    };
                    *failed.lock().unwrap_or_else(|p| p.into_inner()) =
                        recorded.as_ref().err().map(|e| (now_ms(), e.to_string()));
                    busy.store(0, Ordering::Relaxed);
                    match recorded {
                        Ok(fresh) => {
                            for ((_, answer), fresh) in batch.into_iter().zip(fresh) {
                                let _ = answer.send(Ok(fresh));
                            }
                        }
                        // Nothing of the batch was committed: every sender must retry.
                        Err(e) => {
                            for (_, answer) in batch {
                                let _ = answer.send(Err(e.clone()));
                            }
                        }
                    }
                }
            })?;
        Ok(Recorder {
            jobs,
            home,
            writer,
            opened,
            busy_since_ms,
            last_error,
        })
    }

    /// Records `event` with whatever else is waiting; `false` for a duplicate delivery.
    /// Returns once the commit that holds it is done.
    pub async fn record(&self, event: NewEvent) -> Result<bool, InboxError> {
        let gone = || InboxError {
            path: match &self.home {
                Home::File(path) => path.clone(),
                Home::Database(_) => PathBuf::from("(state database)"),
            },
            message: "the inbox's writer has stopped".into(),
        };
        let (answer, answered) = oneshot::channel();
        self.jobs.send((event, answer)).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }

    /// Why a delivery arriving now could not be recorded, if there is a reason to think
    /// so: one `stat` and a few loads, nothing written.
    pub fn trouble(&self) -> Option<String> {
        if self.writer.is_finished() {
            return Some("the inbox's writer thread has stopped".into());
        }
        let busy = self.busy_since_ms.load(Ordering::Relaxed);
        let stuck = (now_ms() - busy) as f64 / 1000.0;
        if busy > 0 && stuck > STALL_AFTER.as_secs_f64() {
            return Some(format!(
                "the inbox's writer has been in one commit for {stuck:.0}s"
            ));
        }
        match &self.home {
            Home::File(path) => {
                if let Some(why) = moved(path, self.opened) {
                    return Some(why);
                }
            }
            Home::Database(beat) => {
                let trouble = beat
                    .trouble
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                if let Some(why) = trouble {
                    return Some(why);
                }
            }
        }
        let failed = self
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (at, error) = failed?;
        // A database that answered a heartbeat since the failure would take a delivery now:
        // no delivery comes to clear the error while /healthz turns the balancer away.
        if let Home::Database(beat) = &self.home
            && beat.answered_at_ms.load(Ordering::Relaxed) > at
        {
            return None;
        }
        Some(format!("the last commit to the inbox failed: {error}"))
    }
}
