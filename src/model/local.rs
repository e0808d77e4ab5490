//! The [`LocalChange`] of a commit, obtained cheaply.
//!
//! automerge 0.12 encodes a change when a transaction commits, records its hash and metadata,
//! and drops the bytes. `get_last_local_change` encodes them again from the operation set,
//! which for a one-keystroke transaction costs about a third as much as the transaction itself.
//! For the most frequent transaction, one text splice, this module instead rebuilds the change
//! from what the splice did, through automerge's own encoder for expanded changes (which writes
//! the same bytes as a commit), and keeps the result only when its hash equals the committed
//! change's hash. A rebuilt change is therefore never wrong; anything else, or any mismatch,
//! falls back to `get_last_local_change`.
//!
//! A splice's operations name text elements by id: the element before the insertion point and
//! the deleted ones. Reading them costs one automerge lookup each, so the document keeps a
//! [`TextWindow`]: the ids of a short run of elements around the last edit, valid while the
//! document's only head is the change that produced it (any other change, local or remote,
//! makes it stale). Typing, deleting and moving a little within the window need no lookup.

use std::num::NonZeroU64;

use automerge::legacy as lg;
use automerge::transaction::{Transactable, Transaction};
use automerge::{
    Automerge, AutomergeError, Change, ChangeHash, ExpandedChange, ObjId, ReadDoc, ScalarValue,
    Value as AmValue,
};

use super::{LocalChange, ModelError, TextUnits};

/// Most elements a [`TextWindow`] remembers.
const WINDOW_CAP: usize = 256;

/// A text element: the id of the operation that inserted it, and its width in text units.
#[derive(Debug, Clone)]
struct Elem {
    id: lg::OpId,
    width: usize,
}

/// The width of `c` in `units`.
fn char_width(c: char, units: TextUnits) -> usize {
    match units {
        TextUnits::CodePoints => 1,
        TextUnits::Utf16 => c.len_utf16(),
        TextUnits::Utf8 => c.len_utf8(),
    }
}

/// A run of consecutive visible elements of one text object, as of change `head`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextWindow {
    head: Option<ChangeHash>,
    obj: Option<ObjId>,
    start: usize,
    elems: Vec<Elem>,
}

/// Where a splice falls in a [`TextWindow`].
struct Hit {
    index: usize,
    before: Option<Elem>,
    deleted: Vec<Elem>,
}

impl TextWindow {
    /// Whether the window describes `doc` as it is now.
    pub(crate) fn is_current(&self, doc: &Automerge) -> bool {
        self.head.is_some_and(|head| doc.get_heads() == [head])
    }

    fn clear(&mut self) {
        *self = Self::default();
    }

    /// The elements a splice of `del` units at `pos` in `obj` needs, if the window has them.
    fn find(&self, obj: &ObjId, pos: usize, del: usize) -> Option<Hit> {
        if self.obj.as_ref() != Some(obj) {
            return None;
        }
        let mut at = self.start;
        let mut index = self.elems.len();
        for (i, e) in self.elems.iter().enumerate() {
            if at >= pos {
                index = i;
                break;
            }
            at += e.width;
        }
        if at != pos {
            return None;
        }
        let before = match pos {
            0 => None,
            _ => Some(self.elems.get(index.checked_sub(1)?)?.clone()),
        };
        let mut deleted = Vec::new();
        let mut covered = 0;
        for e in self.elems.get(index..)? {
            if covered >= del {
                break;
            }
            covered += e.width;
            deleted.push(e.clone());
        }
        (covered == del).then_some(Hit {
            index,
            before,
            deleted,
        })
    }

    /// Applies a splice rebuilt successfully as change `head`, whose first operation is
    /// `first` (the inserted elements' ids follow from it).
    fn advance(&mut self, splice: Splice, head: ChangeHash, first: &lg::OpId, units: TextUnits) {
        let inserted = splice.inserted.chars().zip(first.0..).map(|(c, ctr)| Elem {
            id: lg::OpId(ctr, first.1.clone()),
            width: char_width(c, units),
        });
        let edit = match splice.window_index {
            Some(index) if index + splice.deleted.len() <= self.elems.len() => {
                self.elems
                    .splice(index..index + splice.deleted.len(), inserted);
                index
            }
            Some(_) => return self.clear(),
            None => {
                let before = splice.before.as_ref().map_or(0, |e| e.width);
                self.start = splice.pos.saturating_sub(before);
                self.obj = Some(splice.obj);
                self.elems = splice.before.into_iter().chain(inserted).collect();
                0
            }
        };
        self.head = Some(head);
        if self.elems.len() > WINDOW_CAP {
            let excess = self.elems.len() - WINDOW_CAP;
            if edit > self.elems.len() / 2 {
                self.start += self.elems.drain(..excess).map(|e| e.width).sum::<usize>();
            } else {
                self.elems.truncate(WINDOW_CAP);
            }
        }
    }
}

/// One text splice as recorded before it ran.
#[derive(Debug)]
pub(crate) struct Splice {
    obj: ObjId,
    pos: usize,
    before: Option<Elem>,
    deleted: Vec<Elem>,
    inserted: String,
    window_index: Option<usize>,
}

/// What a transaction did, as far as rebuilding its change goes.
#[derive(Debug, Default)]
pub(crate) enum Recording {
    /// Nothing recorded yet.
    #[default]
    Empty,
    /// Exactly one text splice, with the element ids it needs.
    Splice(Splice),
    /// Something else: the change is read back from automerge.
    Unknown,
}

/// Records a transaction's first text splice; part of a [`Tx`](super::Tx).
#[derive(Debug)]
pub(crate) struct Recorder<'a> {
    window: Option<&'a TextWindow>,
    units: TextUnits,
    state: Recording,
}

impl<'a> Recorder<'a> {
    /// A recorder that may use `window` (which must be current).
    pub(crate) fn new(window: Option<&'a TextWindow>, units: TextUnits) -> Self {
        Self {
            window,
            units,
            state: Recording::Empty,
        }
    }

    /// Notes that `tx` is about to splice `ins` at `pos` of `obj`, deleting `del` units.
    pub(crate) fn splice(
        &mut self,
        tx: &Transaction<'_>,
        obj: &ObjId,
        pos: usize,
        del: usize,
        ins: &str,
    ) {
        let first = matches!(self.state, Recording::Empty) && tx.pending_ops() == 0;
        let plan = first.then(|| self.plan(tx, obj, pos, del, ins)).flatten();
        self.state = plan.map_or(Recording::Unknown, Recording::Splice);
    }

    fn plan(
        &self,
        tx: &Transaction<'_>,
        obj: &ObjId,
        pos: usize,
        del: usize,
        ins: &str,
    ) -> Option<Splice> {
        let hit = self.window.and_then(|w| w.find(obj, pos, del));
        let (before, deleted, window_index) = match hit {
            Some(hit) => (hit.before, hit.deleted, Some(hit.index)),
            None => {
                let before = match pos {
                    0 => None,
                    _ => Some(read_elem(tx, obj, pos - 1, self.units, false)?),
                };
                let mut deleted = Vec::new();
                let mut at = pos;
                let end = pos.saturating_add(del);
                while at < end {
                    let e = read_elem(tx, obj, at, self.units, true)?;
                    at += e.width;
                    deleted.push(e);
                }
                (at == end).then_some(())?;
                (before, deleted, None)
            }
        };
        Some(Splice {
            obj: obj.clone(),
            pos,
            before,
            deleted,
            inserted: ins.to_owned(),
            window_index,
        })
    }

    /// The recording, once the transaction is over.
    pub(crate) fn finish(self) -> Recording {
        self.state
    }
}

/// The text element at `pos`, when it has exactly one visible value (or, with `all` false,
/// its winning value).
fn read_elem(
    tx: &Transaction<'_>,
    obj: &ObjId,
    pos: usize,
    units: TextUnits,
    all: bool,
) -> Option<Elem> {
    let elem = |v: &AmValue<'_>, id: &ObjId| match (v, id) {
        (AmValue::Scalar(s), ObjId::Id(ctr, actor, _)) => Some(Elem {
            id: lg::OpId(*ctr, actor.clone()),
            width: s.as_str()?.chars().map(|c| char_width(c, units)).sum(),
        }),
        _ => None,
    };
    if all {
        match tx.get_all(obj, pos).ok()?.as_slice() {
            [(v, id)] => elem(v, id),
            _ => None,
        }
    } else {
        let (v, id) = tx.get(obj, pos).ok()??;
        elem(&v, &id)
    }
}

/// The change committed as `hash` with `ops` operations, by rebuilding `recording` when it can
/// and from automerge otherwise; keeps `window` up to date.
pub(crate) fn local_change(
    doc: &Automerge,
    hash: ChangeHash,
    ops: usize,
    recording: Recording,
    window: &mut TextWindow,
    units: TextUnits,
) -> Result<LocalChange, ModelError> {
    if let Recording::Splice(splice) = recording
        && let Some((change, first)) = rebuild(doc, hash, ops, &splice)
    {
        window.advance(splice, hash, &first, units);
        return Ok(change);
    }
    window.clear();
    let change = doc
        .get_last_local_change()
        .filter(|c| c.hash() == hash)
        .or_else(|| doc.get_change_by_hash(&hash))
        .ok_or(AutomergeError::MissingHash(hash))?;
    Ok(LocalChange {
        hash,
        actor: change.actor_id().clone(),
        seq: change.seq(),
        deps: change.deps().to_vec(),
        bytes: change.raw_bytes().to_vec(),
    })
}

/// Rebuilds the change committed as `hash` from `splice`; `None` unless the result is exactly
/// that change. Also returns the id of its first operation.
fn rebuild(
    doc: &Automerge,
    hash: ChangeHash,
    ops: usize,
    splice: &Splice,
) -> Option<(LocalChange, lg::OpId)> {
    if ops != splice.inserted.chars().count() + splice.deleted.len() {
        return None;
    }
    let meta = doc.get_change_meta_by_hash(&hash)?;
    let actor = meta.actor.into_owned();
    let first = lg::OpId(meta.start_op, actor.clone());
    let obj = match &splice.obj {
        ObjId::Id(ctr, actor, _) => lg::ObjectId::Id(lg::OpId(*ctr, actor.clone())),
        ObjId::Root => return None,
    };
    let mut operations = Vec::with_capacity(ops);
    let mut key = splice
        .before
        .as_ref()
        .map_or(lg::ElementId::Head, |e| lg::ElementId::Id(e.id.clone()));
    for (c, ctr) in splice.inserted.chars().zip(meta.start_op..) {
        operations.push(lg::Op {
            action: lg::OpType::Put(ScalarValue::from(c)),
            obj: obj.clone(),
            key: lg::Key::Seq(key),
            pred: lg::SortedVec::new(),
            insert: true,
        });
        key = lg::ElementId::Id(lg::OpId(ctr, actor.clone()));
    }
    for e in &splice.deleted {
        operations.push(lg::Op {
            action: lg::OpType::Delete,
            obj: obj.clone(),
            key: lg::Key::Seq(lg::ElementId::Id(e.id.clone())),
            pred: vec![e.id.clone()].into(),
            insert: false,
        });
    }
    let mut deps = meta.deps;
    deps.sort_unstable();
    let change = Change::from(ExpandedChange {
        operations,
        actor_id: actor.clone(),
        hash: None,
        seq: meta.seq,
        start_op: NonZeroU64::new(meta.start_op)?,
        time: meta.timestamp,
        message: meta.message.map(|m| m.into_owned()),
        deps: deps.clone(),
        extra_bytes: meta.extra.into_owned(),
        author: None,
    });
    let local = LocalChange {
        hash,
        actor,
        seq: meta.seq,
        deps,
        bytes: change.raw_bytes().to_vec(),
    };
    (change.hash() == hash).then_some((local, first))
}
