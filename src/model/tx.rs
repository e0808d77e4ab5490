//! [`Tx`]: the writes (and reads) of one atomic change.

use automerge::ActorId;
use automerge::transaction::Transaction;

use super::handles::{CounterMut, ListMut, MapMut, RegisterMut, SetMut, TextMut};
use super::local::Recorder;
use super::{DocView, Kind, ModelError, Path};

/// One atomic change being made, inside [`Doc::transact`](super::Doc::transact).
///
/// Write handles create what is missing on their path (maps under keys, and the CRDT itself);
/// [`view`](Self::view) reads the document as the transaction sees it, own writes included.
/// When the closure returns an error, every write of the transaction is undone.
///
/// ```
/// use polyarch::model::{Doc, TextUnits, Value};
/// # fn main() -> Result<(), polyarch::model::ModelError> {
/// let mut doc = Doc::new(automerge::ActorId::random(), TextUnits::CodePoints);
/// let (title, change, _) = doc.transact(false, |tx| {
///     tx.register(["events", "e1", "title"]).set("Standup")?;
///     tx.set(["events", "e1", "attendees"]).add("alice")?;
///     tx.counter(["events", "e1", "yes"]).increment(1)?;
///     tx.text(["events", "e1", "notes"]).splice(0, 0, "hi")?;
///     tx.list(["events", "e1", "tags"]).push("x")?;
///     tx.map(["events"]).delete("e0")?;
///     tx.view().register(["events", "e1", "title"]).get()
/// })?;
/// assert_eq!(title, Some(Value::from("Standup")));
/// assert_eq!(change.expect("the transaction wrote").seq, 1);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Tx<'a> {
    pub(crate) inner: Transaction<'a>,
    pub(crate) rec: Recorder<'a>,
    /// The writer (whose entry of a counter this transaction increments).
    pub(crate) actor: ActorId,
}

impl<'a> Tx<'a> {
    /// The multi-value register at `path`.
    pub fn register(&mut self, path: impl Into<Path>) -> RegisterMut<'_, 'a> {
        RegisterMut::new(self, path.into())
    }

    /// The counter at `path`.
    pub fn counter(&mut self, path: impl Into<Path>) -> CounterMut<'_, 'a> {
        CounterMut::new(self, path.into())
    }

    /// The OR-set of strings at `path`.
    pub fn set(&mut self, path: impl Into<Path>) -> SetMut<'_, 'a> {
        SetMut::new(self, path.into())
    }

    /// The collaborative text at `path`.
    pub fn text(&mut self, path: impl Into<Path>) -> TextMut<'_, 'a> {
        TextMut::new(self, path.into())
    }

    /// The map at `path` (the document's root map for [`Path::root`]).
    pub fn map(&mut self, path: impl Into<Path>) -> MapMut<'_, 'a> {
        MapMut::new(self, path.into())
    }

    /// The list of scalar values at `path`.
    pub fn list(&mut self, path: impl Into<Path>) -> ListMut<'_, 'a> {
        ListMut::new(self, path.into())
    }

    /// Reads the document as this transaction sees it.
    pub fn view(&self) -> DocView<'_, Transaction<'a>> {
        DocView::new(&self.inner)
    }

    /// What `path` holds now; see [`DocView::kind`].
    pub fn kind(&self, path: impl Into<Path>) -> Result<Kind, ModelError> {
        self.view().kind(path)
    }
}
