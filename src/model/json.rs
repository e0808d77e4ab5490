//! The whole document as JSON (see [`Doc::to_json`](super::Doc::to_json)).

use std::collections::BTreeSet;

use automerge::{ObjId, ObjType, ROOT, ReadDoc, Value as AmValue};
use serde_json::{Map, Value as Json};

use super::resolve::{self, Values};
use super::value::Scalar;
use super::{Conflict, Kind, Path, Seg, conflicts};

/// Deepest nesting written out; deeper objects become `null`, so that a hostile document
/// cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// `doc` as JSON: maps (merged over their concurrent copies) as objects, lists as arrays, text
/// as strings, counters as numbers (the sum over concurrent copies), registers as their winning
/// value — what the typed handles read.
pub(crate) fn to_json<D: ReadDoc>(doc: &D) -> Json {
    map(doc, &[ROOT], 0, &mut None)
}

/// `doc` as JSON (as [`to_json`]) and every register in conflict in it (as
/// [`conflicts::conflicts`] lists them), in one walk over the document instead of two.
pub(crate) fn to_json_and_conflicts<D: ReadDoc>(doc: &D) -> (Json, Vec<Conflict>) {
    let mut found = Some(Found::default());
    let json = map(doc, &[ROOT], 0, &mut found);
    (json, found.map(|f| f.conflicts).unwrap_or_default())
}

/// What a [`to_json_and_conflicts`] walk has found, and where it is.
#[derive(Default)]
struct Found {
    /// The path of the slot being read.
    at: Vec<Seg>,
    conflicts: Vec<Conflict>,
}

impl Found {
    /// Notes the conflicts of the slot being read (of kind `kind`): a register's concurrent
    /// values, or a list's items written concurrently, as [`conflicts::slot`] finds them.
    fn note<D: ReadDoc>(
        &mut self,
        doc: &D,
        kind: Kind,
        values: &[(AmValue<'_>, ObjId)],
        depth: usize,
    ) {
        let may_hold = match kind {
            Kind::Register => values.len() > 1,
            Kind::List => true,
            _ => false,
        };
        if may_hold {
            let at = Path::from(self.at.clone());
            conflicts::slot(doc, values, &at, depth, &mut self.conflicts);
        }
    }
}

/// The map whose concurrent copies are `copies` (the winning one first); conflicts noted in
/// `found` when it is given.
fn map<D: ReadDoc>(doc: &D, copies: &[ObjId], depth: usize, found: &mut Option<Found>) -> Json {
    if depth > MAX_DEPTH {
        return Json::Null;
    }
    let mut out = Map::new();
    for_each_slot(doc, copies, |key, values| {
        if let Some(f) = found.as_mut() {
            f.at.push(Seg::Key(key.clone()));
        }
        let json = slot(doc, values, depth, found);
        if let Some(f) = found.as_mut() {
            f.at.pop();
        }
        out.insert(key, json);
    });
    Json::Object(out)
}

/// Calls `f(key, values)` for every key of the map whose concurrent copies are `copies` (the
/// winning one first), with every value at that key, the winner first: the copies read as
/// one map, as every whole-document reader sees them.
pub(crate) fn for_each_slot<'d, D: ReadDoc>(
    doc: &'d D,
    copies: &[ObjId],
    mut f: impl FnMut(String, &Values<'d>),
) {
    if let [only] = copies {
        for item in doc.map_range(only, ..) {
            let values: Values<'d> = match item.conflict {
                true => all(doc, only, &item.key),
                false => vec![(item.value.clone().into(), item.id())],
            };
            f(item.key.into_owned(), &values);
        }
    } else {
        let keys: BTreeSet<String> = copies.iter().flat_map(|c| doc.keys(c)).collect();
        for key in keys {
            let values: Values<'d> = copies.iter().flat_map(|c| all(doc, c, &key)).collect();
            f(key, &values);
        }
    }
}

/// Every value at `key` of `obj`, the winner first.
fn all<'d, D: ReadDoc>(doc: &'d D, obj: &ObjId, key: &str) -> Values<'d> {
    let mut values = doc.get_all(obj, key).unwrap_or_default();
    values.reverse();
    values
}

/// The JSON for a slot's concurrent `values` (the winner first).
fn slot<D: ReadDoc>(
    doc: &D,
    values: &[(AmValue<'_>, ObjId)],
    depth: usize,
    found: &mut Option<Found>,
) -> Json {
    match values.first() {
        None => Json::Null,
        Some((v, id)) => match resolve::kind_of(doc, v, id) {
            Kind::Counter => Json::from(resolve::counter_total(doc, values)),
            Kind::Map => map(doc, &map_copies(doc, values), depth + 1, found),
            kind => {
                if let Some(f) = found.as_mut() {
                    f.note(doc, kind, values, depth);
                }
                value(doc, v, id, depth)
            }
        },
    }
}

/// The maps among a slot's concurrent `values`: the copies of one map made concurrently,
/// read as one.
pub(crate) fn map_copies<D: ReadDoc>(doc: &D, values: &[(AmValue<'_>, ObjId)]) -> Vec<ObjId> {
    values
        .iter()
        .filter(|(v, id)| resolve::kind_of(doc, v, id) == Kind::Map)
        .map(|(_, id)| id.clone())
        .collect()
}

/// The JSON for one value (`id` names it when it is an object).
fn value<D: ReadDoc>(doc: &D, v: &AmValue<'_>, id: &ObjId, depth: usize) -> Json {
    match v {
        AmValue::Object(ObjType::List) if depth < MAX_DEPTH => Json::Array(
            doc.list_range(id, ..)
                .map(|item| {
                    let winner = [(item.value.clone().into(), item.id())];
                    slot(doc, &winner, depth + 1, &mut None)
                })
                .collect(),
        ),
        AmValue::Object(ObjType::Text) => doc.text(id).map_or(Json::Null, Json::String),
        AmValue::Object(_) => Json::Null,
        AmValue::Scalar(s) => match Scalar::from_automerge(s) {
            Scalar::Value(v) => v.to_json(),
            Scalar::Counter(n) => Json::from(n),
            Scalar::Unknown(_) => Json::Null,
        },
    }
}
