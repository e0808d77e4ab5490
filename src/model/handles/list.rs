//! Lists of scalar values.

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ObjType, ReadDoc, Value as AmValue};

use crate::model::resolve;
use crate::model::{Kind, ModelError, Path, Tx, Value};

/// Reads a list of scalar [`Value`]s.
///
/// ```
/// use polyarch::model::{Doc, TextUnits, Value};
/// # fn main() -> Result<(), polyarch::model::ModelError> {
/// let mut doc = Doc::new(automerge::ActorId::random(), TextUnits::CodePoints);
/// doc.transact(false, |tx| {
///     let mut tags = tx.list(["events", "e1", "tags"]);
///     tags.push("work")?;
///     tags.insert(0, "urgent")?;
///     tags.push(3)
/// })?;
/// let tags = doc.view().list(["events", "e1", "tags"]);
/// assert_eq!(tags.len()?, 3);
/// assert_eq!(tags.get(0)?, Some(Value::from("urgent")));
/// assert_eq!(tags.values()?, [Value::from("urgent"), "work".into(), 3.into()]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ListRef<'a, D = Automerge> {
    doc: &'a D,
    path: Path,
}

impl<'a, D: ReadDoc> ListRef<'a, D> {
    pub(crate) fn new(doc: &'a D, path: Path) -> Self {
        Self { doc, path }
    }

    /// Where the list is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn obj(&self) -> Result<Option<ObjId>, ModelError> {
        Ok(resolve::find_obj(self.doc, &self.path, Kind::List)?.map(|node| node.main))
    }

    /// How many elements the list has (0 when nothing is there).
    pub fn len(&self) -> Result<usize, ModelError> {
        Ok(self.obj()?.map_or(0, |obj| self.doc.length(&obj)))
    }

    /// Whether the list is empty or missing.
    pub fn is_empty(&self) -> Result<bool, ModelError> {
        Ok(self.len()? == 0)
    }

    /// The element at `index` (the winner when it has concurrent values); `None` past the end.
    pub fn get(&self, index: usize) -> Result<Option<Value>, ModelError> {
        let Some(obj) = self.obj()? else {
            return Ok(None);
        };
        match self.doc.get(&obj, index)? {
            None => Ok(None),
            Some((v, _)) => element(&v, &self.path, index).map(Some),
        }
    }

    /// Every element, in order.
    pub fn values(&self) -> Result<Vec<Value>, ModelError> {
        let Some(obj) = self.obj()? else {
            return Ok(Vec::new());
        };
        self.doc
            .list_range(&obj, ..)
            .map(|item| element(&item.value.into(), &self.path, item.index))
            .collect()
    }
}

/// The list element `v` at `index` as a value: lists hold scalars, not containers or counters.
fn element(v: &AmValue<'_>, path: &Path, index: usize) -> Result<Value, ModelError> {
    let at = path.clone().index(index);
    match v {
        AmValue::Scalar(s) => resolve::register_value(s, &at),
        AmValue::Object(t) => Err(resolve::wrong(&at, Kind::Register, resolve::obj_kind(*t))),
    }
}

/// Writes a list of scalar values; made by [`Tx::list`].
#[derive(Debug)]
pub struct ListMut<'t, 'a> {
    tx: &'t mut Tx<'a>,
    path: Path,
}

impl<'t, 'a> ListMut<'t, 'a> {
    pub(crate) fn new(tx: &'t mut Tx<'a>, path: Path) -> Self {
        Self { tx, path }
    }

    /// Reads the list as the transaction sees it.
    pub fn read(&self) -> ListRef<'_, Transaction<'a>> {
        ListRef::new(&self.tx.inner, self.path.clone())
    }

    /// The list, when `index` fits: at most the length, or below it when `existing`.
    fn checked(&self, index: usize, existing: bool) -> Result<Option<ObjId>, ModelError> {
        let tx = &self.tx.inner;
        let obj = resolve::find_obj(tx, &self.path, Kind::List)?.map(|node| node.main);
        let len = obj.as_ref().map_or(0, |obj| tx.length(obj));
        if index > len || (existing && index == len) {
            return Err(ModelError::IndexOutOfRange {
                path: self.path.clone(),
                index,
                len,
            });
        }
        Ok(obj)
    }

    /// The list holding an element at `index`.
    fn element_at(&self, index: usize) -> Result<ObjId, ModelError> {
        self.checked(index, true)?
            .ok_or_else(|| ModelError::NoSuchPath {
                path: self.path.clone(),
            })
    }

    /// Appends `value`, creating the list (and missing maps above it) when missing.
    pub fn push(&mut self, value: impl Into<Value>) -> Result<(), ModelError> {
        let tx = &mut self.tx.inner;
        let obj = resolve::make_obj(tx, &self.path, ObjType::List)?;
        let len = tx.length(&obj);
        tx.insert(&obj, len, value.into().into_automerge())?;
        Ok(())
    }

    /// Inserts `value` before `index` (0 to the length), creating the list when missing.
    pub fn insert(&mut self, index: usize, value: impl Into<Value>) -> Result<(), ModelError> {
        let obj = match self.checked(index, false)? {
            Some(obj) => obj,
            None => resolve::make_obj(&mut self.tx.inner, &self.path, ObjType::List)?,
        };
        self.tx
            .inner
            .insert(&obj, index, value.into().into_automerge())?;
        Ok(())
    }

    /// Replaces the element at `index` (its concurrent values too).
    pub fn set(&mut self, index: usize, value: impl Into<Value>) -> Result<(), ModelError> {
        let obj = self.element_at(index)?;
        self.tx
            .inner
            .put(&obj, index, value.into().into_automerge())?;
        Ok(())
    }

    /// Removes the element at `index`.
    pub fn delete(&mut self, index: usize) -> Result<(), ModelError> {
        let obj = self.element_at(index)?;
        self.tx.inner.delete(&obj, index)?;
        Ok(())
    }
}
