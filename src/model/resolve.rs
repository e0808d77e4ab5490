//! Path resolution: from a [`Path`] to the automerge object or slot it names.
//!
//! Every step follows automerge's winning value (`get`), so a path always means one object.
//! Reads report a missing step as "nothing there"; writes create missing maps under keys and
//! refuse missing list elements ([`ModelError::IndexOutOfRange`]).
//!
//! Lookups cost one automerge `get` per step and allocate only what automerge's API needs
//! (the key as a `String`); paths are never cloned except to report an error.

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, Prop, ROOT, ReadDoc, Value as AmValue};

use super::value::Scalar;
use super::{Kind, ModelError, Path, Seg, Value};

/// What one slot (a map key or list index) holds, going by automerge's winner.
pub(crate) enum Slot {
    /// Nothing.
    Missing,
    /// An object: its id and type.
    Obj(ObjId, ObjType),
    /// A scalar: a counter or a register value.
    Scalar(Kind),
}

impl Slot {
    /// What the slot holds.
    pub(crate) fn kind<D: ReadDoc>(&self, doc: &D) -> Kind {
        match self {
            Slot::Missing => Kind::Missing,
            Slot::Obj(id, t) => kind_of_obj(doc, id, *t),
            Slot::Scalar(k) => *k,
        }
    }
}

/// An object found by resolution: its id and type.
pub(crate) type Obj = (ObjId, ObjType);

/// The automerge property for a path step.
pub(crate) fn prop(seg: &Seg) -> Prop {
    match seg {
        Seg::Key(k) => Prop::Map(k.clone()),
        Seg::Index(i) => Prop::Seq(*i),
    }
}

/// The key that marks a map as a counter: it holds an automerge counter at 0. Actor ids, the
/// other keys of a counter, are never empty.
pub(crate) const COUNTER_MARK: &str = "";

/// The model kind of an automerge object type, not looking inside (a map may be a counter).
pub(crate) fn obj_kind(t: ObjType) -> Kind {
    match t {
        ObjType::Map | ObjType::Table => Kind::Map,
        ObjType::List => Kind::List,
        ObjType::Text => Kind::Text,
    }
}

/// Whether the map `id` is a counter (see [`CounterRef`](super::CounterRef)).
pub(crate) fn is_counter<D: ReadDoc>(doc: &D, id: &ObjId) -> bool {
    matches!(doc.get(id, COUNTER_MARK), Ok(Some((AmValue::Scalar(s), _))) if s.is_counter())
}

/// The model kind of the object `id` of type `t`.
pub(crate) fn kind_of_obj<D: ReadDoc>(doc: &D, id: &ObjId, t: ObjType) -> Kind {
    match obj_kind(t) {
        Kind::Map if is_counter(doc, id) => Kind::Counter,
        kind => kind,
    }
}

/// The model kind of an automerge value, not looking inside objects.
pub(crate) fn value_kind(v: &AmValue<'_>) -> Kind {
    match v {
        AmValue::Object(t) => obj_kind(*t),
        AmValue::Scalar(s) if s.is_counter() => Kind::Counter,
        AmValue::Scalar(_) => Kind::Register,
    }
}

/// The model kind of the value `v` (made by operation `id`).
pub(crate) fn kind_of<D: ReadDoc>(doc: &D, v: &AmValue<'_>, id: &ObjId) -> Kind {
    match v {
        AmValue::Object(t) => kind_of_obj(doc, id, *t),
        v => value_kind(v),
    }
}

/// The kind of container a step can enter: keys enter maps, indexes enter lists.
fn seg_kind(seg: &Seg) -> Kind {
    match seg {
        Seg::Key(_) => Kind::Map,
        Seg::Index(_) => Kind::List,
    }
}

/// The first `n` steps of `path` (for error reports).
pub(crate) fn prefix(path: &Path, n: usize) -> Path {
    Path::from(path.segments().iter().take(n).cloned().collect::<Vec<_>>())
}

/// A [`ModelError::TypeMismatch`] at the first `n` steps of `path`.
pub(crate) fn mismatch(path: &Path, n: usize, expected: Kind, found: Kind) -> ModelError {
    ModelError::TypeMismatch {
        path: prefix(path, n),
        expected,
        found,
    }
}

/// A [`ModelError::TypeMismatch`] at `path` itself.
pub(crate) fn wrong(path: &Path, expected: Kind, found: Kind) -> ModelError {
    mismatch(path, path.len(), expected, found)
}

/// The error for a missing slot when the slot is a list index (`None` for a map key, which
/// writes may create): the list `obj` holds the last step of `path`.
pub(crate) fn missing_index<D: ReadDoc>(
    doc: &D,
    obj: &Obj,
    seg: &Seg,
    path: &Path,
) -> Option<ModelError> {
    match seg {
        Seg::Index(index) => Some(ModelError::IndexOutOfRange {
            path: prefix(path, path.len().saturating_sub(1)),
            index: *index,
            len: doc.length(&obj.0),
        }),
        Seg::Key(_) => None,
    }
}

/// Converts the scalar at `path` into a register value.
pub(crate) fn register_value(s: &automerge::ScalarValue, path: &Path) -> Result<Value, ModelError> {
    match Scalar::from_automerge(s) {
        Scalar::Value(v) => Ok(v),
        Scalar::Counter(_) => Err(wrong(path, Kind::Register, Kind::Counter)),
        Scalar::Unknown(type_code) => Err(ModelError::UnsupportedValue {
            path: path.clone(),
            type_code,
        }),
    }
}

/// Checks that step `depth` of `path` can enter `obj` (keys into maps, indexes into lists).
pub(crate) fn check_step(
    path: &Path,
    depth: usize,
    obj: &Obj,
    seg: &Seg,
) -> Result<(), ModelError> {
    match (seg, obj.1) {
        (Seg::Key(_), ObjType::Map) | (Seg::Index(_), ObjType::List) => Ok(()),
        _ => Err(mismatch(path, depth, seg_kind(seg), obj_kind(obj.1))),
    }
}

/// What step `depth` of `path` (`seg`) holds inside `obj`.
pub(crate) fn lookup<D: ReadDoc>(
    doc: &D,
    obj: &Obj,
    seg: &Seg,
    path: &Path,
    depth: usize,
) -> Result<Slot, ModelError> {
    check_step(path, depth, obj, seg)?;
    Ok(match doc.get(&obj.0, prop(seg))? {
        None => Slot::Missing,
        Some((AmValue::Object(t), id)) => Slot::Obj(id, t),
        Some((v, _)) => Slot::Scalar(value_kind(&v)),
    })
}

/// The kind of container step `depth + 1` of `path` needs, or `want` after the last step.
fn next_kind(path: &Path, depth: usize, want: Kind) -> Kind {
    path.segments().get(depth + 1).map_or(want, seg_kind)
}

/// Follows the first `upto` steps of `path`. `None` when a step finds nothing. `want` is what
/// the caller needs after the last step (for the error when a scalar is in the way).
fn walk<D: ReadDoc>(
    doc: &D,
    path: &Path,
    upto: usize,
    want: Kind,
) -> Result<Option<Obj>, ModelError> {
    let mut cur: Obj = (ROOT, ObjType::Map);
    for (depth, seg) in path.segments().iter().take(upto).enumerate() {
        match lookup(doc, &cur, seg, path, depth)? {
            Slot::Missing => return Ok(None),
            Slot::Obj(id, t) => cur = (id, t),
            Slot::Scalar(found) => {
                return Err(mismatch(
                    path,
                    depth + 1,
                    next_kind(path, depth, want),
                    found,
                ));
            }
        }
    }
    Ok(Some(cur))
}

/// The object at `path`, which must be of kind `want` (`None` when missing).
pub(crate) fn find_obj<D: ReadDoc>(
    doc: &D,
    path: &Path,
    want: Kind,
) -> Result<Option<ObjId>, ModelError> {
    match walk(doc, path, path.len(), want)? {
        None => Ok(None),
        Some((id, t)) => match kind_of_obj(doc, &id, t) {
            kind if kind == want => Ok(Some(id)),
            kind => Err(wrong(path, want, kind)),
        },
    }
}

/// The last step of `path`; the root has none, and is a map, not a `want`.
fn last_step(path: &Path, want: Kind) -> Result<&Seg, ModelError> {
    path.segments()
        .last()
        .ok_or_else(|| mismatch(path, 0, want, Kind::Map))
}

/// The object that holds the last step of `path`, and that step (`None` when the holder is
/// missing). Used by the types that live in a slot rather than being objects: registers,
/// counters, and sets (whose concurrent copies all sit in the same slot).
pub(crate) fn find_slot<'p, D: ReadDoc>(
    doc: &D,
    path: &'p Path,
    want: Kind,
) -> Result<Option<(Obj, &'p Seg)>, ModelError> {
    let seg = last_step(path, want)?;
    let parent = walk(doc, path, path.len() - 1, seg_kind(seg))?;
    match parent {
        None => Ok(None),
        Some(obj) => {
            check_step(path, path.len() - 1, &obj, seg)?;
            Ok(Some((obj, seg)))
        }
    }
}

/// What `path` holds.
pub(crate) fn kind<D: ReadDoc>(doc: &D, path: &Path) -> Result<Kind, ModelError> {
    let Some(seg) = path.segments().last() else {
        return Ok(Kind::Map);
    };
    let Some(parent) = walk(doc, path, path.len() - 1, seg_kind(seg))? else {
        return Ok(Kind::Missing);
    };
    Ok(lookup(doc, &parent, seg, path, path.len() - 1)?.kind(doc))
}

/// Like `walk` for writing: creates a map under every missing key. A missing list element is
/// an error, never created (nor is a list, since it could not hold the index that follows).
fn walk_mut(tx: &mut Transaction<'_>, path: &Path, upto: usize) -> Result<Obj, ModelError> {
    let segs = path.segments();
    let mut cur: Obj = (ROOT, ObjType::Map);
    for (depth, seg) in segs.iter().take(upto).enumerate() {
        cur = match lookup(tx, &cur, seg, path, depth)? {
            Slot::Obj(id, t) => (id, t),
            Slot::Scalar(found) => {
                return Err(mismatch(
                    path,
                    depth + 1,
                    next_kind(path, depth, Kind::Map),
                    found,
                ));
            }
            Slot::Missing => match (seg, segs.get(depth + 1)) {
                (Seg::Key(_), Some(Seg::Index(index))) => {
                    return Err(ModelError::IndexOutOfRange {
                        path: prefix(path, depth + 1),
                        index: *index,
                        len: 0,
                    });
                }
                (Seg::Key(k), _) => (
                    tx.put_object(&cur.0, k.as_str(), ObjType::Map)?,
                    ObjType::Map,
                ),
                (Seg::Index(index), _) => {
                    return Err(ModelError::IndexOutOfRange {
                        path: prefix(path, depth),
                        index: *index,
                        len: tx.length(&cur.0),
                    });
                }
            },
        };
    }
    Ok(cur)
}

/// The object holding the last step of `path` and that step, creating missing maps on the way.
pub(crate) fn slot_mut<'p>(
    tx: &mut Transaction<'_>,
    path: &'p Path,
    want: Kind,
) -> Result<(Obj, &'p Seg), ModelError> {
    let seg = last_step(path, want)?;
    let parent = walk_mut(tx, path, path.len() - 1)?;
    check_step(path, path.len() - 1, &parent, seg)?;
    Ok((parent, seg))
}

/// The object of type `t` at `path`, created (with any missing maps above it) when missing.
pub(crate) fn make_obj(
    tx: &mut Transaction<'_>,
    path: &Path,
    t: ObjType,
) -> Result<ObjId, ModelError> {
    let want = obj_kind(t);
    if path.is_empty() {
        return match want {
            Kind::Map => Ok(ROOT),
            _ => Err(mismatch(path, 0, want, Kind::Map)),
        };
    }
    let (parent, seg) = slot_mut(tx, path, want)?;
    match lookup(tx, &parent, seg, path, path.len() - 1)? {
        Slot::Missing => match missing_index(tx, &parent, seg, path) {
            Some(e) => Err(e),
            None => Ok(tx.put_object(&parent.0, prop(seg), t)?),
        },
        found => match (found.kind(tx), found) {
            (kind, Slot::Obj(id, _)) if kind == want => Ok(id),
            (kind, _) => Err(wrong(path, want, kind)),
        },
    }
}

/// Every concurrent value in the slot at `path` (automerge's winner last); empty when missing.
pub(crate) fn slot_all<'d, D: ReadDoc>(
    doc: &'d D,
    path: &Path,
    want: Kind,
) -> Result<Vec<(AmValue<'d>, ObjId)>, ModelError> {
    match find_slot(doc, path, want)? {
        None => Ok(Vec::new()),
        Some((obj, seg)) => Ok(doc.get_all(&obj.0, prop(seg))?),
    }
}

/// Checks that the winner of `values` (the last) is of kind `want`.
pub(crate) fn check_winner<D: ReadDoc>(
    doc: &D,
    values: &[(AmValue<'_>, ObjId)],
    path: &Path,
    want: Kind,
) -> Result<(), ModelError> {
    match values.last().map(|(v, id)| kind_of(doc, v, id)) {
        Some(kind) if kind != want => Err(wrong(path, want, kind)),
        _ => Ok(()),
    }
}

/// The counter held by one slot's concurrent `values`: the sum over every copy, whether a
/// counter map (the sum of its entries) or a plain automerge counter.
pub(crate) fn counter_total<D: ReadDoc>(doc: &D, values: &[(AmValue<'_>, ObjId)]) -> i64 {
    let scalar = |v: &AmValue<'_>| match v {
        AmValue::Scalar(s) => match Scalar::from_automerge(s) {
            Scalar::Counter(n) => n,
            _ => 0,
        },
        AmValue::Object(_) => 0,
    };
    values
        .iter()
        .map(|(v, id)| match v {
            AmValue::Object(ObjType::Map) if is_counter(doc, id) => doc
                .map_range(id, ..)
                .map(|entry| scalar(&entry.value.into()))
                .fold(0, i64::saturating_add),
            v => scalar(v),
        })
        .fold(0, i64::saturating_add)
}
