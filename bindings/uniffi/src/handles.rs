//! Handles to the typed CRDTs at a path of a document. A handle is cheap: it names the
//! document and the path, and every call reads or changes the replica then and there (a
//! document or path that does not exist yet is created by the first write).

use std::sync::Arc;

use polyarch::{DocView, ModelError, Path, Tx};

use crate::error::PolyarchError;
use crate::replica::{Receipt, Replica};
use crate::value::{Value, values};

/// What every handle holds: its replica, document and path.
struct Target {
    replica: Arc<Replica>,
    doc: String,
    path: Path,
}

impl Target {
    /// Reads through a view of the document.
    fn read<T>(
        &self,
        f: impl FnOnce(&DocView<'_>, &Path) -> Result<T, ModelError>,
    ) -> Result<T, PolyarchError> {
        let path = &self.path;
        Ok(self
            .replica
            .lock()?
            .view(self.doc.as_str(), |d| f(d, path))??)
    }

    /// Makes one change; its receipt (`None` when it changed nothing).
    fn write(
        &self,
        f: impl FnOnce(&mut Tx<'_>, &Path) -> Result<(), ModelError>,
    ) -> Result<Option<Receipt>, PolyarchError> {
        let path = &self.path;
        self.replica.change(&self.doc, |tx| f(tx, path))
    }
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(uniffi::Object)]
        pub struct $name {
            target: Target,
        }

        impl $name {
            pub(crate) fn new(replica: Arc<Replica>, doc: String, path: Path) -> Self {
                Self {
                    target: Target { replica, doc, path },
                }
            }
        }
    };
}

handle!(
    /// A register: one value, or several after concurrent writes (a conflict) until one is set.
    Register
);
handle!(
    /// A counter: concurrent increments sum.
    Counter
);
handle!(
    /// An OR-set of strings: a member added concurrently with its removal stays (add wins).
    OrSet
);
handle!(
    /// Collaborative text: concurrent edits interleave. Positions count Unicode scalar values.
    Text
);
handle!(
    /// A map: its keys, and deletion of a key.
    MapHandle
);
handle!(
    /// A list of values.
    ListHandle
);

#[uniffi::export]
impl Register {
    /// The winning value (`None` if never set).
    pub fn get(&self) -> Result<Option<Value>, PolyarchError> {
        self.target
            .read(|d, p| d.register(p).get())
            .map(|v| v.map(Value::from))
    }

    /// Every concurrent value, winner first: more than one is a conflict for the app to show.
    pub fn conflicts(&self) -> Result<Vec<Value>, PolyarchError> {
        self.target
            .read(|d, p| d.register(p).conflicts())
            .map(values)
    }

    /// Sets the value (which also resolves a conflict).
    pub fn set(&self, value: Value) -> Result<Option<Receipt>, PolyarchError> {
        self.target.write(|tx, p| tx.register(p).set(value))
    }
}

#[uniffi::export]
impl Counter {
    /// The current value (0 if never incremented).
    pub fn value(&self) -> Result<i64, PolyarchError> {
        self.target.read(|d, p| d.counter(p).value())
    }

    /// Adds `by` (negative to subtract).
    pub fn increment(&self, by: i64) -> Result<Option<Receipt>, PolyarchError> {
        self.target.write(|tx, p| tx.counter(p).increment(by))
    }
}

#[uniffi::export]
impl OrSet {
    /// The members, sorted.
    pub fn members(&self) -> Result<Vec<String>, PolyarchError> {
        self.target.read(|d, p| d.set(p).members())
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: String) -> Result<bool, PolyarchError> {
        self.target.read(|d, p| d.set(p).contains(&member))
    }

    /// Adds a member.
    pub fn add(&self, member: String) -> Result<Option<Receipt>, PolyarchError> {
        self.target.write(|tx, p| tx.set(p).add(member))
    }

    /// Removes a member (the adds this replica has seen).
    pub fn remove(&self, member: String) -> Result<Option<Receipt>, PolyarchError> {
        self.target.write(|tx, p| tx.set(p).remove(&member))
    }
}

#[uniffi::export]
impl Text {
    /// The whole text.
    pub fn value(&self) -> Result<String, PolyarchError> {
        self.target.read(|d, p| d.text(p).to_string())
    }

    /// Deletes `delete` characters at `pos`, then inserts `insert` there.
    pub fn splice(
        &self,
        pos: u64,
        delete: u64,
        insert: String,
    ) -> Result<Option<Receipt>, PolyarchError> {
        let (pos, delete) = (index(pos)?, index(delete)?);
        self.target
            .write(|tx, p| tx.text(p).splice(pos, delete, &insert))
    }

    /// Replaces the text with `text`, as the smallest edit (keeps concurrent edits elsewhere).
    pub fn update(&self, text: String) -> Result<Option<Receipt>, PolyarchError> {
        self.target.write(|tx, p| tx.text(p).update(&text))
    }
}

#[uniffi::export]
impl MapHandle {
    /// The keys, sorted.
    pub fn keys(&self) -> Result<Vec<String>, PolyarchError> {
        self.target.read(|d, p| d.map(p).keys())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: String) -> Result<bool, PolyarchError> {
        self.target.read(|d, p| d.map(p).contains_key(&key))
    }

    /// Deletes `key` and whatever it holds.
    pub fn delete(&self, key: String) -> Result<Option<Receipt>, PolyarchError> {
        self.target.write(|tx, p| tx.map(p).delete(&key))
    }
}

#[uniffi::export]
impl ListHandle {
    /// The values, in order.
    pub fn values(&self) -> Result<Vec<Value>, PolyarchError> {
        self.target.read(|d, p| d.list(p).values()).map(values)
    }

    /// How many values there are.
    pub fn len(&self) -> Result<u64, PolyarchError> {
        self.target.read(|d, p| d.list(p).len()).map(|n| n as u64)
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> Result<bool, PolyarchError> {
        self.target.read(|d, p| d.list(p).is_empty())
    }

    /// Appends a value.
    pub fn push(&self, value: Value) -> Result<Option<Receipt>, PolyarchError> {
        self.target.write(|tx, p| tx.list(p).push(value))
    }

    /// Inserts a value at `index`.
    pub fn insert(&self, index: u64, value: Value) -> Result<Option<Receipt>, PolyarchError> {
        let index = self::index(index)?;
        self.target.write(|tx, p| tx.list(p).insert(index, value))
    }

    /// Deletes the value at `index`.
    pub fn delete(&self, index: u64) -> Result<Option<Receipt>, PolyarchError> {
        let index = self::index(index)?;
        self.target.write(|tx, p| tx.list(p).delete(index))
    }
}

/// A position from the host.
fn index(i: u64) -> Result<usize, PolyarchError> {
    usize::try_from(i).map_err(|_| PolyarchError::invalid(format!("position {i} is too large")))
}
