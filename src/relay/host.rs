//! [`RelayHost`]: the relay as a [`SyncHost`], one short-lived value per call into a
//! connection's session. It validates what devices send, stages accepted changes in the core's
//! open batch, and serves the log from the in-memory tail or the store.
//!
//! `apply` reports changes as applied once they are *staged*: the core holds every frame the
//! session produces until the batch commits, so no acknowledgement leaves the relay before the
//! changes it covers are durable. If the commit fails, every connection that took part is
//! closed (its session's view of what is stored would be wrong) and the devices resume from
//! what is durable.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, Change, ChangeHash};

use crate::store::{LogEntry, Missing, PeerRecord};
use crate::sync::{
    Applied, ChangeFate, HostIdentity, Interest, SyncError, SyncHost, WireChange, WireSnapshot,
    checked_change,
};
use crate::{DeviceId, DocId, VersionVector};

use super::core::{ConnState, Shared};
use super::store::{NewChange, RelayStoreError};

/// Most entries read from the store per call when a device is behind the in-memory tail.
const STORE_CHUNK: usize = 2_000;

fn host_err(e: RelayStoreError) -> SyncError {
    SyncError::Host {
        source: Box::new(e),
    }
}

fn invalid(doc: &DocId, reason: impl Into<String>) -> SyncError {
    SyncError::InvalidChange {
        doc: doc.clone(),
        reason: reason.into(),
    }
}

/// The relay's side of one connection, as the sync session sees it.
pub(crate) struct RelayHost<'a> {
    pub(crate) shared: &'a mut Shared,
    pub(crate) conn: &'a mut ConnState,
}

/// What the classification of one change decided.
enum Verdict {
    Duplicate,
    Ready,
    Waiting,
}

impl RelayHost<'_> {
    /// The highest seq of `actor` in `doc` that is committed or staged (in this call or batch).
    fn known_seq(
        &mut self,
        doc: &DocId,
        actor: &automerge::ActorId,
        local: &HashMap<DocId, VersionVector>,
    ) -> Result<u64, SyncError> {
        let committed = self.shared.doc_state(doc).map_err(host_err)?.vv.get(actor);
        let staged = self.shared.staged.vv.get(doc).map_or(0, |vv| vv.get(actor));
        let here = local.get(doc).map_or(0, |vv| vv.get(actor));
        Ok(committed.max(staged).max(here))
    }

    fn has_dep(
        &mut self,
        doc: &DocId,
        hash: &ChangeHash,
        local: &HashSet<ChangeHash>,
    ) -> Result<bool, SyncError> {
        if local.contains(hash) || self.shared.staged.hashes.contains(hash) {
            return Ok(true);
        }
        if self
            .shared
            .doc_state(doc)
            .map_err(host_err)?
            .recent
            .contains(hash)
        {
            return Ok(true);
        }
        self.shared.store.has_change(doc, hash).map_err(host_err)
    }

    fn classify(
        &mut self,
        doc: &DocId,
        change: &Change,
        local_vv: &HashMap<DocId, VersionVector>,
        local_hashes: &HashSet<ChangeHash>,
    ) -> Result<Verdict, SyncError> {
        let known = self.known_seq(doc, change.actor_id(), local_vv)?;
        if change.seq() <= known {
            return Ok(Verdict::Duplicate);
        }
        if change.seq() > known.saturating_add(1) {
            return Ok(Verdict::Waiting);
        }
        for dep in change.deps() {
            if !self.has_dep(doc, dep, local_hashes)? {
                return Ok(Verdict::Waiting);
            }
        }
        Ok(Verdict::Ready)
    }

    /// Validates one change's bytes against its envelope and the relay's limits.
    fn parse(&mut self, c: WireChange) -> Result<(DocId, Change), SyncError> {
        let limit = self.shared.config.max_change_bytes;
        if c.bytes.len() > limit {
            return Err(invalid(
                &c.doc,
                format!(
                    "{} bytes is more than this relay accepts per change ({limit})",
                    c.bytes.len()
                ),
            ));
        }
        // Parsed already by the connection's task, off the core thread (see `Core::message`):
        // the same bytes, in the same order, less what the session filtered out.
        while let Some(change) = self.conn.parsed.pop_front() {
            if change.actor_id() == &c.actor
                && change.seq() == c.seq
                && change.raw_bytes() == c.bytes
            {
                return Ok((c.doc, change));
            }
        }
        checked_change(c)
    }

    /// The changes inside a snapshot a device sent.
    fn unpack(&self, s: WireSnapshot) -> Result<Vec<(DocId, Change)>, SyncError> {
        let limit = self.shared.config.max_snapshot_bytes;
        if s.bytes.len() > limit {
            return Err(invalid(
                &s.doc,
                format!(
                    "a snapshot of {} bytes is more than this relay accepts ({limit})",
                    s.bytes.len()
                ),
            ));
        }
        let doc = Automerge::load(&s.bytes)
            .map_err(|e| invalid(&s.doc, format!("not an automerge document: {e}")))?;
        Ok(doc
            .get_changes(&[])
            .into_iter()
            .map(|c| (s.doc.clone(), c))
            .collect())
    }
}

impl SyncHost for RelayHost<'_> {
    fn identity(&self) -> HostIdentity {
        self.shared.identity.clone()
    }

    fn log_head(&self) -> u64 {
        self.shared.head
    }

    fn read_log(
        &mut self,
        after: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>, SyncError> {
        let (entries, _) = self.read_log_wanted(after, max_entries, max_bytes, &|_| true)?;
        Ok(entries)
    }

    fn read_log_wanted(
        &mut self,
        after: u64,
        max_entries: usize,
        max_bytes: usize,
        want: &dyn Fn(&DocId) -> bool,
    ) -> Result<(Vec<LogEntry>, u64), SyncError> {
        let head = self.shared.head;
        if after >= head || self.conn.out_of_budget(&self.shared.config) {
            return Ok((Vec::new(), after));
        }
        let conn: &ConnState = self.conn;
        let filter =
            |e: &LogEntry| e.origin != Some(conn.device) && conn.wants(&e.doc) && want(&e.doc);
        let docs = match &conn.interest {
            Interest::Docs(docs) if docs.len() <= 64 => Some(docs.as_slice()),
            _ => None,
        };
        let (entries, through) = if self.shared.tail.covers(after) {
            match docs {
                Some(docs) => {
                    self.shared
                        .tail
                        .scan_docs(docs, after, &filter, max_entries, max_bytes)
                }
                None => self
                    .shared
                    .tail
                    .scan(after, &filter, max_entries, max_bytes),
            }
        } else {
            let store = &mut self.shared.store;
            match docs {
                Some(docs) => {
                    let mut all = Vec::new();
                    let mut through = head;
                    for doc in docs {
                        let part = store
                            .read_doc_log(doc, after, STORE_CHUNK)
                            .map_err(host_err)?;
                        if part.len() >= STORE_CHUNK
                            && let Some(last) = part.last()
                        {
                            through = through.min(last.offset);
                        }
                        all.extend(part);
                    }
                    all.retain(|e| e.offset <= through && filter(e));
                    all.sort_unstable_by_key(|e| e.offset);
                    let mut bytes = 0usize;
                    let mut keep = 0usize;
                    for e in &all {
                        if keep >= max_entries
                            || (keep > 0 && bytes.saturating_add(e.bytes.len()) > max_bytes)
                        {
                            through = e.offset.saturating_sub(1);
                            break;
                        }
                        bytes = bytes.saturating_add(e.bytes.len());
                        keep += 1;
                    }
                    all.truncate(keep);
                    (all, through)
                }
                None => {
                    let chunk = store
                        .read_log(after, STORE_CHUNK.min(max_entries.max(1)), max_bytes)
                        .map_err(host_err)?;
                    let through = match chunk.last() {
                        Some(last) if chunk.len() >= STORE_CHUNK.min(max_entries.max(1)) => {
                            last.offset
                        }
                        Some(last)
                            if chunk.iter().map(|e| e.bytes.len()).sum::<usize>() >= max_bytes =>
                        {
                            last.offset
                        }
                        _ => head,
                    };
                    (chunk.into_iter().filter(|e| filter(e)).collect(), through)
                }
            }
        };
        let through = through.min(head);
        // Advance over stretches holding nothing for this device only while catching up to
        // the head it was told about: afterwards, silence costs no frame and no ack.
        if entries.is_empty() && after >= self.conn.catch_up_to {
            return Ok((Vec::new(), after));
        }
        self.conn.produced = self
            .conn
            .produced
            .saturating_add(entries.iter().map(|e| e.bytes.len() + 64).sum::<usize>());
        self.conn.last_through = self.conn.last_through.max(through);
        Ok((entries, through))
    }

    fn compacted_after(&mut self, after: u64) -> Result<Vec<DocId>, SyncError> {
        // The tail holds every entry after `after` (compaction only deletes rows from the
        // database), so streaming from it misses nothing a snapshot would have to bring. This
        // spares a query per streaming poll: one per follower per commit.
        if self.shared.tail.covers(after) {
            return Ok(Vec::new());
        }
        let docs = self.shared.store.compacted_after(after).map_err(host_err)?;
        Ok(docs.into_iter().filter(|d| self.conn.wants(d)).collect())
    }

    fn snapshot(&mut self, doc: &DocId) -> Result<Option<Vec<u8>>, SyncError> {
        Ok(self
            .shared
            .store
            .snapshot(doc)
            .map_err(host_err)?
            .map(|s| s.bytes))
    }

    fn versions(&mut self, interest: &Interest) -> Result<Vec<(DocId, VersionVector)>, SyncError> {
        let prefix = self.conn.scope_prefix();
        if let Interest::Docs(docs) = interest {
            // One lookup per followed document, not a scan of every document in scope.
            let mut out = Vec::with_capacity(docs.len());
            for doc in docs.iter().filter(|d| d.as_str().starts_with(&prefix)) {
                let version = self.shared.store.version(doc).map_err(host_err)?;
                if !version.is_empty() {
                    out.push((doc.clone(), version));
                }
            }
            return Ok(out);
        }
        let all = self.shared.store.versions(&prefix).map_err(host_err)?;
        Ok(all.into_iter().filter(|(d, _)| interest.wants(d)).collect())
    }

    fn missing(&mut self, doc: &DocId, theirs: &VersionVector) -> Result<Missing, SyncError> {
        self.shared.store.missing(doc, theirs).map_err(host_err)
    }

    fn apply(
        &mut self,
        from: DeviceId,
        snapshots: Vec<WireSnapshot>,
        changes: Vec<WireChange>,
    ) -> Result<Applied, SyncError> {
        // Check everything before staging anything: one bad change fails the whole call.
        let mut parsed: Vec<(Option<usize>, DocId, Change)> = Vec::new();
        for s in snapshots {
            parsed.extend(self.unpack(s)?.into_iter().map(|(d, c)| (None, d, c)));
        }
        let count = changes.len();
        for (i, c) in changes.into_iter().enumerate() {
            let (doc, change) = self.parse(c)?;
            parsed.push((Some(i), doc, change));
        }

        let mut fates = vec![ChangeFate::Duplicate; count];
        let mut ready: Vec<NewChange> = Vec::new();
        let mut local_vv: HashMap<DocId, VersionVector> = HashMap::new();
        let mut local_hashes: HashSet<ChangeHash> = HashSet::new();
        let mut refreshed: HashSet<DocId> = HashSet::new();

        let mut queue = parsed;
        // Earlier arrivals that waited for dependencies get another chance.
        queue.extend(self.conn.pending.drain(..).map(|(d, c)| (None, d, c)));
        self.conn.pending_bytes = 0;
        loop {
            let mut progress = false;
            let mut still = Vec::new();
            for (i, doc, change) in std::mem::take(&mut queue) {
                let mut verdict = self.classify(&doc, &change, &local_vv, &local_hashes)?;
                if matches!(verdict, Verdict::Waiting) && refreshed.insert(doc.clone()) {
                    // Another relay over the same database may have stored what we miss.
                    self.shared.refresh_doc(&doc).map_err(host_err)?;
                    verdict = self.classify(&doc, &change, &local_vv, &local_hashes)?;
                }
                match verdict {
                    Verdict::Duplicate => {}
                    Verdict::Waiting => still.push((i, doc, change)),
                    Verdict::Ready => {
                        progress = true;
                        local_vv
                            .entry(doc.clone())
                            .or_default()
                            .observe(change.actor_id(), change.seq());
                        local_hashes.insert(change.hash());
                        if let Some(fate) = i.and_then(|i| fates.get_mut(i)) {
                            *fate = ChangeFate::Applied;
                        }
                        ready.push(NewChange::from_change(doc, &change, Some(from)));
                    }
                }
            }
            queue = still;
            if !progress || queue.is_empty() {
                break;
            }
        }
        let waiting = queue;
        let limits = &self.shared.config;
        for (i, doc, change) in waiting {
            let size = change.raw_bytes().len();
            if self.conn.pending.len() >= limits.max_pending_changes
                || self.conn.pending_bytes.saturating_add(size) > limits.max_pending_bytes
            {
                return Err(SyncError::PendingOverflow {
                    waiting: self.conn.pending.len(),
                    limit: limits.max_pending_changes,
                });
            }
            if let Some(fate) = i.and_then(|i| fates.get_mut(i)) {
                *fate = ChangeFate::Pending;
            }
            self.conn.pending_bytes = self.conn.pending_bytes.saturating_add(size);
            self.conn.pending.push((doc, change));
        }
        self.shared.stage(ready, local_vv, local_hashes);
        Ok(Applied { fates })
    }

    fn waiting_from(&self, peer: &DeviceId) -> Option<usize> {
        // The queue is this connection's: everything in it came from its device.
        (*peer == self.conn.device).then_some(self.conn.pending.len())
    }

    fn peer(&mut self, peer: &DeviceId) -> Result<Option<PeerRecord>, SyncError> {
        if *peer == self.conn.device {
            if !self.conn.record_loaded {
                // A previous connection's record may still wait for its commit.
                self.conn.record = match self.shared.staged.peers.get(peer) {
                    Some(r) => Some(r.clone()),
                    None => self.shared.store.peer(peer).map_err(host_err)?,
                };
                self.conn.record_loaded = true;
            }
            return Ok(self.conn.record.clone());
        }
        if let Some(r) = self.shared.staged.peers.get(peer) {
            return Ok(Some(r.clone()));
        }
        self.shared.store.peer(peer).map_err(host_err)
    }

    fn save_peer(&mut self, record: &PeerRecord) -> Result<(), SyncError> {
        if record.peer != self.conn.device {
            self.shared.staged.peers.insert(record.peer, record.clone());
            return Ok(());
        }
        // Only offsets moved (the same epochs, label and interest): written at most every
        // PEER_SAVE_EVERY; anything else at once.
        let only_offsets = self.conn.record.as_ref().is_some_and(|old| {
            old.label == record.label
                && old.interest == record.interest
                && old.their_log.map(|(e, _)| e) == record.their_log.map(|(e, _)| e)
        });
        self.conn.record = Some(record.clone());
        self.conn.record_loaded = true;
        self.conn.record_unsaved = true;
        let due = self
            .conn
            .record_staged_at
            .is_none_or(|at| at.elapsed() >= super::core::PEER_SAVE_EVERY);
        if due || !only_offsets {
            self.conn.stage_record(&mut self.shared.staged);
        }
        Ok(())
    }

    fn restored_from_backup(&mut self) -> Result<(), SyncError> {
        // The relay writes no changes of its own, so there is no actor to rotate; but a device
        // holding more of our log than we have means the relay's database went back in time.
        tracing::error!(
            device = %self.conn.device,
            "a device holds more of this relay's log than the relay has: the relay database was \
             restored from a backup or replaced; devices fall back to full resyncs"
        );
        Ok(())
    }

    fn now_ms(&self) -> u64 {
        super::store::now_ms()
    }
}
