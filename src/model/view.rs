//! [`DocView`]: typed, read-only access to a document, and [`Kind`]: what a path holds.

use std::fmt;

use automerge::{Automerge, ReadDoc};

use super::handles::{CounterRef, ListRef, MapRef, RegisterRef, SetRef, TextRef};
use super::{ModelError, Path, resolve};

/// What a path holds, going by automerge's winning value where there is a conflict.
///
/// An OR-set is stored as a map, so a set reads as [`Kind::Map`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A map (also what an OR-set is).
    Map,
    /// A list.
    List,
    /// Collaborative text.
    Text,
    /// A counter.
    Counter,
    /// A register: a scalar [`Value`](super::Value).
    Register,
    /// Nothing is there.
    Missing,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Map => "a map (or set)",
            Kind::List => "a list",
            Kind::Text => "text",
            Kind::Counter => "a counter",
            Kind::Register => "a register",
            Kind::Missing => "nothing",
        })
    }
}

/// Read-only typed access to a document: from [`Doc::view`](super::Doc::view), or from
/// [`Tx::view`](super::Tx::view) inside a transaction (which sees the transaction's own writes).
///
/// Handles are cheap: they hold the path and look it up when read. Reading a path that does not
/// exist gives the empty value (no register value, counter 0, empty set, text and map, empty
/// list); reading a path that holds a different kind of value is a
/// [`ModelError::TypeMismatch`].
///
/// ```
/// use polyarch::model::{Doc, Kind, TextUnits};
/// # fn main() -> Result<(), polyarch::model::ModelError> {
/// let mut doc = Doc::new(automerge::ActorId::random(), TextUnits::CodePoints);
/// doc.transact(false, |tx| tx.counter(["stats", "views"]).increment(2))?;
/// let view = doc.view();
/// assert_eq!(view.counter(["stats", "views"]).value()?, 2);
/// assert_eq!(view.kind(["stats"])?, Kind::Map);
/// assert_eq!(view.kind(["nope"])?, Kind::Missing);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DocView<'a, D = Automerge> {
    pub(crate) doc: &'a D,
}

impl<D> Clone for DocView<'_, D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D> Copy for DocView<'_, D> {}

impl<'a, D: ReadDoc> DocView<'a, D> {
    pub(crate) fn new(doc: &'a D) -> Self {
        Self { doc }
    }

    /// The multi-value register at `path`.
    pub fn register(&self, path: impl Into<Path>) -> RegisterRef<'a, D> {
        RegisterRef::new(self.doc, path.into())
    }

    /// The counter at `path`.
    pub fn counter(&self, path: impl Into<Path>) -> CounterRef<'a, D> {
        CounterRef::new(self.doc, path.into())
    }

    /// The OR-set of strings at `path`.
    pub fn set(&self, path: impl Into<Path>) -> SetRef<'a, D> {
        SetRef::new(self.doc, path.into())
    }

    /// The collaborative text at `path`.
    pub fn text(&self, path: impl Into<Path>) -> TextRef<'a, D> {
        TextRef::new(self.doc, path.into())
    }

    /// The map at `path` (the document's root map for [`Path::root`]).
    pub fn map(&self, path: impl Into<Path>) -> MapRef<'a, D> {
        MapRef::new(self.doc, path.into())
    }

    /// The list of scalar values at `path`.
    pub fn list(&self, path: impl Into<Path>) -> ListRef<'a, D> {
        ListRef::new(self.doc, path.into())
    }

    /// What `path` holds. Fails only when a step of the path goes through a value that cannot
    /// be stepped into (a key into a list, an index into a map, anything into a scalar).
    pub fn kind(&self, path: impl Into<Path>) -> Result<Kind, ModelError> {
        resolve::kind(self.doc, &path.into())
    }

    /// The whole document as JSON; see [`Doc::to_json`](super::Doc::to_json).
    pub fn to_json(&self) -> serde_json::Value {
        super::json::to_json(self.doc)
    }

    /// Every register holding concurrent values, anywhere in the document (through nested
    /// maps and lists), each with its values, the winner first: what a view shows as
    /// conflicts, read in one pass instead of one [`RegisterRef::conflicts`] per register.
    ///
    /// [`RegisterRef::conflicts`]: super::RegisterRef::conflicts
    pub fn conflicts(&self) -> Vec<super::Conflict> {
        super::conflicts::conflicts(self.doc)
    }

    /// [`to_json`](Self::to_json) and [`conflicts`](Self::conflicts) together, read in one
    /// walk over the document: what a view that shows values and their conflicts needs.
    pub fn to_json_and_conflicts(&self) -> (serde_json::Value, Vec<super::Conflict>) {
        super::json::to_json_and_conflicts(self.doc)
    }
}
