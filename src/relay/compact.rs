//! The compactor: a thread with its own store connection that folds a document's logged
//! changes into an automerge snapshot, so new devices bootstrap from the snapshot plus a short
//! tail and the log stops growing without bound.

use std::sync::mpsc::{Receiver, Sender};

use automerge::{Automerge, Change};

use crate::DocId;

use super::core::Event;
use super::store::{RelayStore, RelayStoreError};

/// Why one compaction failed (the document stays as it was).
#[derive(Debug, thiserror::Error)]
enum CompactError {
    #[error(transparent)]
    Store(#[from] RelayStoreError),
    #[error("stored data of document {doc} does not load into automerge: {reason}")]
    Automerge { doc: DocId, reason: String },
}

/// Compacts one document; returns how many changes remain logged after the snapshot.
pub(crate) fn compact_doc(store: &mut dyn RelayStore, doc: &DocId) -> Result<u64, RelayStoreError> {
    match compact_inner(store, doc) {
        Ok(n) => Ok(n),
        Err(CompactError::Store(e)) => Err(e),
        Err(e) => {
            tracing::error!(%doc, error = %e, "compaction skipped");
            store.tail_len(doc)
        }
    }
}

fn compact_inner(store: &mut dyn RelayStore, doc: &DocId) -> Result<u64, CompactError> {
    let bad = |reason: String| CompactError::Automerge {
        doc: doc.clone(),
        reason,
    };
    let Some(stored) = store.load_doc(doc)? else {
        return Ok(0);
    };
    let Some(upto) = stored.tail.last().map(|e| e.offset) else {
        return Ok(0);
    };
    let (mut am, mut version) = match stored.snapshot {
        Some(s) => (
            Automerge::load(&s.bytes).map_err(|e| bad(e.to_string()))?,
            s.version,
        ),
        None => (Automerge::new(), crate::VersionVector::new()),
    };
    let mut changes = Vec::with_capacity(stored.tail.len());
    for e in &stored.tail {
        version.observe(&e.actor, e.seq);
        changes.push(Change::from_bytes(e.bytes.clone()).map_err(|e| bad(e.to_string()))?);
    }
    am.apply_changes(changes).map_err(|e| bad(e.to_string()))?;
    let bytes = am.save();
    store.compact(doc, &bytes, &version, upto)?;
    tracing::debug!(%doc, upto, snapshot_bytes = bytes.len(), "compacted");
    Ok(store.tail_len(doc)?)
}

/// Runs the compactor until the core drops its sender.
pub(crate) fn run(mut store: Box<dyn RelayStore>, rx: Receiver<DocId>, core: Sender<Event>) {
    for doc in rx {
        let remaining = match compact_doc(store.as_mut(), &doc) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(%doc, error = %e, "compaction failed; will retry later");
                0
            }
        };
        if core.send(Event::Compacted { doc, remaining }).is_err() {
            break;
        }
    }
}
