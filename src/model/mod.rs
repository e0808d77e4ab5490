//! The model layer: typed CRDTs over an automerge document. Pure code, no I/O.
//!
//! A document is a tree of maps and lists whose leaves are typed CRDTs:
//!
//! | type | how concurrent edits merge | read | write |
//! | --- | --- | --- | --- |
//! | [`register`](DocView::register) | every concurrent value is kept; readers get a deterministic winner and can list the conflict | `get`, `conflicts` | `set` (resolves a conflict) |
//! | [`counter`](DocView::counter) | increments from every device add up | `value` | `increment` |
//! | [`set`](DocView::set) (OR-set) | add wins over a concurrent remove | `members`, `contains` | `add`, `remove` |
//! | [`text`](DocView::text) | concurrent insertions interleave by character | `to_string`, `cursor` | `splice` |
//! | [`map`](DocView::map) / [`list`](DocView::list) | nest the others | `keys`, `len`, `get` | `delete`, `insert`, `push` |
//!
//! Writes happen inside a [`Tx`] (one atomic change); reads through a [`DocView`] or the same
//! `Tx`. Containers on a write path are created when missing, so
//! `tx.text(["events", "e1", "notes"])` makes the `events` and `e1` maps as needed.
//! The OR-set is stored as an automerge map whose keys are the members: automerge's rule that a
//! put concurrent with a delete survives is exactly add-wins.

mod doc;
mod error;
mod event;
mod handles;
mod json;
mod path;
mod resolve;
mod tx;
mod value;
mod view;

pub use doc::{Doc, LocalChange, TextUnits};
pub use error::ModelError;
pub use event::{Patch, PatchAction};
pub use handles::{
    CounterMut, CounterRef, ListMut, ListRef, MapMut, MapRef, RegisterMut, RegisterRef, SetMut,
    SetRef, TextMut, TextRef,
};
pub use path::{Path, Seg};
pub use tx::Tx;
pub use value::Value;
pub use view::{DocView, Kind};
