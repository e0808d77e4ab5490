//! [`Patch`]: what a transaction or an applied change did to the document, for UIs to follow.

use automerge::{ObjId, ObjType, Prop, ReadDoc, Value as AmValue};

use super::resolve;
use super::value::Scalar;
use super::{Path, Seg, Value};

/// One edit to the document: where, and what.
///
/// Text positions count in the document's [`TextUnits`](super::TextUnits).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Patch {
    /// The map, list or text that changed.
    pub path: Path,
    /// What happened to it.
    pub action: PatchAction,
}

/// What happened at a [`Patch`]'s path.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum PatchAction {
    /// A map key was set, or the counter there changed.
    PutMap {
        /// The key.
        key: String,
        /// The new value: `None` when it is a container (map, list, text); a counter's whole
        /// value as an `Int`.
        value: Option<Value>,
        /// Whether the key now has concurrent values.
        conflict: bool,
    },
    /// A list element was replaced.
    PutList {
        /// Its position.
        index: usize,
        /// The new value, as in [`PatchAction::PutMap`].
        value: Option<Value>,
        /// Whether the element now has concurrent values.
        conflict: bool,
    },
    /// Elements were inserted into a list.
    Insert {
        /// Where the first one went.
        index: usize,
        /// The new elements, as in [`PatchAction::PutMap`].
        values: Vec<Option<Value>>,
    },
    /// Text was inserted.
    SpliceText {
        /// Where.
        index: usize,
        /// What.
        text: String,
    },
    /// A map key was removed.
    DeleteMap {
        /// The key.
        key: String,
    },
    /// List elements or text were removed.
    DeleteSeq {
        /// The first position removed.
        index: usize,
        /// How many elements or text units.
        count: usize,
    },
    /// A plain automerge counter (not one Polyarch made, which is reported by
    /// [`PatchAction::PutMap`]) changed.
    Increment {
        /// The key or index of the counter.
        at: Seg,
        /// By how much.
        by: i64,
    },
    /// A key or element gained a concurrent value (the winner did not change).
    Conflict {
        /// The key or index.
        at: Seg,
    },
    /// An edit this layer does not model (formatting marks on text).
    Other,
}

fn seg(prop: Prop) -> Seg {
    match prop {
        Prop::Map(k) => Seg::Key(k),
        Prop::Seq(i) => Seg::Index(i),
    }
}

/// The model value of a patch's automerge value: `None` for containers and unknown types.
fn value(v: &AmValue<'_>) -> Option<Value> {
    match v {
        AmValue::Object(_) => None,
        AmValue::Scalar(s) => match Scalar::from_automerge(s) {
            Scalar::Value(v) => Some(v),
            Scalar::Counter(n) => Some(Value::Int(n)),
            Scalar::Unknown(_) => None,
        },
    }
}

/// The model's patches for automerge's, made against `doc` as it is after them.
///
/// A counter (a map of per-device entries) is reported as a whole: any patch that creates it
/// or changes an entry becomes "the counter is now N" at the counter's own key.
pub(crate) fn from_automerge<D: ReadDoc>(doc: &D, patches: Vec<automerge::Patch>) -> Vec<Patch> {
    patches.into_iter().map(|p| convert(doc, p)).collect()
}

/// "The counter in `prop` of `obj` is now N".
fn counter_now<D: ReadDoc>(doc: &D, obj: &ObjId, prop: Prop) -> PatchAction {
    let all = doc.get_all(obj, prop.clone()).unwrap_or_default();
    let value = Some(Value::Int(resolve::counter_total(doc, &all)));
    let conflict = all.len() > 1;
    match prop {
        Prop::Map(key) => PatchAction::PutMap {
            key,
            value,
            conflict,
        },
        Prop::Seq(index) => PatchAction::PutList {
            index,
            value,
            conflict,
        },
    }
}

fn convert<D: ReadDoc>(doc: &D, p: automerge::Patch) -> Patch {
    use automerge::PatchAction as A;
    if doc.object_type(&p.obj).ok() == Some(ObjType::Map) && resolve::is_counter(doc, &p.obj) {
        // An entry of a counter changed.
        let mut path = p.path;
        let Some((parent, prop)) = path.pop() else {
            return Patch {
                path: Path::root(),
                action: PatchAction::Other,
            };
        };
        return Patch {
            path: Path::from(
                path.into_iter()
                    .map(|(_, prop)| seg(prop))
                    .collect::<Vec<_>>(),
            ),
            action: counter_now(doc, &parent, prop),
        };
    }
    let path = Path::from(
        p.path
            .into_iter()
            .map(|(_, prop)| seg(prop))
            .collect::<Vec<_>>(),
    );
    let action = match p.action {
        A::PutMap {
            key,
            value: (AmValue::Object(ObjType::Map), id),
            ..
        } if resolve::is_counter(doc, &id) => counter_now(doc, &p.obj, Prop::Map(key)),
        A::PutSeq {
            index,
            value: (AmValue::Object(ObjType::Map), id),
            ..
        } if resolve::is_counter(doc, &id) => counter_now(doc, &p.obj, Prop::Seq(index)),
        A::PutMap {
            key,
            value: (v, _),
            conflict,
        } => PatchAction::PutMap {
            key,
            value: value(&v),
            conflict,
        },
        A::PutSeq {
            index,
            value: (v, _),
            conflict,
        } => PatchAction::PutList {
            index,
            value: value(&v),
            conflict,
        },
        A::Insert { index, values } => PatchAction::Insert {
            index,
            values: values.iter().map(|(v, _, _)| value(v)).collect(),
        },
        A::SpliceText { index, value, .. } => PatchAction::SpliceText {
            index,
            text: value.make_string(),
        },
        A::Increment { prop, value } => PatchAction::Increment {
            at: seg(prop),
            by: value,
        },
        A::Conflict { prop } => PatchAction::Conflict { at: seg(prop) },
        A::DeleteMap { key } => PatchAction::DeleteMap { key },
        A::DeleteSeq { index, length } => PatchAction::DeleteSeq {
            index,
            count: length,
        },
        A::Mark { .. } => PatchAction::Other,
    };
    Patch { path, action }
}
