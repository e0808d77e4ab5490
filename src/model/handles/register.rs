//! Multi-value registers: one scalar per slot; concurrent writes are all kept.

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ReadDoc, Value as AmValue};

use crate::model::resolve;
use crate::model::{Kind, ModelError, Path, Tx, Value};

/// Reads a multi-value register: a scalar [`Value`] in a map key or list element.
///
/// When devices write concurrently, every value is kept: [`get`](Self::get) gives automerge's
/// winner (the same on every device), [`conflicts`](Self::conflicts) lists them all.
///
/// ```
/// use polyarch::model::{Doc, TextUnits, Value};
/// # fn main() -> Result<(), polyarch::model::ModelError> {
/// let mut doc = Doc::new(automerge::ActorId::random(), TextUnits::CodePoints);
/// doc.transact(false, |tx| tx.register(["events", "e1", "title"]).set("Standup"))?;
/// let title = doc.view().register(["events", "e1", "title"]);
/// assert_eq!(title.get()?, Some(Value::from("Standup")));
/// assert_eq!(title.conflicts()?.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RegisterRef<'a, D = Automerge> {
    doc: &'a D,
    path: Path,
}

impl<'a, D: ReadDoc> RegisterRef<'a, D> {
    pub(crate) fn new(doc: &'a D, path: Path) -> Self {
        Self { doc, path }
    }

    /// Where the register is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The winning value, or `None` when nothing is there.
    pub fn get(&self) -> Result<Option<Value>, ModelError> {
        let values = resolve::slot_all(self.doc, &self.path, Kind::Register)?;
        match values.first() {
            None => Ok(None),
            Some((AmValue::Scalar(s), _)) => resolve::register_value(s, &self.path).map(Some),
            Some((v, id)) => Err(resolve::wrong(
                &self.path,
                Kind::Register,
                resolve::kind_of(self.doc, v, id),
            )),
        }
    }

    /// Every concurrent value, the winner first (empty when nothing is there). More than one
    /// value means a conflict; setting the register resolves it.
    pub fn conflicts(&self) -> Result<Vec<Value>, ModelError> {
        let values = resolve::slot_all(self.doc, &self.path, Kind::Register)?;
        resolve::check_winner(self.doc, &values, &self.path, Kind::Register)?;
        values
            .iter()
            .filter_map(|(v, _)| match v {
                AmValue::Scalar(s) if !s.is_counter() => {
                    Some(resolve::register_value(s, &self.path))
                }
                _ => None,
            })
            .collect()
    }
}

/// Writes a multi-value register; made by [`Tx::register`].
#[derive(Debug)]
pub struct RegisterMut<'t, 'a> {
    tx: &'t mut Tx<'a>,
    path: Path,
}

impl<'t, 'a> RegisterMut<'t, 'a> {
    pub(crate) fn new(tx: &'t mut Tx<'a>, path: Path) -> Self {
        Self { tx, path }
    }

    /// Reads the register as the transaction sees it.
    pub fn read(&self) -> RegisterRef<'_, Transaction<'a>> {
        RegisterRef::new(&self.tx.inner, self.path.clone())
    }

    /// Sets the value, replacing every concurrent value (this resolves a conflict). Missing
    /// maps on the path are created. Fails with [`ModelError::TypeMismatch`] when the path holds
    /// a map, list, text or counter (delete it first to replace it).
    pub fn set(&mut self, value: impl Into<Value>) -> Result<(), ModelError> {
        let tx = &mut self.tx.inner;
        let (parent, seg) = resolve::slot_mut(tx, &self.path, Kind::Register)?;
        let depth = self.path.len() - 1;
        let values = resolve::values_at(tx, &parent, seg, &self.path, depth)?;
        match resolve::winner_kind(tx, &values) {
            Kind::Register => {}
            Kind::Missing => {
                if let Some(e) = resolve::missing_index(tx, &parent, seg, &self.path) {
                    return Err(e);
                }
            }
            kind => return Err(resolve::wrong(&self.path, Kind::Register, kind)),
        }
        let prop = resolve::prop(seg);
        // The put replaces the values in the winning copy of the map; other copies' go too.
        for copy in &parent.others {
            if tx.get(copy, prop.clone())?.is_some() {
                tx.delete(copy, prop.clone())?;
            }
        }
        tx.put(&parent.main, prop, value.into().into_automerge())?;
        Ok(())
    }
}
