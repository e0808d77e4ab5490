//! The [`LocalChange`] of a commit, obtained cheaply.
//!
//! automerge 0.12 encodes a change when a transaction commits, records its hash and metadata,
//! and drops the bytes. `get_last_local_change` encodes them again from the operation set,
//! which for a one-keystroke transaction costs about a third as much as the transaction itself.
//! For the most frequent transaction, one text splice, this module instead rebuilds the change
//! from what the splice did, writing automerge's change format directly (`encode.rs`), and keeps
//! the result only when its hash equals the committed change's hash. A rebuilt change is
//! therefore never wrong; anything else, or any mismatch, falls back to
//! `get_last_local_change`.
//!
//! A splice's operations name text elements by id: the element before the insertion point and
//! the deleted ones. Reading them costs an automerge lookup, so the document keeps a
//! [`TextWindow`]: the ids of a short run of elements around the last edit, valid while the
//! document's only head is the change that produced it (any other change, local or remote,
//! makes it stale). Typing, deleting and moving a little within the window need no lookup, nor
//! does resolving the text's path again, and the change's sequence number, first operation
//! and dependency follow from the previous one.

mod encode;
mod window;

use automerge::legacy as lg;
use automerge::{Automerge, AutomergeError, ChangeHash, ObjId, ReadDoc};

use window::{Last, Splice};
pub(crate) use window::{Recorder, Recording, TextWindow};

use super::{LocalChange, ModelError, TextUnits};

/// The change committed as `hash` with `ops` operations, by rebuilding `recording` when it can
/// and from automerge otherwise; keeps `window` up to date.
pub(crate) fn local_change(
    doc: &Automerge,
    hash: ChangeHash,
    ops: usize,
    recording: Recording,
    window: &mut TextWindow,
    units: TextUnits,
) -> Result<LocalChange, ModelError> {
    if let Recording::Splice(splice) = recording
        && let Some((change, first)) = rebuild(doc, hash, ops, &splice)
    {
        let last = Last {
            hash,
            seq: change.seq,
            max_op: first.0 + ops as u64 - 1,
        };
        window.advance(splice, last, &first, units);
        #[cfg(test)]
        stats::count(true);
        return Ok(change);
    }
    #[cfg(test)]
    stats::count(false);
    window.clear();
    let change = doc
        .get_last_local_change()
        .filter(|c| c.hash() == hash)
        .or_else(|| doc.get_change_by_hash(&hash))
        .ok_or(AutomergeError::MissingHash(hash))?;
    Ok(LocalChange {
        hash,
        actor: change.actor_id().clone(),
        seq: change.seq(),
        deps: change.deps().to_vec(),
        bytes: change.raw_bytes().to_vec(),
    })
}

/// What a change says besides its operations.
struct Header {
    actor: automerge::ActorId,
    seq: u64,
    start_op: u64,
    time: i64,
    message: Option<String>,
    deps: Vec<ChangeHash>,
    extra: Vec<u8>,
}

impl Header {
    /// The header of the change after `prev` (when the document's only head was `prev`): what a
    /// commit writes without options or an author.
    fn after(prev: &Last, doc: &Automerge) -> Option<Self> {
        Some(Header {
            actor: doc.get_actor().clone(),
            seq: prev.seq.checked_add(1)?,
            start_op: prev.max_op.checked_add(1)?,
            time: 0,
            message: None,
            deps: vec![prev.hash],
            extra: Vec::new(),
        })
    }

    /// The header of the change `hash`, from automerge.
    fn of(doc: &Automerge, hash: &ChangeHash) -> Option<Self> {
        let meta = doc.get_change_meta_by_hash(hash)?;
        let mut deps = meta.deps;
        deps.sort_unstable();
        Some(Header {
            actor: meta.actor.into_owned(),
            seq: meta.seq,
            start_op: meta.start_op,
            time: meta.timestamp,
            message: meta.message.map(|m| m.into_owned()),
            deps,
            extra: meta.extra.into_owned(),
        })
    }
}

/// Rebuilds the change committed as `hash` from `splice`; `None` unless the result is exactly
/// that change. Also returns the id of its first operation.
fn rebuild(
    doc: &Automerge,
    hash: ChangeHash,
    ops: usize,
    splice: &Splice,
) -> Option<(LocalChange, lg::OpId)> {
    if ops != splice.inserted.chars().count() + splice.deleted.len() {
        return None;
    }
    let header = match &splice.prev {
        Some(prev) => Header::after(prev, doc)?,
        None => Header::of(doc, &hash)?,
    };
    let first = lg::OpId(header.start_op, header.actor.clone());
    let obj = match &splice.obj {
        ObjId::Id(ctr, actor, _) => lg::OpId(*ctr, actor.clone()),
        ObjId::Root => return None,
    };
    let deleted: Vec<&lg::OpId> = splice.deleted.iter().map(|e| &e.id).collect();
    let (bytes, rebuilt) = encode::splice_change(
        &encode::Meta {
            actor: &header.actor,
            seq: header.seq,
            start_op: header.start_op,
            time: header.time,
            message: header.message.as_deref(),
            deps: &header.deps,
            extra: &header.extra,
        },
        &encode::SpliceOps {
            obj: &obj,
            after: splice.before.as_ref().map(|e| &e.id),
            inserted: &splice.inserted,
            deleted: &deleted,
        },
    );
    if rebuilt != hash {
        return None;
    }
    let local = LocalChange {
        hash,
        actor: header.actor,
        seq: header.seq,
        deps: header.deps,
        bytes,
    };
    Some((local, first))
}

/// How often changes were rebuilt rather than read back, on this thread (for tests).
#[cfg(test)]
pub(crate) mod stats {
    use std::cell::Cell;

    thread_local! {
        static COUNTS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
        static READS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }

    pub(super) fn count_read(elems: usize) {
        READS.with(|c| {
            let (n, e) = c.get();
            c.set((n + 1, e + elems));
        });
    }

    /// (fresh reads, elements read) since the last call.
    pub(crate) fn take_reads() -> (usize, usize) {
        READS.with(|c| c.replace((0, 0)))
    }

    pub(super) fn count(rebuilt: bool) {
        COUNTS.with(|c| {
            let (r, b) = c.get();
            c.set(if rebuilt { (r + 1, b) } else { (r, b + 1) });
        });
    }

    /// (rebuilt, read back) since the last call.
    pub(crate) fn take() -> (usize, usize) {
        COUNTS.with(|c| c.replace((0, 0)))
    }
}
