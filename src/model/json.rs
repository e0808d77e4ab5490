//! The whole document as JSON (see [`Doc::to_json`](super::Doc::to_json)).

use automerge::{ObjId, ObjType, ROOT, ReadDoc, Value as AmValue};
use serde_json::{Map, Value as Json};

use super::Kind;
use super::resolve;
use super::value::Scalar;

/// Deepest nesting written out; deeper objects become `null`, so that a hostile document
/// cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 200;

/// `doc` as JSON: maps as objects, lists as arrays, text as strings, counters as numbers (the
/// sum over concurrent copies, as [`CounterRef`](super::CounterRef) reads them), registers as
/// their winning value.
pub(crate) fn to_json<D: ReadDoc>(doc: &D) -> Json {
    object(doc, &ROOT, ObjType::Map, 0)
}

fn object<D: ReadDoc>(doc: &D, obj: &ObjId, t: ObjType, depth: usize) -> Json {
    if depth > MAX_DEPTH {
        return Json::Null;
    }
    match t {
        ObjType::Map | ObjType::Table if resolve::is_counter(doc, obj) => Json::from(
            resolve::counter_total(doc, &[(AmValue::map(), obj.clone())]),
        ),
        ObjType::Map | ObjType::Table => {
            let mut out = Map::new();
            for item in doc.map_range(obj, ..) {
                let v = AmValue::from(item.value.clone());
                let counter = match &v {
                    AmValue::Object(ObjType::Map) => resolve::is_counter(doc, &item.id()),
                    v => resolve::value_kind(v) == Kind::Counter,
                };
                let value = if counter {
                    let all = match item.conflict {
                        true => doc.get_all(obj, item.key.as_ref()).unwrap_or_default(),
                        false => vec![(v, item.id())],
                    };
                    Json::from(resolve::counter_total(doc, &all))
                } else {
                    value(doc, v, || item.id(), depth)
                };
                out.insert(item.key.into_owned(), value);
            }
            Json::Object(out)
        }
        ObjType::List => Json::Array(
            doc.list_range(obj, ..)
                .map(|item| value(doc, item.value.clone().into(), || item.id(), depth))
                .collect(),
        ),
        ObjType::Text => doc.text(obj).map_or(Json::Null, Json::String),
    }
}

/// The JSON for one value; `id` names it when it is an object.
fn value<D: ReadDoc>(doc: &D, v: AmValue<'_>, id: impl FnOnce() -> ObjId, depth: usize) -> Json {
    match v {
        AmValue::Object(t) => object(doc, &id(), t, depth + 1),
        AmValue::Scalar(s) => match Scalar::from_automerge(&s) {
            Scalar::Value(v) => v.to_json(),
            Scalar::Counter(n) => Json::from(n),
            Scalar::Unknown(_) => Json::Null,
        },
    }
}
