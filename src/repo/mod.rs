//! The repo layer: one device's replica. Opens documents, applies local and remote changes,
//! persists them, notifies subscribers and answers status questions.

mod committer;
mod config;
mod events;
mod host;
mod lease;
mod pending;
mod status;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path as FsPath;

use automerge::{ActorId, ChangeHash};
use web_time::{Instant, SystemTime, UNIX_EPOCH};

use crate::model::{Doc, DocView, ModelError, Tx};
use crate::store::Store;
use crate::{DeviceId, DocId, Epoch, Error, IntoDocId, VersionVector};

pub use config::{Durability, Lease, RepoConfig};
pub use events::{DocEvent, Origin, SubscriptionId};
pub use status::{DocStatus, PeerStatus, ReceiptStatus, ReplicationStatus};

use committer::{Committer, Finished, Outcome, Unflushed};
use events::Subscribers;
use lease::LeasedActor;
use pending::Pending;

/// Proof that a local change was made, and how far it has travelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The document.
    pub doc: DocId,
    /// The change's hash.
    pub hash: ChangeHash,
    /// Its sequence number for this device's actor.
    pub seq: u64,
    /// Its offset in this replica's log once committed (`None` while its group commit waits).
    pub offset: Option<u64>,
}

/// What [`Repo::change`] returns: the closure's value and the receipt of the change (`None` when
/// the closure made no operation).
#[derive(Debug, Clone)]
pub struct Committed<T> {
    /// What the closure returned.
    pub value: T,
    /// The change made, if any.
    pub receipt: Option<Receipt>,
}

/// Under group commit, how many groups' worth of changes may wait while the group before them
/// is being committed in the background, before a change waits for that commit.
const MAX_GROUPS_WAITING: usize = 4;

/// One device's replica of a set of documents, stored in SQLite.
///
/// Reads see every local write at once. A local write is acknowledged when it is committed to
/// SQLite (see [`Durability`]). Sync with other replicas through [`crate::sync::Session`].
pub struct Repo {
    /// The store, and the group commit that may be running on a background thread.
    commits: Committer,
    config: RepoConfig,
    docs: HashMap<DocId, Doc>,
    unflushed: Vec<Unflushed>,
    oldest_unflushed: Option<Instant>,
    pending: Pending,
    subscribers: Subscribers,
    actor: ActorId,
    /// Whether `actor` may write without reusing a sequence number. A store reopened from a
    /// file may be a restored backup whose actor already wrote changes the file lost, so the
    /// first local write after opening one switches to a new actor (as Yjs takes a new client
    /// id per session).
    actor_is_fresh: bool,
    /// The actor leased through [`RepoConfig::lease`], written as where claimed.
    lease: Option<LeasedActor>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("device", &self.commits.store().meta().device)
            .field("loaded_docs", &self.docs.len())
            .field("unflushed", &self.unflushed.len())
            .finish()
    }
}

impl Repo {
    /// Opens the replica stored in the SQLite file at `path`, creating it if missing.
    pub fn open(path: impl AsRef<FsPath>, config: RepoConfig) -> Result<Self, Error> {
        refuse_lease(&config)?;
        let store = Store::open(path.as_ref(), &config.store)?;
        let mut repo = Self::with_store(store, config);
        // A store that never logged anything cannot have handed out sequence numbers.
        repo.actor_is_fresh = repo.commits.store().log_head() == 0;
        Ok(repo)
    }

    /// A replica in memory (for tests, or a page's view of a replica kept elsewhere): gone
    /// when dropped. With [`RepoConfig::lease`] it presents the leased device id and writes as
    /// the leased actor where [claimed](Self::claim_actor); fails with
    /// [`Error::InvalidLease`] for an actor that is empty or longer than 64 bytes.
    pub fn in_memory(config: RepoConfig) -> Result<Self, Error> {
        let lease = config.lease.as_ref().map(|l| LeasedActor::new(&l.actor));
        let lease = lease.transpose()?;
        let store = match &config.lease {
            Some(l) => Store::open_in_memory_as(&config.store, l.device)?,
            None => Store::open_in_memory(&config.store)?,
        };
        let mut repo = Self::with_store(store, config);
        repo.lease = lease;
        Ok(repo)
    }

    /// Opens a replica from an image made by [`export_image`](Self::export_image), on any
    /// host (an image written by the native library opens in the browser and back), or from
    /// the bytes of a replica file that was closed cleanly (a file is an image). With a
    /// `path` the image becomes a new file there (an existing file is never overwritten);
    /// without one the replica lives in memory.
    ///
    /// The copy is a **new device**: a new device id, epoch and actor, so that it and the
    /// replica it was copied from never write as the same actor or trust each other's sync
    /// cursors. Fails with [`StoreError::NotAnImage`](crate::StoreError::NotAnImage) for
    /// bytes that are not an image of a Polyarch store.
    pub fn from_image(
        image: &[u8],
        path: Option<&FsPath>,
        config: RepoConfig,
    ) -> Result<Self, Error> {
        refuse_lease(&config)?;
        let store = Store::open_image(image, path, &config.store)?;
        Ok(Self::with_store(store, config))
    }

    /// The whole replica as one byte string (the SQLite database): a backup, or a way to
    /// carry the replica to another host. Open it with [`from_image`](Self::from_image).
    ///
    /// The image is compact, so that opening it reads snapshots instead of replaying every
    /// change ever made: first it commits waiting changes and compacts every document with a
    /// long history, as [`maintain`](Self::maintain) does, then it copies the database without
    /// its free pages. The compaction stays in this replica too (peers that are behind it get
    /// the snapshot, as after any compaction).
    ///
    /// Unlike `maintain`, this compacts documents that are not loaded as well. Compacting one
    /// costs loading it (replaying its logged changes) and saving it, once; an image that
    /// kept its history would make every replica opened from it pay the replay instead, and
    /// weigh a row per change (hundreds of times the snapshot, for typed text). An image is
    /// asked for rarely and opened possibly many times, so the work is done here (through
    /// [`maintain_all`](Self::maintain_all): one document in memory at a time).
    ///
    /// A document that cannot be compacted (it does not load: damaged on disk) does not stop
    /// the export, which is also a backup: the image carries its log as it is.
    pub fn export_image(&mut self) -> Result<Vec<u8>, Error> {
        self.flush()?;
        self.compact_long_histories(true, true)?;
        Ok(self.commits.store().export_image()?)
    }

    fn with_store(store: Store, config: RepoConfig) -> Self {
        let actor = store.meta().actor.clone();
        let pending = Pending::new(config.max_pending_changes, config.max_pending_bytes);
        Self {
            commits: Committer::new(store),
            config,
            docs: HashMap::new(),
            unflushed: Vec::new(),
            oldest_unflushed: None,
            pending,
            subscribers: Subscribers::default(),
            actor,
            actor_is_fresh: true,
            lease: None,
        }
    }

    /// This device's identity.
    pub fn device_id(&self) -> DeviceId {
        self.commits.store().meta().device
    }

    /// This store's epoch.
    pub fn epoch(&self) -> Epoch {
        self.commits.store().meta().epoch
    }

    /// The automerge actor this device writes as (where no leased actor is claimed, see
    /// [`actor_for`](Self::actor_for)).
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    /// The settings this replica was opened with.
    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    /// Every document in the replica, sorted.
    pub fn doc_ids(&self) -> Result<Vec<DocId>, Error> {
        let mut ids = self.commits.store().doc_ids()?;
        let waiting = self.unflushed.iter().map(|u| &u.doc);
        for doc in waiting.chain(self.commits.in_flight_docs()) {
            if let Err(i) = ids.binary_search(doc) {
                ids.insert(i, doc.clone());
            }
        }
        Ok(ids)
    }

    /// Creates an empty document (nothing happens if it exists). Returns whether it was new.
    pub fn create(&mut self, doc: impl IntoDocId) -> Result<bool, Error> {
        let doc = doc.into_doc_id()?;
        Ok(self.commits.store().create_doc(&doc)?)
    }

    /// Whether the document exists here.
    pub fn contains(&mut self, doc: impl IntoDocId) -> Result<bool, Error> {
        let doc = doc.into_doc_id()?;
        Ok(self.docs.contains_key(&doc) || self.commits.store().load_doc(&doc)?.is_some())
    }

    /// Makes one atomic change to a document (created if missing): every operation `f` makes
    /// lands together or not at all. Returns after the change is committed to SQLite under
    /// [`Durability::Immediate`]; under group commit, check [`Receipt::offset`] or call
    /// [`flush`](Self::flush).
    pub fn change<T>(
        &mut self,
        doc: impl IntoDocId,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ModelError>,
    ) -> Result<Committed<T>, Error> {
        let id = doc.into_doc_id()?;
        if !self.actor_is_fresh {
            self.rotate_actor()?;
        }
        let wants_patches = self.subscribers.wants_patches(&id);
        let loaded = self.load_or_create(&id)?;
        let (value, change, patches) = loaded.transact(wants_patches, f)?;
        let Some(change) = change else {
            return Ok(Committed {
                value,
                receipt: None,
            });
        };
        let mut receipt = Receipt {
            doc: id.clone(),
            hash: change.hash,
            seq: change.seq,
            offset: None,
        };
        self.unflushed.push(Unflushed {
            doc: id.clone(),
            change,
        });
        let now = Instant::now();
        let oldest = *self.oldest_unflushed.get_or_insert(now);
        let due = match self.config.durability {
            Durability::Immediate => true,
            Durability::Group {
                max_changes,
                max_delay,
            } => self.unflushed.len() >= max_changes || now.duration_since(oldest) >= max_delay,
        };
        if due {
            receipt.offset = self.commit_due()?;
        }
        // Every change is told, even one without patches: writing a register's winning value
        // resolves its conflict (automerge deletes the other values) yet changes no visible
        // value, and a subscriber showing conflicts, or a transport polling after local
        // changes, must still hear of it.
        if self.subscribers.any(&id) {
            self.subscribers.notify(&DocEvent {
                doc: id,
                origin: Origin::Local,
                patches,
            });
        }
        Ok(Committed {
            value,
            receipt: Some(receipt),
        })
    }

    /// Writes as a new actor from now on (after a restore from a backup, the old actor's next
    /// sequence numbers may already be taken by changes this store lost).
    pub(crate) fn rotate_actor(&mut self) -> Result<(), Error> {
        self.flush()?;
        let actor = self.commits.store().rotate_actor()?;
        // The leased actor's history here can no longer be vouched for either.
        self.lease = None;
        for doc in self.docs.values_mut() {
            doc.inner.set_actor(actor.clone());
        }
        self.actor = actor;
        self.actor_is_fresh = true;
        Ok(())
    }

    /// Commits every local change still waiting for its group commit: waits for the group
    /// being committed in the background, if any, then commits the rest in one transaction.
    /// Returns their receipts, now with offsets. If a commit fails, its changes are undone in
    /// memory too (they were never acknowledged), with the later changes to the same documents,
    /// which build on them, and the error is returned.
    pub fn flush(&mut self) -> Result<Vec<Receipt>, Error> {
        let mut receipts = self.settle(true)?;
        if !self.unflushed.is_empty() {
            let batch = std::mem::take(&mut self.unflushed);
            self.oldest_unflushed = None;
            let outcome = self.commits.commit(&batch);
            receipts.extend(self.receipts(batch, outcome)?);
        }
        Ok(receipts)
    }

    /// Under group commit: flushes if the oldest waiting change has waited `max_delay`. Hosts
    /// call it from a timer; returns the receipts committed (with those of a background group
    /// commit that has finished).
    pub fn flush_due(&mut self) -> Result<Vec<Receipt>, Error> {
        match (self.config.durability, self.oldest_unflushed) {
            (Durability::Group { max_delay, .. }, Some(oldest))
                if oldest.elapsed() >= max_delay =>
            {
                self.flush()
            }
            (Durability::Immediate, Some(_)) => self.flush(),
            _ => self.settle(false),
        }
    }

    /// Commits the waiting changes now that their group is due; returns the offset of the
    /// newest one when it is committed on return. Under group commit the group goes to the
    /// background thread, and the caller goes on. While the group before it is still being
    /// committed, it keeps growing (the caller does not wait for that commit's `fsync`) up to
    /// [`MAX_GROUPS_WAITING`] groups, then waits.
    fn commit_due(&mut self) -> Result<Option<u64>, Error> {
        let newest = self.unflushed.last().map(|u| u.change.hash);
        let max_changes = match self.config.durability {
            Durability::Immediate => {
                let flushed = self.flush()?;
                return Ok(flushed
                    .iter()
                    .find(|r| Some(r.hash) == newest)
                    .and_then(|r| r.offset));
            }
            Durability::Group { max_changes, .. } => max_changes,
        };
        self.settle(false)?;
        if self.commits.in_flight() {
            if self.unflushed.len() < max_changes.saturating_mul(MAX_GROUPS_WAITING) {
                return Ok(None);
            }
            self.settle(true)?;
        }
        let batch = std::mem::take(&mut self.unflushed);
        self.oldest_unflushed = None;
        match self.commits.start(batch) {
            Ok(()) => Ok(None),
            Err(batch) => {
                let outcome = self.commits.commit(&batch);
                let flushed = self.receipts(batch, outcome)?;
                Ok(flushed.last().and_then(|r| r.offset))
            }
        }
    }

    /// Takes the outcome of the group committed in the background, waiting for it if `wait`:
    /// its receipts, or its error (see [`flush`](Self::flush)).
    fn settle(&mut self, wait: bool) -> Result<Vec<Receipt>, Error> {
        match self.commits.finish(wait) {
            None => Ok(Vec::new()),
            Some(Finished {
                batch,
                docs,
                outcome,
            }) => match outcome {
                Ok(offsets) => self.receipts(batch, Ok(offsets)),
                // `docs`, not the batch's: the batch is lost with a thread that panicked.
                Err(e) => {
                    self.forget(&docs);
                    Err(e.into())
                }
            },
        }
    }

    /// The receipts of a committed `batch`; on failure, undoes its changes in memory.
    fn receipts(&mut self, batch: Vec<Unflushed>, outcome: Outcome) -> Result<Vec<Receipt>, Error> {
        match outcome {
            Ok(offsets) => Ok(batch
                .into_iter()
                .zip(offsets)
                .map(|(u, offset)| Receipt {
                    doc: u.doc,
                    hash: u.change.hash,
                    seq: u.change.seq,
                    offset,
                })
                .collect()),
            Err(e) => {
                self.forget(&committer::docs_of(&batch));
                Err(e.into())
            }
        }
    }

    /// Drops `docs` from memory with their changes still waiting (which build on changes the
    /// store does not have): the documents are read again from the store when next used.
    fn forget(&mut self, docs: &[DocId]) {
        for doc in docs {
            self.docs.remove(doc);
        }
        self.unflushed
            .retain(|u| docs.binary_search(&u.doc).is_err());
        if self.unflushed.is_empty() {
            self.oldest_unflushed = None;
        }
    }

    /// Number of local changes waiting for their group commit (those being committed in the
    /// background included).
    pub fn unflushed(&self) -> usize {
        self.unflushed.len() + self.commits.in_flight_len()
    }

    /// Number of documents loaded in memory (opened by a read, a change or a sync since the
    /// replica was opened, and not unloaded).
    pub fn loaded_docs(&self) -> usize {
        self.docs.len()
    }

    /// Reads a document through typed views.
    pub fn view<T>(
        &mut self,
        doc: impl IntoDocId,
        f: impl FnOnce(&DocView<'_>) -> T,
    ) -> Result<T, Error> {
        let doc = self.doc(doc)?;
        Ok(f(&doc.view()))
    }

    /// The document, loaded into memory if needed.
    pub fn doc(&mut self, doc: impl IntoDocId) -> Result<&Doc, Error> {
        let id = doc.into_doc_id()?;
        if !self.docs.contains_key(&id) {
            let loaded = self
                .load(&id)?
                .ok_or_else(|| Error::NoSuchDoc { doc: id.clone() })?;
            self.docs.insert(id.clone(), loaded);
        }
        self.docs.get(&id).ok_or(Error::NoSuchDoc { doc: id })
    }

    /// The document as JSON (see [`Doc::to_json`]).
    pub fn to_json(&mut self, doc: impl IntoDocId) -> Result<serde_json::Value, Error> {
        Ok(self.doc(doc)?.to_json())
    }

    /// Drops a document from memory (it stays on disk). Flushes first.
    pub fn unload(&mut self, doc: impl IntoDocId) -> Result<(), Error> {
        let id = doc.into_doc_id()?;
        self.flush()?;
        self.docs.remove(&id);
        Ok(())
    }

    /// Calls `callback` with what changed, after every local change to `doc` (or to any
    /// document, with `None`) and after remote changes are durably applied.
    pub fn subscribe(
        &mut self,
        doc: Option<&DocId>,
        callback: impl FnMut(&DocEvent) + Send + 'static,
    ) -> SubscriptionId {
        self.subscribers.add(doc.cloned(), true, Box::new(callback))
    }

    /// Like [`subscribe`](Self::subscribe), but the events carry no patches: for a view that
    /// rereads what it shows, or a transport that only needs to know that something changed.
    /// Patches cost a good share of applying changes (about two thirds when a page receives a
    /// week of calendar events); a change that only such subscribers hear of computes none.
    pub fn watch(
        &mut self,
        doc: Option<&DocId>,
        callback: impl FnMut(&DocEvent) + Send + 'static,
    ) -> SubscriptionId {
        self.subscribers
            .add(doc.cloned(), false, Box::new(callback))
    }

    /// Whether a subscription (from [`subscribe`](Self::subscribe) or [`watch`](Self::watch))
    /// hears of changes to `doc`.
    pub fn is_watched(&self, doc: &DocId) -> bool {
        self.subscribers.any(doc)
    }

    /// Cancels a subscription. Returns whether it existed.
    pub fn unsubscribe(&mut self, id: SubscriptionId) -> bool {
        self.subscribers.remove(id)
    }

    /// What this replica holds of a document: a token to carry to another replica (after
    /// committing waiting changes, so the token names only durable ones).
    pub fn version(&mut self, doc: impl IntoDocId) -> Result<VersionVector, Error> {
        let id = doc.into_doc_id()?;
        self.flush()?;
        Ok(self.commits.store().version(&id)?)
    }

    /// Whether this replica holds everything `version` names of the document
    /// (read-your-writes across devices).
    pub fn has_caught_up(
        &mut self,
        doc: impl IntoDocId,
        version: &VersionVector,
    ) -> Result<bool, Error> {
        Ok(self.version(doc)?.includes(version))
    }

    /// Replaces the document's logged changes with a compact snapshot. Peers whose cursor
    /// falls before it are sent the snapshot instead.
    pub fn compact(&mut self, doc: impl IntoDocId) -> Result<(), Error> {
        let id = doc.into_doc_id()?;
        self.flush()?;
        let snapshot = self.doc(&id)?.save();
        let version = self.commits.store().version(&id)?;
        let upto = self.commits.store().log_head();
        self.commits
            .store()
            .compact(&id, &snapshot, &version, upto)?;
        Ok(())
    }

    /// Commits waiting changes and compacts every loaded document with a long history: at
    /// least [`LONG_HISTORY`](Self::LONG_HISTORY) logged changes, or
    /// [`LONG_HISTORY_BYTES`](Self::LONG_HISTORY_BYTES) of them, whose bytes outweigh its
    /// snapshot. Returns how many documents it compacted. Call it when idle and before closing
    /// ([`close`](Self::close) does).
    ///
    /// Only loaded documents: compacting one that is not loaded would cost replaying its
    /// history, and a document grows its log only while loaded (a write or a sync loads it),
    /// so the documents worth compacting are loaded. [`maintain_all`](Self::maintain_all)
    /// compacts the others too.
    pub fn maintain(&mut self) -> Result<usize, Error> {
        self.flush()?;
        self.compact_long_histories(false, false)
    }

    /// [`maintain`](Self::maintain) for every document, loaded or not: each one not loaded
    /// whose history is long is loaded (replaying it), compacted and dropped from memory, one
    /// at a time. Returns how many documents it compacted.
    ///
    /// A replica whose process ended without [`close`](Self::close) (a killed browser tab's
    /// Worker, a crash) may hold long histories that no later `maintain` sees until a write
    /// loads them, while every peer that is sent such a document in full replays it. A host
    /// calls this once, when idle after opening such a replica;
    /// [`export_image`](Self::export_image) calls it.
    pub fn maintain_all(&mut self) -> Result<usize, Error> {
        self.flush()?;
        self.compact_long_histories(true, false)
    }

    /// The fewest logged changes that make a document's history long enough to compact.
    pub const LONG_HISTORY: u64 = 1_000;

    /// The fewest bytes of logged changes that make a document's history long enough to
    /// compact, however few the changes: a few large ones (an import, typing gathered under
    /// group commit in the npm package) cost as much to replay as many small ones.
    pub const LONG_HISTORY_BYTES: u64 = 64 * 1024;

    /// Compacts the documents with a long history (see [`maintain`](Self::maintain)), those
    /// not loaded too if `unloaded_too` (each loaded for it, then dropped). Returns how many.
    /// With `skip_failed`, a document whose compaction fails is left as it is and the others
    /// are still compacted; else the first failure is returned.
    fn compact_long_histories(
        &mut self,
        unloaded_too: bool,
        skip_failed: bool,
    ) -> Result<usize, Error> {
        let mut compacted = 0;
        // Collected first: compacting takes the store again.
        let histories = self
            .commits
            .store()
            .long_histories(Self::LONG_HISTORY, Self::LONG_HISTORY_BYTES)?;
        for history in histories {
            let loaded = self.docs.contains_key(&history.doc);
            if history.logged_bytes <= history.snapshot_bytes || !(loaded || unloaded_too) {
                continue;
            }
            let done = self.compact(&history.doc);
            if !loaded {
                self.docs.remove(&history.doc);
            }
            match done {
                Ok(()) => compacted += 1,
                Err(_) if skip_failed => {}
                Err(e) => return Err(e),
            }
        }
        Ok(compacted)
    }

    /// Commits waiting changes, compacts long histories, and closes the database.
    pub fn close(mut self) -> Result<(), Error> {
        self.maintain()?;
        Ok(())
    }

    /// Checks the database with SQLite's integrity check.
    pub fn integrity_check(&self) -> Result<(), Error> {
        Ok(self.commits.store().integrity_check()?)
    }

    /// The underlying store, for inspection. Hold it briefly: a group commit running in the
    /// background waits for it, and so does every other use of the replica.
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.commits.store()
    }

    pub(crate) fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn load(&self, id: &DocId) -> Result<Option<Doc>, Error> {
        let Some(stored) = self.commits.store().load_doc(id)? else {
            return Ok(None);
        };
        let tail: Vec<&[u8]> = stored.tail.iter().map(Vec::as_slice).collect();
        Ok(Some(Doc::load(
            stored.snapshot.as_deref(),
            &tail,
            self.actor_for(id).clone(),
            self.config.text_units,
        )?))
    }

    fn load_or_create(&mut self, id: &DocId) -> Result<&mut Doc, Error> {
        if !self.docs.contains_key(id) {
            let doc = match self.load(id)? {
                Some(doc) => doc,
                None => Doc::new(self.actor_for(id).clone(), self.config.text_units),
            };
            self.docs.insert(id.clone(), doc);
        }
        self.docs
            .get_mut(id)
            .ok_or_else(|| Error::NoSuchDoc { doc: id.clone() })
    }
}

/// A lease is for in-memory replicas only: a file or an image has its own lasting identity.
fn refuse_lease(config: &RepoConfig) -> Result<(), Error> {
    match config.lease {
        Some(_) => Err(Error::InvalidLease {
            why: "a lease applies to in-memory replicas only (Repo::in_memory): \
                  open a file or an image without RepoConfig::lease",
        }),
        None => Ok(()),
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        // Best effort: changes not yet committed were never acknowledged, but committing them
        // is kinder than dropping them.
        let _ = self.flush();
    }
}
