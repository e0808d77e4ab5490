//! Counters: increments from every device add up.

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ReadDoc, ScalarValue, Value as AmValue};

use crate::model::resolve;
use crate::model::{Kind, ModelError, Path, Tx};

/// Reads a counter.
///
/// When two devices create the same counter concurrently (both increment a counter that did
/// not exist yet), automerge keeps both as conflicting values; the counter's value is their
/// sum, so no increment is lost.
///
/// ```
/// use polyarch::model::{Doc, TextUnits};
/// # fn main() -> Result<(), polyarch::model::ModelError> {
/// let mut doc = Doc::new(automerge::ActorId::random(), TextUnits::CodePoints);
/// doc.transact(false, |tx| tx.counter(["events", "e1", "yes"]).increment(1))?;
/// doc.transact(false, |tx| tx.counter(["events", "e1", "yes"]).increment(2))?;
/// assert_eq!(doc.view().counter(["events", "e1", "yes"]).value()?, 3);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CounterRef<'a, D = Automerge> {
    doc: &'a D,
    path: Path,
}

/// The counter held by `values` (one slot's concurrent values): the sum of every counter among
/// them. The winner must be a counter.
fn sum(values: &[(AmValue<'_>, ObjId)], path: &Path) -> Result<i64, ModelError> {
    resolve::check_winner(values, path, Kind::Counter)?;
    Ok(resolve::counter_total(values))
}

impl<'a, D: ReadDoc> CounterRef<'a, D> {
    pub(crate) fn new(doc: &'a D, path: Path) -> Self {
        Self { doc, path }
    }

    /// Where the counter is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The counter's value (0 when nothing is there).
    pub fn value(&self) -> Result<i64, ModelError> {
        sum(
            &resolve::slot_all(self.doc, &self.path, Kind::Counter)?,
            &self.path,
        )
    }
}

/// Writes a counter; made by [`Tx::counter`].
#[derive(Debug)]
pub struct CounterMut<'t, 'a> {
    tx: &'t mut Tx<'a>,
    path: Path,
}

impl<'t, 'a> CounterMut<'t, 'a> {
    pub(crate) fn new(tx: &'t mut Tx<'a>, path: Path) -> Self {
        Self { tx, path }
    }

    /// Reads the counter as the transaction sees it.
    pub fn read(&self) -> CounterRef<'_, Transaction<'a>> {
        CounterRef::new(&self.tx.inner, self.path.clone())
    }

    /// Adds `by` (which may be negative). A missing counter is created at 0 first, with any
    /// missing maps above it.
    ///
    /// automerge applies an increment to *every* conflicting counter in the slot, which would
    /// count it once per copy. So when the counter was created concurrently on several devices,
    /// this replaces the copies with one counter holding their sum plus `by`; increments made
    /// concurrently with that replacement, on a device that had not seen it, are lost.
    pub fn increment(&mut self, by: i64) -> Result<(), ModelError> {
        let tx = &mut self.tx.inner;
        let (obj, seg) = resolve::slot_mut(tx, &self.path, Kind::Counter)?;
        let prop = resolve::prop(seg);
        let (copies, total) = {
            let values = tx.get_all(&obj.0, prop.clone())?;
            (values.len(), sum(&values, &self.path)?)
        };
        match copies {
            0 => {
                if let Some(e) = resolve::missing_index(tx, &obj, seg, &self.path) {
                    return Err(e);
                }
                tx.put(&obj.0, prop, ScalarValue::counter(by))?;
            }
            1 => tx.increment(&obj.0, prop, by)?,
            _ => tx.put(&obj.0, prop, ScalarValue::counter(total.saturating_add(by)))?,
        }
        Ok(())
    }
}
