//! Path resolution: from a [`Path`] to the automerge objects or slot it names.
//!
//! A map may exist in several concurrent copies: two devices that both created `events` while
//! apart leave two maps at that key, and automerge shows one. The model merges them: a map is
//! a [`Node`] holding every copy (the winning one first), a key is looked up in all of them,
//! and a slot's values are the values of every copy (the winner's first). A path step that
//! finds a map enters all its copies; one that finds text or a list enters automerge's winner.
//!
//! Reads report a missing step as "nothing there"; writes create missing maps under keys (in
//! the winning copy) and refuse missing list elements ([`ModelError::IndexOutOfRange`]).
//! Each step costs one automerge lookup per copy; paths are never cloned except to report an
//! error.

mod kinds;

use std::iter;

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, ROOT, ReadDoc, Value as AmValue};

pub(crate) use kinds::{
    COUNTER_MARK, Values, check_winner, counter_total, is_counter, kind_of, obj_kind, prefix, prop,
    register_value, value_kind, winner_kind, wrong,
};
use kinds::{mismatch, seg_kind};

use super::{Kind, ModelError, Path, Seg};

/// An object a path leads to: a map in all its concurrent copies, or one list or text.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The object (for a map, its winning copy).
    pub(crate) main: ObjId,
    /// The other copies of a map (empty for anything else).
    pub(crate) others: Vec<ObjId>,
    /// What the object is.
    pub(crate) t: ObjType,
}

impl Node {
    fn root() -> Self {
        Self {
            main: ROOT,
            others: Vec::new(),
            t: ObjType::Map,
        }
    }

    /// Every copy, the winning one first.
    pub(crate) fn copies(&self) -> impl Iterator<Item = &ObjId> {
        iter::once(&self.main).chain(&self.others)
    }

    /// The node of the objects among `values` (a slot's values, winner first), entered through
    /// the winner, `None` when the winner is not an object.
    fn enter(values: &[(AmValue<'_>, ObjId)]) -> Option<Self> {
        let (AmValue::Object(t), main) = values.first()? else {
            return None;
        };
        let others = match obj_kind(*t) {
            Kind::Map => values
                .iter()
                .skip(1)
                .filter(|(v, _)| matches!(v, AmValue::Object(ObjType::Map)))
                .map(|(_, id)| id.clone())
                .collect(),
            _ => Vec::new(),
        };
        Some(Self {
            main: main.clone(),
            others,
            t: *t,
        })
    }
}

/// Checks that step `depth` of `path` can enter `node` (keys into maps, indexes into lists).
fn check_step(path: &Path, depth: usize, node: &Node, seg: &Seg) -> Result<(), ModelError> {
    match (seg, node.t) {
        (Seg::Key(_), ObjType::Map) | (Seg::Index(_), ObjType::List) => Ok(()),
        _ => Err(mismatch(path, depth, seg_kind(seg), obj_kind(node.t))),
    }
}

/// Every value at step `depth` of `path` (`seg`) in `node`'s copies, the winner first.
pub(crate) fn values_at<'d, D: ReadDoc>(
    doc: &'d D,
    node: &Node,
    seg: &Seg,
    path: &Path,
    depth: usize,
) -> Result<Values<'d>, ModelError> {
    check_step(path, depth, node, seg)?;
    let prop = prop(seg);
    let mut out = Vec::new();
    for copy in node.copies() {
        let mut values = doc.get_all(copy, prop.clone())?;
        values.reverse();
        out.append(&mut values);
    }
    Ok(out)
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
) -> Result<Option<Node>, ModelError> {
    let mut node = Node::root();
    for (depth, seg) in path.segments().iter().take(upto).enumerate() {
        let values = values_at(doc, &node, seg, path, depth)?;
        node = match (Node::enter(&values), values.first()) {
            (Some(next), _) => next,
            (None, None) => return Ok(None),
            (None, Some((v, _))) => {
                let expected = next_kind(path, depth, want);
                return Err(mismatch(path, depth + 1, expected, value_kind(v)));
            }
        };
    }
    Ok(Some(node))
}

/// The object at `path`, which must be of kind `want` (`None` when missing).
pub(crate) fn find_obj<D: ReadDoc>(
    doc: &D,
    path: &Path,
    want: Kind,
) -> Result<Option<Node>, ModelError> {
    match walk(doc, path, path.len(), want)? {
        None => Ok(None),
        Some(node) => match kinds::kind_of_obj(doc, &node.main, node.t) {
            kind if kind == want => Ok(Some(node)),
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

/// Every concurrent value in the slot at `path` (the winner first); empty when missing. Used
/// by the types that live in a slot rather than being one object: registers, counters, and
/// sets (whose concurrent copies all sit in the slot).
pub(crate) fn slot_all<'d, D: ReadDoc>(
    doc: &'d D,
    path: &Path,
    want: Kind,
) -> Result<Values<'d>, ModelError> {
    let seg = last_step(path, want)?;
    let depth = path.len() - 1;
    match walk(doc, path, depth, seg_kind(seg))? {
        None => Ok(Vec::new()),
        Some(parent) => values_at(doc, &parent, seg, path, depth),
    }
}

/// What `path` holds.
pub(crate) fn kind<D: ReadDoc>(doc: &D, path: &Path) -> Result<Kind, ModelError> {
    if path.is_empty() {
        return Ok(Kind::Map);
    }
    Ok(winner_kind(doc, &slot_all(doc, path, Kind::Missing)?))
}

/// The error for a missing slot when the slot is a list index (`None` for a map key, which
/// writes may create): `node` holds the last step of `path`.
pub(crate) fn missing_index<D: ReadDoc>(
    doc: &D,
    node: &Node,
    seg: &Seg,
    path: &Path,
) -> Option<ModelError> {
    match seg {
        Seg::Index(index) => Some(ModelError::IndexOutOfRange {
            path: prefix(path, path.len().saturating_sub(1)),
            index: *index,
            len: doc.length(&node.main),
        }),
        Seg::Key(_) => None,
    }
}

/// Like `walk` for writing: creates a map (in the winning copy) under every missing key. A
/// missing list element is an error, never created (nor is a list, since it could not hold
/// the index that follows).
fn walk_mut(tx: &mut Transaction<'_>, path: &Path, upto: usize) -> Result<Node, ModelError> {
    let segs = path.segments();
    let mut node = Node::root();
    for (depth, seg) in segs.iter().take(upto).enumerate() {
        let values = values_at(tx, &node, seg, path, depth)?;
        node = match (
            Node::enter(&values),
            values.first(),
            seg,
            segs.get(depth + 1),
        ) {
            (Some(next), ..) => next,
            (None, Some((v, _)), ..) => {
                let expected = next_kind(path, depth, Kind::Map);
                return Err(mismatch(path, depth + 1, expected, value_kind(v)));
            }
            (None, None, Seg::Key(_), Some(Seg::Index(index))) => {
                return Err(ModelError::IndexOutOfRange {
                    path: prefix(path, depth + 1),
                    index: *index,
                    len: 0,
                });
            }
            (None, None, Seg::Key(k), _) => Node {
                main: tx.put_object(&node.main, k.as_str(), ObjType::Map)?,
                others: Vec::new(),
                t: ObjType::Map,
            },
            (None, None, Seg::Index(index), _) => {
                return Err(ModelError::IndexOutOfRange {
                    path: prefix(path, depth),
                    index: *index,
                    len: tx.length(&node.main),
                });
            }
        };
    }
    Ok(node)
}

/// The object holding the last step of `path` and that step, creating missing maps on the way.
pub(crate) fn slot_mut<'p>(
    tx: &mut Transaction<'_>,
    path: &'p Path,
    want: Kind,
) -> Result<(Node, &'p Seg), ModelError> {
    let seg = last_step(path, want)?;
    let parent = walk_mut(tx, path, path.len() - 1)?;
    check_step(path, path.len() - 1, &parent, seg)?;
    Ok((parent, seg))
}

/// The object of type `t` at `path` (for a map, its winning copy), created (with any missing
/// maps above it) when missing.
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
    let values = values_at(tx, &parent, seg, path, path.len() - 1)?;
    match (winner_kind(tx, &values), values.first()) {
        (kind, Some((_, id))) if kind == want => Ok(id.clone()),
        (Kind::Missing, _) => match missing_index(tx, &parent, seg, path) {
            Some(e) => Err(e),
            None => Ok(tx.put_object(&parent.main, prop(seg), t)?),
        },
        (kind, _) => Err(wrong(path, want, kind)),
    }
}
