//! [`Committer`]: the replica's store, and group commits that run on a background thread.
//!
//! A group commit costs a SQLite transaction (an insert per change) and an `fsync`; on the
//! writer's thread it stalls the editing that goes on while it runs. Where threads exist, a due
//! group is handed to a background thread instead, and the writer's thread goes on with its
//! next changes. Nothing is acknowledged earlier for it: a change counts as committed only once
//! its batch's transaction has, and [`Repo::flush`](super::Repo::flush) waits for the batch in
//! flight. At most one batch is in flight; while it commits, the changes after it wait in
//! memory up to a bound (see `Repo::commit_due`), then the writer waits for it.
//!
//! The store sits behind a mutex that both threads take for each use, so every read on the
//! writer's thread sees either the store before the batch in flight or after it.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::DocId;
use crate::model::LocalChange;
use crate::store::{NewEntry, Store, StoreError};

/// A local change waiting for its group commit.
pub(crate) struct Unflushed {
    pub(crate) doc: DocId,
    pub(crate) change: LocalChange,
}

/// What committing a batch gave: the offset of each change (`None` for one already held).
pub(crate) type Outcome = Result<Vec<Option<u64>>, StoreError>;

/// A batch handed back with its outcome.
type Done = (Vec<Unflushed>, Outcome);

/// The batch that was in flight, with its outcome.
pub(crate) struct Finished {
    /// The batch (empty when the thread was lost with it).
    pub(crate) batch: Vec<Unflushed>,
    /// The documents it wrote to.
    pub(crate) docs: Vec<DocId>,
    /// How its commit went.
    pub(crate) outcome: Outcome,
}

/// The store, shared with the background thread that commits groups.
pub(crate) struct Committer {
    store: Arc<Mutex<Store>>,
    /// The background thread, started at the first background commit.
    worker: Option<Worker>,
    /// The batch handed to the worker whose outcome is not yet taken.
    in_flight: Option<InFlight>,
}

/// What the writer's thread knows of the batch in flight.
struct InFlight {
    /// The documents it writes to, sorted.
    docs: Vec<DocId>,
    /// How many changes it holds.
    len: usize,
}

struct Worker {
    jobs: Option<Sender<Vec<Unflushed>>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    pub(crate) fn new(store: Store) -> Self {
        Self {
            store: Arc::new(Mutex::new(store)),
            worker: None,
            in_flight: None,
        }
    }

    /// The store, once the background thread is not using it. A panic on that thread while it
    /// held the store leaves the store as SQLite left it (the transaction rolled back), so a
    /// poisoned lock is taken anyway.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits `batch` on this thread.
    pub(crate) fn commit(&self, batch: &[Unflushed]) -> Outcome {
        self.store().append(&entries(batch))
    }

    /// Hands `batch` to the background thread, or gives it back when no thread can run (in
    /// WebAssembly, or when the system refuses one): commit it with [`commit`](Self::commit).
    /// A batch already in flight must be [finished](Self::finish) first.
    pub(crate) fn start(&mut self, batch: Vec<Unflushed>) -> Result<(), Vec<Unflushed>> {
        debug_assert!(self.in_flight.is_none(), "one batch in flight at a time");
        let Some(jobs) = self.worker().and_then(|w| w.jobs.as_ref()) else {
            return Err(batch);
        };
        let docs = docs_of(&batch);
        let len = batch.len();
        match jobs.send(batch) {
            Ok(()) => {
                self.in_flight = Some(InFlight { docs, len });
                Ok(())
            }
            Err(mpsc::SendError(batch)) => Err(batch),
        }
    }

    /// Whether the background thread was started.
    #[cfg(test)]
    pub(crate) fn started(&self) -> bool {
        self.worker.is_some()
    }

    /// Whether a batch was handed to the background thread and its outcome not yet taken.
    pub(crate) fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// How many changes the batch in flight holds (0 when none is).
    pub(crate) fn in_flight_len(&self) -> usize {
        self.in_flight.as_ref().map_or(0, |f| f.len)
    }

    /// The documents the batch in flight writes to (empty when none is).
    pub(crate) fn in_flight_docs(&self) -> &[DocId] {
        self.in_flight.as_ref().map_or(&[], |f| &f.docs)
    }

    /// The batch in flight and its outcome, waiting for it if `wait`; `None` when no batch is
    /// in flight, or when it is still running and `wait` is false.
    pub(crate) fn finish(&mut self, wait: bool) -> Option<Finished> {
        self.in_flight.as_ref()?;
        let worker = self.worker.as_ref()?;
        let done = if wait {
            worker.done.recv().ok()
        } else {
            match worker.done.try_recv() {
                Ok(done) => Some(done),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => None,
            }
        };
        let docs = self.in_flight.take().map(|f| f.docs).unwrap_or_default();
        // The thread ended without answering: it panicked while committing. The batch is lost
        // with the channel; its changes were never acknowledged.
        let (batch, outcome) =
            done.unwrap_or_else(|| (Vec::new(), Err(StoreError::CommitterStopped)));
        Some(Finished {
            batch,
            docs,
            outcome,
        })
    }

    /// The worker, started on first use; `None` where threads cannot run.
    fn worker(&mut self) -> Option<&Worker> {
        if cfg!(target_arch = "wasm32") {
            return None;
        }
        if self.worker.is_none() {
            self.worker = Worker::spawn(Arc::clone(&self.store));
        }
        self.worker.as_ref()
    }
}

impl Worker {
    fn spawn(store: Arc<Mutex<Store>>) -> Option<Self> {
        let (jobs, inbox) = mpsc::channel::<Vec<Unflushed>>();
        let (outbox, done) = mpsc::channel::<Done>();
        let thread = std::thread::Builder::new()
            .name("polyarch-commit".into())
            .spawn(move || {
                for batch in inbox {
                    let outcome = store
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .append(&entries(&batch));
                    if outbox.send((batch, outcome)).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Self {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has committed what it holds.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The documents `batch` writes to, sorted, each once.
pub(crate) fn docs_of(batch: &[Unflushed]) -> Vec<DocId> {
    let mut docs: Vec<DocId> = batch.iter().map(|u| u.doc.clone()).collect();
    docs.sort_unstable();
    docs.dedup();
    docs
}

/// The log entries of `batch`.
fn entries(batch: &[Unflushed]) -> Vec<NewEntry<'_>> {
    batch
        .iter()
        .map(|u| NewEntry {
            doc: &u.doc,
            actor: &u.change.actor,
            seq: u.change.seq,
            hash: u.change.hash,
            origin: None,
            bytes: &u.change.bytes,
        })
        .collect()
}
