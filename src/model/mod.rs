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
//! | [`map`](DocView::map) / [`list`](DocView::list) | nest the others; maps created concurrently merge | `keys`, `len`, `get` | `delete`, `insert`, `push` |
//!
//! Writes happen inside a [`Tx`] (one atomic change); reads through a [`DocView`] or the same
//! `Tx` ([`Tx::view`]). Containers on a write path are created when missing, so
//! `tx.text(["events", "e1", "notes"])` makes the `events` and `e1` maps as needed; list
//! elements are never created implicitly ([`ModelError::IndexOutOfRange`]).
//!
//! ```
//! use polyarch::model::{Doc, TextUnits, Value};
//! # fn main() -> Result<(), polyarch::model::ModelError> {
//! let mut doc = Doc::new(automerge::ActorId::random(), TextUnits::CodePoints);
//! let ((), change, patches) = doc.transact(true, |tx| {
//!     tx.register(["events", "e1", "title"]).set("Standup")?;
//!     tx.set(["events", "e1", "attendees"]).add("alice")?;
//!     tx.counter(["events", "e1", "yes"]).increment(1)?;
//!     tx.text(["events", "e1", "notes"]).splice(0, 0, "hi")?;
//!     Ok(())
//! })?;
//! assert!(change.is_some() && !patches.is_empty());
//! let view = doc.view();
//! assert_eq!(view.register(["events", "e1", "title"]).get()?, Some(Value::from("Standup")));
//! assert_eq!(view.set(["events", "e1", "attendees"]).members()?, ["alice"]);
//! assert_eq!(view.text(["events", "e1", "notes"]).to_string()?, "hi");
//! # Ok(()) }
//! ```
//!
//! ## Storage and concurrency
//!
//! Each type is one automerge value in a map key or list element (its *slot*):
//!
//! - a register is a scalar; a write replaces every value it has seen, so concurrent writes
//!   leave several values in the slot: automerge's winner is the same on every device.
//! - an OR-set is an automerge map whose keys are the members (each holding `true`): add puts
//!   the key, remove deletes it, and automerge's rule that a put concurrent with a delete
//!   survives is exactly add-wins (adding a member that is there writes it anew, since automerge
//!   skips a put of the same value).
//! - a counter is an automerge map of automerge counters, one per device (keyed by actor id),
//!   marked by an empty key holding a counter at 0; its value is their sum. A device only ever
//!   increments its own entry, so each increment changes exactly one automerge counter.
//! - text, maps and lists are automerge objects.
//!
//! Two devices that create the same container at the same key concurrently (both add the
//! first event to `events`, both add to a set or increment a counter that did not exist yet)
//! leave two copies in the slot, and automerge shows one. The model merges them instead:
//!
//! - a map reads as the union of its copies (a key found in several reads from the winning
//!   copy first), new keys go into the winning copy, and deleting a key deletes it from every
//!   copy; so does writing a register, which replaces its values in every copy;
//! - a set reads as the union of its copies and removes a member from every copy;
//! - a counter reads as the sum of its copies and increments this device's entry in the
//!   winning copy, so every increment counts once.
//!
//! Text and lists show automerge's winner only: what was written into a losing copy is
//! hidden. Create a shared text or list once (for example with its parent) when that matters.
//!
//! ## Errors and input
//!
//! Every operation returns `Result<_, ModelError>`; nothing here panics on any document or any
//! bytes. A transaction whose closure fails changes nothing.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod conflicts;
mod doc;
mod error;
mod event;
mod handles;
mod json;
mod local;
mod path;
mod resolve;
mod splice_run;
#[cfg(test)]
mod tests;
mod tx;
mod value;
mod view;

pub use conflicts::Conflict;
pub use doc::{Doc, LocalChange, TextUnits};
pub use error::ModelError;
pub use event::{Patch, PatchAction};
pub use handles::{
    CounterMut, CounterRef, ListMut, ListRef, MapMut, MapRef, RegisterMut, RegisterRef, SetMut,
    SetRef, TextMut, TextRef,
};
pub use path::{Path, Seg};
pub use splice_run::{Splice, SpliceRun};
pub use tx::Tx;
pub use value::Value;
pub use view::{DocView, Kind};
