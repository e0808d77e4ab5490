//! The replica as a [`SyncHost`]: what the sync protocol reads from it and writes to it.

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, Change, ChangeHash};

use crate::model::{Doc, Patch};
use crate::store::{LogEntry, Missing, NewEntry, PeerRecord};
use crate::sync::{
    Applied, ChangeFate, HostIdentity, Interest, SyncError, SyncHost, WireChange, WireSnapshot,
    checked_change,
};
use crate::{DeviceId, DocId, Error, VersionVector};

use super::{DocEvent, Origin, Repo};

/// A change accepted for the log, owned until the batch commits.
struct Accepted {
    doc: DocId,
    actor: ActorId,
    seq: u64,
    hash: ChangeHash,
    origin: DeviceId,
    bytes: Vec<u8>,
}

impl Accepted {
    fn new(doc: &DocId, change: &Change, origin: DeviceId) -> Self {
        Self {
            doc: doc.clone(),
            actor: change.actor_id().clone(),
            seq: change.seq(),
            hash: change.hash(),
            origin,
            bytes: change.raw_bytes().to_vec(),
        }
    }
}

fn to_sync(e: Error) -> SyncError {
    match e {
        Error::Store(e) => SyncError::Store(e),
        Error::Model(e) => SyncError::Model(e),
        Error::Sync(e) => e,
        other => SyncError::Host {
            source: Box::new(other),
        },
    }
}

impl Repo {
    fn apply_remote(
        &mut self,
        from: DeviceId,
        snapshots: Vec<WireSnapshot>,
        changes: Vec<(DocId, Change)>,
        touched: &mut HashSet<DocId>,
    ) -> Result<Applied, SyncError> {
        // A local group committing in the background finishes first: a failed one drops its
        // documents from memory, and those must not take remote changes on top of it.
        self.settle(true).map_err(to_sync)?;
        let mut fates = vec![ChangeFate::Duplicate; changes.len()];
        let mut accepted: Vec<Accepted> = Vec::new();
        let mut patches: HashMap<DocId, Vec<Patch>> = HashMap::new();

        for snapshot in snapshots {
            touched.insert(snapshot.doc.clone());
            let wants = self.subscribers.wants_patches(&snapshot.doc);
            let doc = self.load_or_create(&snapshot.doc).map_err(to_sync)?;
            let (new, p) = doc.merge_snapshot(&snapshot.bytes, wants)?;
            accepted.extend(new.iter().map(|c| Accepted::new(&snapshot.doc, c, from)));
            patches.entry(snapshot.doc).or_default().extend(p);
        }

        let mut by_doc: Vec<(DocId, Vec<(usize, Change)>)> = Vec::new();
        for (i, (doc, change)) in changes.into_iter().enumerate() {
            match by_doc.iter_mut().find(|(d, _)| *d == doc) {
                Some((_, list)) => list.push((i, change)),
                None => by_doc.push((doc, vec![(i, change)])),
            }
        }
        let snapshot_docs: Vec<DocId> = patches.keys().cloned().collect();
        for doc_id in snapshot_docs {
            if !by_doc.iter().any(|(d, _)| *d == doc_id) && self.pending.has(&doc_id) {
                by_doc.push((doc_id, Vec::new()));
            }
        }

        for (doc_id, list) in by_doc {
            touched.insert(doc_id.clone());
            let wants = self.subscribers.wants_patches(&doc_id);
            self.load_or_create(&doc_id).map_err(to_sync)?;
            let Some(doc) = self.docs.get(&doc_id) else {
                continue;
            };
            let mut present: HashSet<ChangeHash> = HashSet::new();
            let mut ready: Vec<Change> = Vec::new();
            for (i, change) in list {
                let hash = change.hash();
                if doc.has_change(&hash) || present.contains(&hash) {
                    continue;
                }
                if deps_met(doc, &present, &change) {
                    present.insert(hash);
                    accepted.push(Accepted::new(&doc_id, &change, from));
                    ready.push(change);
                    if let Some(fate) = fates.get_mut(i) {
                        *fate = ChangeFate::Applied;
                    }
                } else {
                    self.pending.push(&doc_id, change, from)?;
                    if let Some(fate) = fates.get_mut(i) {
                        *fate = ChangeFate::Pending;
                    }
                }
            }
            // Earlier arrivals that these changes unblock.
            let mut waiting = self.pending.take(&doc_id);
            let mut progress = true;
            while progress && !waiting.is_empty() {
                progress = false;
                let mut still = Vec::new();
                for (change, origin) in waiting {
                    let hash = change.hash();
                    if doc.has_change(&hash) || present.contains(&hash) {
                        progress = true;
                    } else if deps_met(doc, &present, &change) {
                        present.insert(hash);
                        accepted.push(Accepted::new(&doc_id, &change, origin));
                        ready.push(change);
                        progress = true;
                    } else {
                        still.push((change, origin));
                    }
                }
                waiting = still;
            }
            for (change, origin) in waiting {
                self.pending.push(&doc_id, change, origin)?;
            }
            if ready.is_empty() {
                continue;
            }
            let doc = self.load_or_create(&doc_id).map_err(to_sync)?;
            let p = doc.apply(ready, wants)?;
            patches.entry(doc_id).or_default().extend(p);
        }

        let entries: Vec<NewEntry<'_>> = accepted
            .iter()
            .map(|a| NewEntry {
                doc: &a.doc,
                actor: &a.actor,
                seq: a.seq,
                hash: a.hash,
                origin: Some(a.origin),
                bytes: &a.bytes,
            })
            .collect();
        self.commits.store().append(&entries)?;

        // One event per document that took changes, patches or not (see `Repo::change`).
        for (doc, patches) in patches {
            self.subscribers.notify(&DocEvent {
                doc,
                origin: Origin::Remote { peer: from },
                patches,
            });
        }
        Ok(Applied { fates })
    }

    /// Number of remote changes waiting for missing dependencies.
    pub fn pending_changes(&self) -> usize {
        self.pending.len()
    }
}

fn deps_met(doc: &Doc, present: &HashSet<ChangeHash>, change: &Change) -> bool {
    change
        .deps()
        .iter()
        .all(|d| present.contains(d) || doc.has_change(d))
}

impl SyncHost for Repo {
    fn identity(&self) -> HostIdentity {
        HostIdentity {
            device: self.device_id(),
            epoch: self.epoch(),
            label: self.config.label.clone(),
        }
    }

    fn log_head(&self) -> u64 {
        self.commits.store().log_head()
    }

    fn commit_waiting(&mut self) -> Result<(), SyncError> {
        self.flush().map(drop).map_err(to_sync)
    }

    fn read_log(
        &mut self,
        after: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>, SyncError> {
        self.flush().map_err(to_sync)?;
        Ok(self
            .commits
            .store()
            .read_log(after, max_entries, max_bytes)?)
    }

    fn compacted_after(&mut self, after: u64) -> Result<Vec<DocId>, SyncError> {
        Ok(self.commits.store().compacted_after(after)?)
    }

    fn snapshot(&mut self, doc: &DocId) -> Result<Option<Vec<u8>>, SyncError> {
        Ok(self.commits.store().snapshot(doc)?.map(|(bytes, _)| bytes))
    }

    fn versions(&mut self, interest: &Interest) -> Result<Vec<(DocId, VersionVector)>, SyncError> {
        self.flush().map_err(to_sync)?;
        Ok(match interest {
            Interest::Docs(docs) => self.commits.store().versions_of(docs)?,
            _ => self.commits.store().versions(&|doc| interest.wants(doc))?,
        })
    }

    fn missing(&mut self, doc: &DocId, theirs: &VersionVector) -> Result<Missing, SyncError> {
        self.flush().map_err(to_sync)?;
        Ok(self.commits.store().missing(doc, theirs)?)
    }

    fn apply(
        &mut self,
        from: DeviceId,
        snapshots: Vec<WireSnapshot>,
        changes: Vec<WireChange>,
    ) -> Result<Applied, SyncError> {
        self.flush().map_err(to_sync)?;
        let parsed = changes
            .into_iter()
            .map(checked_change)
            .collect::<Result<Vec<_>, _>>()?;
        let mut touched = HashSet::new();
        // A refused batch must leave the queue as it was, not holding the part that fit.
        let queued = self.pending.clone();
        let result = self.apply_remote(from, snapshots, parsed, &mut touched);
        if result.is_err() {
            self.pending = queued;
            // Memory may hold changes the store refused: reload those documents from disk.
            for doc in touched {
                self.docs.remove(&doc);
            }
        }
        result
    }

    fn waiting_from(&self, peer: &DeviceId) -> Option<usize> {
        Some(self.pending.count_from(peer))
    }

    fn peer(&mut self, peer: &DeviceId) -> Result<Option<PeerRecord>, SyncError> {
        Ok(self.commits.store().peer(peer)?)
    }

    fn save_peer(&mut self, record: &PeerRecord) -> Result<(), SyncError> {
        Ok(self.commits.store().save_peer(record)?)
    }

    fn restored_from_backup(&mut self) -> Result<(), SyncError> {
        self.rotate_actor().map_err(to_sync)
    }

    fn now_ms(&self) -> u64 {
        Repo::now_ms()
    }
}
