//! OR-sets of strings: add wins over a concurrent remove.

use std::collections::BTreeSet;

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ObjType, ReadDoc, Value as AmValue};

use crate::model::resolve;
use crate::model::{Kind, ModelError, Path, Tx};

/// Reads an OR-set of strings.
///
/// The set is an automerge map whose keys are the members. When two devices create the same
/// set concurrently, automerge keeps both maps as conflicting values of the slot: the members
/// are the union over all of them.
///
/// ```
/// use polyarch::model::{Doc, TextUnits};
/// # fn main() -> Result<(), polyarch::model::ModelError> {
/// let mut doc = Doc::new(automerge::ActorId::random(), TextUnits::CodePoints);
/// doc.transact(false, |tx| {
///     let mut attendees = tx.set(["events", "e1", "attendees"]);
///     attendees.add("bob")?;
///     attendees.add("alice")
/// })?;
/// let attendees = doc.view().set(["events", "e1", "attendees"]);
/// assert_eq!(attendees.members()?, ["alice", "bob"]);
/// assert!(attendees.contains("bob")?);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SetRef<'a, D = Automerge> {
    doc: &'a D,
    path: Path,
}

/// The maps that hold the set in one slot's concurrent `values` (the winner first); the
/// winner must be a map.
fn copies<D: ReadDoc>(
    doc: &D,
    values: &[(AmValue<'_>, ObjId)],
    path: &Path,
) -> Result<Vec<ObjId>, ModelError> {
    resolve::check_winner(doc, values, path, Kind::Map)?;
    Ok(values
        .iter()
        .filter(|(v, id)| resolve::kind_of(doc, v, id) == Kind::Map)
        .map(|(_, id)| id.clone())
        .collect())
}

impl<'a, D: ReadDoc> SetRef<'a, D> {
    pub(crate) fn new(doc: &'a D, path: Path) -> Self {
        Self { doc, path }
    }

    /// Where the set is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn copies(&self) -> Result<Vec<ObjId>, ModelError> {
        let values = resolve::slot_all(self.doc, &self.path, Kind::Map)?;
        copies(self.doc, &values, &self.path)
    }

    /// The members, sorted (empty when nothing is there).
    pub fn members(&self) -> Result<Vec<String>, ModelError> {
        let mut members = BTreeSet::new();
        for copy in self.copies()? {
            members.extend(self.doc.keys(&copy));
        }
        Ok(members.into_iter().collect())
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &str) -> Result<bool, ModelError> {
        for copy in self.copies()? {
            if self.doc.get(&copy, member)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// How many members the set has.
    pub fn len(&self) -> Result<usize, ModelError> {
        Ok(self.members()?.len())
    }

    /// Whether the set has no member.
    pub fn is_empty(&self) -> Result<bool, ModelError> {
        Ok(self.len()? == 0)
    }
}

/// Writes an OR-set of strings; made by [`Tx::set`].
#[derive(Debug)]
pub struct SetMut<'t, 'a> {
    tx: &'t mut Tx<'a>,
    path: Path,
}

impl<'t, 'a> SetMut<'t, 'a> {
    pub(crate) fn new(tx: &'t mut Tx<'a>, path: Path) -> Self {
        Self { tx, path }
    }

    /// Reads the set as the transaction sees it.
    pub fn read(&self) -> SetRef<'_, Transaction<'a>> {
        SetRef::new(&self.tx.inner, self.path.clone())
    }

    /// Adds `member`, creating the set (and missing maps above it) when missing. Adding a
    /// member that is already there adds it again, so that a concurrent remove, which only
    /// removes what it saw, does not remove it.
    pub fn add(&mut self, member: impl Into<String>) -> Result<(), ModelError> {
        let tx = &mut self.tx.inner;
        let (parent, seg) = resolve::slot_mut(tx, &self.path, Kind::Map)?;
        let depth = self.path.len() - 1;
        let values = resolve::values_at(tx, &parent, seg, &self.path, depth)?;
        let winner = copies(tx, &values, &self.path)?.into_iter().next();
        let set = match winner {
            Some(set) => set,
            None => match resolve::missing_index(tx, &parent, seg, &self.path) {
                Some(e) => return Err(e),
                None => tx.put_object(&parent.main, resolve::prop(seg), ObjType::Map)?,
            },
        };
        let member = member.into();
        // automerge skips a put of the value already there; the new operation is what lets
        // this add survive a concurrent remove, so replace the old one.
        if tx.get(&set, member.as_str())?.is_some() {
            tx.delete(&set, member.as_str())?;
        }
        tx.put(&set, member, true)?;
        Ok(())
    }

    /// Removes `member` from every concurrent copy of the set. Removing a member that is not
    /// there does nothing; an add made concurrently on another device wins.
    pub fn remove(&mut self, member: &str) -> Result<(), ModelError> {
        let tx = &mut self.tx.inner;
        let copies = copies(
            tx,
            &resolve::slot_all(tx, &self.path, Kind::Map)?,
            &self.path,
        )?;
        for copy in copies {
            if tx.get(&copy, member)?.is_some() {
                tx.delete(&copy, member)?;
            }
        }
        Ok(())
    }
}
