//! Counters: increments from every device add up.

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ObjType, ReadDoc, ScalarValue, Value as AmValue};

use crate::model::resolve;
use crate::model::{Kind, ModelError, Path, Tx};

/// Reads a counter.
///
/// A counter is an automerge map of automerge counters, one per device (keyed by its actor id
/// in hex), plus a marker (the empty key, holding a counter at 0); its value is their sum. Each
/// device increments only its own entry, so every increment changes exactly one automerge
/// counter. (automerge applies an increment to every conflicting counter in a slot, so one
/// shared counter would count an increment twice once two devices had created it
/// concurrently.) When two devices create the same counter concurrently, the slot holds two
/// maps and the value is the sum over both. A plain automerge counter, as other automerge code
/// writes, also reads as a counter.
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
        let values = resolve::slot_all(self.doc, &self.path, Kind::Counter)?;
        resolve::check_winner(self.doc, &values, &self.path, Kind::Counter)?;
        Ok(resolve::counter_total(self.doc, &values))
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

    /// Adds `by` (which may be negative) to this device's entry of the counter, creating the
    /// counter (and missing maps above it) and the entry when missing.
    pub fn increment(&mut self, by: i64) -> Result<(), ModelError> {
        let Tx {
            inner: tx, actor, ..
        } = &mut *self.tx;
        let (parent, seg) = resolve::slot_mut(tx, &self.path, Kind::Counter)?;
        let prop = resolve::prop(seg);
        let winner = {
            let depth = self.path.len() - 1;
            let values = resolve::values_at(tx, &parent, seg, &self.path, depth)?;
            resolve::check_winner(tx, &values, &self.path, Kind::Counter)?;
            values
                .first()
                .map(|(v, id)| (matches!(v, AmValue::Object(_)), id.clone()))
        };
        let map: ObjId = match winner {
            // A plain automerge counter, written by other code.
            Some((false, _)) => {
                for copy in parent.copies() {
                    if tx.get(copy, prop.clone())?.is_some() {
                        tx.increment(copy, prop, by)?;
                        break;
                    }
                }
                return Ok(());
            }
            Some((true, map)) => map,
            None => {
                if let Some(e) = resolve::missing_index(tx, &parent, seg, &self.path) {
                    return Err(e);
                }
                let map = tx.put_object(&parent.main, prop, ObjType::Map)?;
                tx.put(&map, resolve::COUNTER_MARK, ScalarValue::counter(0))?;
                map
            }
        };
        let key = actor.to_hex_string();
        match tx.get(&map, key.as_str())? {
            Some((AmValue::Scalar(s), _)) if s.is_counter() => tx.increment(&map, key, by)?,
            _ => tx.put(&map, key, ScalarValue::counter(by))?,
        }
        Ok(())
    }
}
