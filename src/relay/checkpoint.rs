//! The checkpointer: a thread with its own SQLite connection that folds the write-ahead log
//! back into the database file, so that the core's commits never stop to do it.
//!
//! SQLite checkpoints automatically inside the commit that grows the log past 1,000 pages: a
//! commit on the relay's one writing thread then copies pages and waits for the disk while
//! every connection waits for it. Profiled at 500 documents x 4 devices x 6 changes/s, that
//! was a sixth of the core thread's time, in bursts. The core's connection turns it off
//! ([`RelayStore::checkpoint_elsewhere`]) and this thread checkpoints passively (never making
//! the writer wait) every [`EVERY`].

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::store::RelayStore;

/// How often the log is folded back: often enough that it stays a few megabytes at the
/// load the relay takes, and nothing to speak of when idle (a passive checkpoint of an
/// empty log returns at once).
pub(crate) const EVERY: Duration = Duration::from_millis(250);

/// Checkpoints every [`EVERY`] until `stop`'s sender is dropped, then once more.
pub(crate) fn run(mut store: Box<dyn RelayStore>, stop: Receiver<()>) {
    loop {
        let last = !matches!(stop.recv_timeout(EVERY), Err(RecvTimeoutError::Timeout));
        if let Err(e) = store.checkpoint() {
            tracing::warn!(error = %e, "checkpoint failed; the next one goes on from there");
        }
        if last {
            break;
        }
    }
}
