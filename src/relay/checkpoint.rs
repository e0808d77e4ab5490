//! The checkpointer: a thread with its own SQLite connection that folds the write-ahead log
//! back into the database file, so that the core's commits never stop to do it.
//!
//! SQLite checkpoints automatically inside the commit that grows the log past 1,000 pages: a
//! commit on the relay's one writing thread then copies pages and waits for the disk while
//! every connection waits for it. Profiled at 500 documents x 4 devices x 6 changes/s, that
//! was a sixth of the core thread's time, in bursts. The core's connection turns it off
//! ([`RelayStore::checkpoint_elsewhere`]) and this thread checkpoints passively (never making
//! the writer wait) every [`EVERY`].
//!
//! SQLite writes the log from its start again only when a write begins with every page of
//! it folded back. Under steady load that never happened: the core commits while a pass
//! runs, so each pass left the newest pages behind, and at 1,000 documents the log grew by
//! about 65 MB a second (914 MB after 14 s of load), every write landing in new blocks of the
//! file that the kernel first zeroed (7% of the relay's time). So after each pass that leaves
//! a log, this thread raises a flag; the core, before its next commit, folds the few pages
//! committed during the pass itself (no other writer can add any meanwhile), and that
//! commit starts the log over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::store::RelayStore;

/// How often the log is folded back: often enough that it stays a few megabytes at the
/// load the relay takes, and nothing to speak of when idle (a passive checkpoint of an
/// empty log returns at once).
pub(crate) const EVERY: Duration = Duration::from_millis(250);

/// Checkpoints every `every` ([`EVERY`] in a relay) until `stop`'s sender is dropped, then
/// once more. Raises `wanted` when a pass leaves a log for the writer to [`finish`].
pub(crate) fn run(
    mut store: Box<dyn RelayStore>,
    stop: Receiver<()>,
    wanted: Arc<AtomicBool>,
    every: Duration,
) {
    loop {
        let last = !matches!(stop.recv_timeout(every), Err(RecvTimeoutError::Timeout));
        match store.checkpoint() {
            Ok(0) => {}
            Ok(_) => wanted.store(true, Ordering::Relaxed),
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint failed; the next one goes on from there");
            }
        }
        if last {
            break;
        }
    }
}

/// Called by the writer before a commit: when the checkpointer asked for it, folds what is
/// left of the log (the pages committed during its pass), so that the commit starts the log
/// over.
pub(crate) fn finish(store: &mut dyn RelayStore, wanted: &AtomicBool) {
    if wanted.swap(false, Ordering::Relaxed)
        && let Err(e) = store.checkpoint()
    {
        tracing::warn!(error = %e, "folding the write-ahead log failed; the next pass goes on");
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    use super::*;
    use crate::DocId;
    use crate::relay::store::{Batch, NewChange, SqliteStore};

    /// A writer that commits without pause, as the core does under load, while the
    /// checkpointer runs beside it: the log is started over again and again instead of
    /// growing with everything written. 8,000 commits of a few pages each: 137 MB without the
    /// writer's part, when tried; 0.8-4.5 MB with it, also with three busy loops competing
    /// for the 2 cores. The bound leaves room for a checkpointer that gets little CPU.
    #[test]
    fn a_writer_that_never_pauses_still_gets_its_log_started_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db");
        let wal = dir.path().join("relay.db-wal");
        let mut writer = SqliteStore::open(&path, false).unwrap();
        writer.checkpoint_elsewhere().unwrap();
        let other = SqliteStore::open(&path, false).unwrap();
        let wanted = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let checkpointer = {
            let wanted = wanted.clone();
            std::thread::spawn(move || {
                run(Box::new(other), stopped, wanted, Duration::from_millis(2));
            })
        };
        let doc_id = DocId::new("busy").unwrap();
        let mut doc = AutoCommit::new();
        let mut largest = 0;
        for i in 0..8_000_i64 {
            doc.put(ROOT, format!("k{}", i % 64), i).unwrap();
            doc.commit();
            let change =
                NewChange::from_change(doc_id.clone(), &doc.get_last_local_change().unwrap(), None);
            finish(&mut writer, &wanted);
            writer
                .commit(&Batch {
                    changes: vec![change],
                    peers: Vec::new(),
                })
                .unwrap();
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        drop(stop);
        checkpointer.join().unwrap();
        assert!(largest < 32 << 20, "the log grew to {largest} bytes");
        let mut fresh = SqliteStore::open(&path, false).unwrap();
        assert_eq!(fresh.head().unwrap(), 8_000);
        assert_eq!(fresh.version(&doc_id).unwrap().total(), 8_000);
    }
}
