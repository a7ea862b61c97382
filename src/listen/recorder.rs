//! Group commit for the receiver: deliveries that arrive while the inbox is committing are
//! recorded together, in one transaction, by one thread — and each is answered only after
//! that commit, so "recorded before the 2xx" holds for every one of them. It records; it
//! verifies, answers and runs nothing.

use super::inbox::{Inbox, InboxError, NewEvent};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// At most this many deliveries share one commit: a bound on how long the first one waits
/// behind the rest.
const MAX_BATCH: usize = 256;

type Job = (NewEvent, oneshot::Sender<Result<bool, InboxError>>);

/// The receiver's side of the inbox's writer thread; the thread ends when this is dropped.
pub struct Recorder {
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
}

impl Recorder {
    /// Starts the writer thread on the shared inbox.
    pub fn start(inbox: Arc<Mutex<Inbox>>, path: PathBuf) -> std::io::Result<Recorder> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("listen-inbox".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let events: Vec<&NewEvent> = batch.iter().map(|(e, _)| e).collect();
                    let recorded = inbox
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .record_all(&events);
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
        Ok(Recorder { jobs, path })
    }

    /// Records `event` with whatever else is waiting; `false` for a duplicate delivery.
    /// Returns once the commit that holds it is done.
    pub async fn record(&self, event: NewEvent) -> Result<bool, InboxError> {
        let gone = || InboxError {
            path: self.path.clone(),
            message: "the inbox's writer has stopped".into(),
        };
        let (answer, answered) = oneshot::channel();
        self.jobs.send((event, answer)).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}
