//! Unit tests of the model layer, by behaviour. Devices are simulated by separate [`Doc`]s
//! exchanging saves.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod collections;
mod counters;
mod fast_change;
mod merged_maps;
mod paths;
mod registers;
mod replication;
mod sets;
mod splice_runs;
mod text;
mod timing;

use automerge::ActorId;

use super::{Doc, LocalChange, ModelError, TextUnits, Tx};

/// A fixed actor id.
pub(super) fn actor(n: u8) -> ActorId {
    ActorId::from(&[n; 16][..])
}

/// An empty document written by actor `n`.
pub(super) fn doc(n: u8) -> Doc {
    Doc::new(actor(n), TextUnits::CodePoints)
}

/// A copy of `d` on another device (actor `n`).
pub(super) fn fork(d: &Doc, n: u8) -> Doc {
    Doc::load(Some(&d.save()), &[], actor(n), d.units).unwrap()
}

/// Brings `a` and `b` to the same state.
pub(super) fn sync(a: &mut Doc, b: &mut Doc) {
    a.merge_snapshot(&b.save(), false).unwrap();
    b.merge_snapshot(&a.save(), false).unwrap();
    assert_eq!(a.heads(), b.heads());
}

/// Runs `f` as a transaction that must succeed, returning its change.
pub(super) fn write(
    d: &mut Doc,
    f: impl FnOnce(&mut Tx<'_>) -> Result<(), ModelError>,
) -> Option<LocalChange> {
    d.transact(false, f).unwrap().1
}
