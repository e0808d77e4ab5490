//! Maps: nest the other types under string keys.

use automerge::transaction::{Transactable, Transaction};
use std::collections::BTreeSet;

use automerge::{Automerge, ReadDoc};

use crate::model::resolve::{self, Node};
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

    fn node(&self) -> Result<Option<Node>, ModelError> {
        resolve::find_obj(self.doc, &self.path, Kind::Map)
    }

    /// The keys, sorted (empty when nothing is there).
    pub fn keys(&self) -> Result<Vec<String>, ModelError> {
        let Some(node) = self.node()? else {
            return Ok(Vec::new());
        };
        if node.others.is_empty() {
            return Ok(self.doc.keys(&node.main).collect());
        }
        let keys: BTreeSet<String> = node.copies().flat_map(|c| self.doc.keys(c)).collect();
        Ok(keys.into_iter().collect())
    }

    /// How many keys the map has.
    pub fn len(&self) -> Result<usize, ModelError> {
        match self.node()? {
            Some(node) if node.others.is_empty() => Ok(self.doc.length(&node.main)),
            Some(_) => Ok(self.keys()?.len()),
            None => Ok(0),
        }
    }

    /// Whether the map has no key.
    pub fn is_empty(&self) -> Result<bool, ModelError> {
        Ok(self.len()? == 0)
    }

    /// Whether the map has `key`.
    pub fn contains_key(&self, key: &str) -> Result<bool, ModelError> {
        if let Some(node) = self.node()? {
            for copy in node.copies() {
                if self.doc.get(copy, key)?.is_some() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
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

    /// Removes `key` and everything under it (all concurrent values of the key, in every
    /// copy of the map). Removing a key that is not there, or from a map that is not there,
    /// does nothing.
    pub fn delete(&mut self, key: &str) -> Result<(), ModelError> {
        let tx = &mut self.tx.inner;
        if let Some(node) = resolve::find_obj(tx, &self.path, Kind::Map)? {
            for copy in node.copies() {
                tx.delete(copy, key)?;
            }
        }
        Ok(())
    }

    /// Makes sure the map exists, creating it (and missing maps above it) when missing.
    pub fn create(&mut self) -> Result<(), ModelError> {
        resolve::make_obj(&mut self.tx.inner, &self.path, automerge::ObjType::Map).map(drop)
    }
}
