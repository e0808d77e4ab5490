//! The whole document as JSON (see [`Doc::to_json`](super::Doc::to_json)).

use std::collections::BTreeSet;

use automerge::{ObjId, ObjType, ROOT, ReadDoc, Value as AmValue};
use serde_json::{Map, Value as Json};

use super::Kind;
use super::resolve::{self, Values};
use super::value::Scalar;

/// Deepest nesting written out; deeper objects become `null`, so that a hostile document
/// cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// `doc` as JSON: maps (merged over their concurrent copies) as objects, lists as arrays, text
/// as strings, counters as numbers (the sum over concurrent copies), registers as their winning
/// value — what the typed handles read.
pub(crate) fn to_json<D: ReadDoc>(doc: &D) -> Json {
    map(doc, &[ROOT], 0)
}

/// The map whose concurrent copies are `copies` (the winning one first).
fn map<D: ReadDoc>(doc: &D, copies: &[ObjId], depth: usize) -> Json {
    if depth > MAX_DEPTH {
        return Json::Null;
    }
    let mut out = Map::new();
    for_each_slot(doc, copies, |key, values| {
        out.insert(key, slot(doc, values, depth));
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
fn slot<D: ReadDoc>(doc: &D, values: &[(AmValue<'_>, ObjId)], depth: usize) -> Json {
    match values.first() {
        None => Json::Null,
        Some((v, id)) => match resolve::kind_of(doc, v, id) {
            Kind::Counter => Json::from(resolve::counter_total(doc, values)),
            Kind::Map => map(doc, &map_copies(doc, values), depth + 1),
            _ => value(doc, v, id, depth),
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
                .map(|item| slot(doc, &[(item.value.clone().into(), item.id())], depth + 1))
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
