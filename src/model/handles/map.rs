//! Maps: nest the other types under string keys.

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ReadDoc};

use crate::model::resolve;
use crate::model::{Kind, ModelError, Path, Tx};

/// Reads a map: the document's root map for [`Path::root`], or a nested one.
///
/// ```
/// use polyarch::model::{Doc, Path, TextUnits};
/// # fn main() -> Result<(), polyarch::model::ModelError> {
/// let mut doc = Doc::new(automerge::ActorId::random(), TextUnits::CodePoints);
/// doc.transact(false, |tx| {
///     tx.register(["events", "e1", "title"]).set("Standup")?;
///     tx.register(["events", "e2", "title"]).set("Retro")
/// })?;
/// assert_eq!(doc.view().map(["events"]).keys()?, ["e1", "e2"]);
/// doc.transact(false, |tx| tx.map(["events"]).delete("e1"))?;
/// assert_eq!(doc.view().map(["events"]).keys()?, ["e2"]);
/// assert_eq!(doc.view().map(Path::root()).len()?, 1);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MapRef<'a, D = Automerge> {
    doc: &'a D,
    path: Path,
}

impl<'a, D: ReadDoc> MapRef<'a, D> {
    pub(crate) fn new(doc: &'a D, path: Path) -> Self {
        Self { doc, path }
    }

    /// Where the map is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn obj(&self) -> Result<Option<ObjId>, ModelError> {
        resolve::find_obj(self.doc, &self.path, Kind::Map)
    }

    /// The keys, sorted (empty when nothing is there).
    pub fn keys(&self) -> Result<Vec<String>, ModelError> {
        Ok(self
            .obj()?
            .map_or_else(Vec::new, |obj| self.doc.keys(&obj).collect()))
    }

    /// How many keys the map has.
    pub fn len(&self) -> Result<usize, ModelError> {
        Ok(self.obj()?.map_or(0, |obj| self.doc.length(&obj)))
    }

    /// Whether the map has no key.
    pub fn is_empty(&self) -> Result<bool, ModelError> {
        Ok(self.len()? == 0)
    }

    /// Whether the map has `key`.
    pub fn contains_key(&self, key: &str) -> Result<bool, ModelError> {
        match self.obj()? {
            Some(obj) => Ok(self.doc.get(&obj, key)?.is_some()),
            None => Ok(false),
        }
    }
}

/// Writes a map; made by [`Tx::map`].
#[derive(Debug)]
pub struct MapMut<'t, 'a> {
    tx: &'t mut Tx<'a>,
    path: Path,
}

impl<'t, 'a> MapMut<'t, 'a> {
    pub(crate) fn new(tx: &'t mut Tx<'a>, path: Path) -> Self {
        Self { tx, path }
    }

    /// Reads the map as the transaction sees it.
    pub fn read(&self) -> MapRef<'_, Transaction<'a>> {
        MapRef::new(&self.tx.inner, self.path.clone())
    }

    /// Removes `key` and everything under it (all concurrent values of the key). Removing a
    /// key that is not there, or from a map that is not there, does nothing.
    pub fn delete(&mut self, key: &str) -> Result<(), ModelError> {
        let tx = &mut self.tx.inner;
        if let Some(obj) = resolve::find_obj(tx, &self.path, Kind::Map)? {
            tx.delete(&obj, key)?;
        }
        Ok(())
    }

    /// Makes sure the map exists, creating it (and missing maps above it) when missing.
    pub fn create(&mut self) -> Result<(), ModelError> {
        resolve::make_obj(&mut self.tx.inner, &self.path, automerge::ObjType::Map).map(drop)
    }
}
