//! Remote changes waiting for their dependencies, in a bounded queue.

use std::collections::HashMap;

use automerge::Change;

use crate::sync::SyncError;
use crate::{DeviceId, DocId};

/// Changes whose dependencies have not arrived yet, per document. Bounded by count and bytes;
/// a change that would overflow it is refused (the peer can send it again later, in order).
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    by_doc: HashMap<DocId, Vec<(Change, DeviceId)>>,
    count: usize,
    bytes: usize,
    max_count: usize,
    max_bytes: usize,
}

impl Pending {
    pub(crate) fn new(max_count: usize, max_bytes: usize) -> Self {
        Self {
            by_doc: HashMap::new(),
            count: 0,
            bytes: 0,
            max_count,
            max_bytes,
        }
    }

    /// Number of waiting changes.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Queues a change, unless it is already queued. Fails when the queue is full.
    pub(crate) fn push(
        &mut self,
        doc: &DocId,
        change: Change,
        from: DeviceId,
    ) -> Result<(), SyncError> {
        let size = change.raw_bytes().len();
        let queue = self.by_doc.entry(doc.clone()).or_default();
        if queue.iter().any(|(c, _)| c.hash() == change.hash()) {
            return Ok(());
        }
        if self.count >= self.max_count || self.bytes + size > self.max_bytes {
            return Err(SyncError::PendingOverflow {
                waiting: self.count,
                limit: self.max_count,
            });
        }
        queue.push((change, from));
        self.count += 1;
        self.bytes += size;
        Ok(())
    }

    /// Takes every waiting change of `doc`.
    pub(crate) fn take(&mut self, doc: &DocId) -> Vec<(Change, DeviceId)> {
        let taken = self.by_doc.remove(doc).unwrap_or_default();
        self.count -= taken.len();
        self.bytes -= taken
            .iter()
            .map(|(c, _)| c.raw_bytes().len())
            .sum::<usize>();
        taken
    }

    /// Number of waiting changes received from `peer`.
    pub(crate) fn count_from(&self, peer: &DeviceId) -> usize {
        self.by_doc
            .values()
            .flatten()
            .filter(|(_, from)| from == peer)
            .count()
    }

    /// Whether `doc` has waiting changes.
    pub(crate) fn has(&self, doc: &DocId) -> bool {
        self.by_doc.contains_key(doc)
    }
}
