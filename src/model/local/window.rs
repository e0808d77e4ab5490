//! [`TextWindow`] and [`Recorder`]: the element ids a text splice's change names.

use automerge::legacy as lg;
use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ChangeHash, ObjId, ReadDoc, Value as AmValue};

use crate::model::{Path, TextUnits};

/// Most elements a [`TextWindow`] remembers; past that it keeps the half around the last edit.
const WINDOW_CAP: usize = 1024;

/// How many elements before a splice a fresh read of the text takes, so that a run of
/// backspaces finds more of what it deletes in the window. Each costs an automerge lookup. On
/// the automerge-paper trace (with [`EXTEND_GAP`]), 2 misses the window 46,000 times and reads
/// 67,000 elements; 1 misses 63,000 times and reads 65,000.
const READ_BEHIND: usize = 2;

/// How far (in text units) a splice may fall outside the window for the window to be extended
/// to it, reading only the elements in between, rather than replaced by a fresh read. On the
/// automerge-paper trace, extending splices that touch the window halves the elements read;
/// reaching farther reads more.
const EXTEND_GAP: usize = 1;

/// A text element: the id of the operation that inserted it, and its width in text units.
#[derive(Debug, Clone)]
pub(super) struct Elem {
    pub(super) id: lg::OpId,
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

/// The element `v` (with operation id `id`), when it is one piece of text.
fn elem(v: &AmValue<'_>, id: &ObjId, units: TextUnits) -> Option<Elem> {
    match (v, id) {
        (AmValue::Scalar(s), ObjId::Id(ctr, actor, _)) => Some(Elem {
            id: lg::OpId(*ctr, actor.clone()),
            width: s.as_str()?.chars().map(|c| char_width(c, units)).sum(),
        }),
        _ => None,
    }
}

/// The change a window describes the document after: our last lone splice.
#[derive(Debug, Clone)]
pub(super) struct Last {
    pub(super) hash: ChangeHash,
    pub(super) seq: u64,
    pub(super) max_op: u64,
}

/// A run of consecutive visible elements of one text object, as of change `last`, and the
/// path that led to that text.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextWindow {
    last: Option<Last>,
    path: Option<Path>,
    obj: Option<ObjId>,
    run: Run,
}

/// Consecutive elements from position `start`.
#[derive(Debug, Clone, Default)]
struct Run {
    start: usize,
    elems: Vec<Elem>,
    /// The elements' total width: the run ends at `start + width`.
    width: usize,
    /// Whether every element is one unit wide, so that positions map to indexes directly.
    uniform: bool,
}

/// Where a splice falls in a run of elements: the index of the first element at or after the
/// splice, the element before it, and the elements it deletes.
struct Hit {
    index: usize,
    before: Option<Elem>,
    deleted: Vec<Elem>,
}

impl Run {
    fn new(start: usize, elems: Vec<Elem>) -> Self {
        let uniform = elems.iter().all(|e| e.width == 1);
        let width = elems.iter().map(|e| e.width).sum();
        Self {
            start,
            elems,
            width,
            uniform,
        }
    }

    /// The index of the element at `pos` (the length when `pos` is the run's end).
    fn index_of(&self, pos: usize) -> Option<usize> {
        let offset = pos.checked_sub(self.start)?;
        if self.uniform {
            return (offset <= self.elems.len()).then_some(offset);
        }
        let mut at = 0;
        for (i, e) in self.elems.iter().enumerate() {
            if at >= offset {
                return (at == offset).then_some(i);
            }
            at += e.width;
        }
        (at == offset).then_some(self.elems.len())
    }

    /// Where a splice of `del` units at `pos` falls in the run.
    fn locate(&self, pos: usize, del: usize) -> Option<Hit> {
        let index = self.index_of(pos)?;
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

    /// Replaces the `deleted` elements at `index` with `inserted`, then keeps the run to
    /// [`WINDOW_CAP`]. `false` when the range is not in the run.
    fn splice(&mut self, index: usize, deleted: usize, inserted: Vec<Elem>) -> bool {
        let end = index + deleted;
        if end > self.elems.len() {
            return false;
        }
        self.uniform &= inserted.iter().all(|e| e.width == 1);
        let added: usize = inserted.iter().map(|e| e.width).sum();
        let removed: usize = self
            .elems
            .splice(index..end, inserted)
            .map(|e| e.width)
            .sum();
        self.width = self.width + added - removed;
        if self.elems.len() > WINDOW_CAP {
            let keep = WINDOW_CAP / 2;
            if index > self.elems.len() / 2 {
                let excess = self.elems.len() - keep;
                let dropped: usize = self.elems.drain(..excess).map(|e| e.width).sum();
                self.start += dropped;
                self.width -= dropped;
            } else {
                let dropped: usize = self.elems.drain(keep..).map(|e| e.width).sum();
                self.width -= dropped;
            }
        }
        true
    }

    /// Extends the run to cover a splice of `del` units at `pos` and [`READ_BEHIND`] elements
    /// before it, reading only the elements it lacks, when the splice falls at most
    /// [`EXTEND_GAP`] units outside it. `None` (the run unchanged) when the splice is farther
    /// away or a read fails.
    fn extend(
        &mut self,
        tx: &Transaction<'_>,
        obj: &ObjId,
        (pos, del): (usize, usize),
        units: TextUnits,
    ) -> Option<()> {
        let end = self.start + self.width;
        let need_hi = pos.checked_add(del)?;
        let need_lo = pos.saturating_sub(READ_BEHIND);
        if need_hi.saturating_add(EXTEND_GAP) < self.start
            || need_lo > end.saturating_add(EXTEND_GAP)
        {
            return None;
        }
        let mut left = Vec::new();
        let mut lo = self.start;
        while lo > need_lo {
            let (v, id) = tx.get(obj, lo - 1).ok()??;
            let e = elem(&v, &id, units)?;
            lo = lo.checked_sub(e.width)?;
            left.push(e);
        }
        let mut right = Vec::new();
        let mut hi = end;
        while hi < need_hi {
            let all = tx.get_all(obj, hi).ok()?;
            let [(v, id)] = all.as_slice() else {
                return None;
            };
            let e = elem(v, id, units)?;
            hi += e.width;
            right.push(e);
        }
        #[cfg(test)]
        super::stats::count_read(left.len() + right.len());
        let grown = |es: &[Elem]| es.iter().all(|e| e.width == 1);
        self.uniform &= grown(&left) && grown(&right);
        self.width += (self.start - lo) + (hi - end);
        self.start = lo;
        left.reverse();
        self.elems.splice(0..0, left);
        self.elems.extend(right);
        Some(())
    }
}

impl TextWindow {
    /// Whether the window describes `doc` as it is now.
    pub(crate) fn is_current(&self, doc: &Automerge) -> bool {
        self.last
            .as_ref()
            .is_some_and(|last| doc.get_heads() == [last.hash])
    }

    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Applies `splice`, rebuilt successfully as the change `last`, whose operations start at
    /// `first`.
    pub(super) fn advance(
        &mut self,
        splice: Splice,
        last: Last,
        first: &lg::OpId,
        units: TextUnits,
    ) {
        if let Some(run) = splice.run {
            self.obj = Some(splice.obj);
            self.run = run;
        }
        if let Some(path) = splice.path {
            self.path = Some(path);
        }
        let inserted = splice
            .inserted
            .chars()
            .zip(first.0..)
            .map(|(c, ctr)| Elem {
                id: lg::OpId(ctr, first.1.clone()),
                width: char_width(c, units),
            })
            .collect();
        if self
            .run
            .splice(splice.index, splice.deleted.len(), inserted)
        {
            self.last = Some(last);
        } else {
            self.clear();
        }
    }
}

/// One text splice as recorded before it ran.
#[derive(Debug)]
pub(crate) struct Splice {
    /// The path to the text, when the window does not have it yet.
    path: Option<Path>,
    pub(super) obj: ObjId,
    pub(super) before: Option<Elem>,
    pub(super) deleted: Vec<Elem>,
    pub(super) inserted: String,
    /// A freshly read run for the window, when the window's own was not used.
    run: Option<Run>,
    /// Where the splice falls in the run.
    index: usize,
    /// The change the window described, when it was current.
    pub(super) prev: Option<Last>,
}

/// What a transaction did, as far as rebuilding its change goes.
#[derive(Debug, Default)]
#[allow(clippy::large_enum_variant)] // one per transaction, never moved around
pub(crate) enum Recording {
    /// Nothing recorded yet.
    #[default]
    Empty,
    /// Exactly one text splice, with the element ids it needs.
    Splice(Splice),
    /// Something else: the change is read back from automerge.
    Unknown,
}

/// Records a transaction's first text splice; part of a [`Tx`](crate::model::Tx).
#[derive(Debug)]
pub(crate) struct Recorder<'a> {
    window: Option<&'a mut TextWindow>,
    units: TextUnits,
    state: Recording,
}

impl<'a> Recorder<'a> {
    /// A recorder that may use `window` (which must be current), and extend it with elements
    /// it reads.
    pub(crate) fn new(window: Option<&'a mut TextWindow>, units: TextUnits) -> Self {
        Self {
            window,
            units,
            state: Recording::Empty,
        }
    }

    /// The window, when `tx` has done nothing yet (so that the window still describes it).
    fn untouched(&self, tx: &Transaction<'_>) -> Option<&TextWindow> {
        self.window.as_deref().filter(|_| self.is_first(tx))
    }

    /// Whether nothing was recorded or done in `tx` yet.
    fn is_first(&self, tx: &Transaction<'_>) -> bool {
        matches!(self.state, Recording::Empty) && tx.pending_ops() == 0
    }

    /// The text at `path`, when the window knows it: nothing has changed since the window's
    /// change, which was a splice and so left every path as it was.
    pub(crate) fn known_text(&self, tx: &Transaction<'_>, path: &Path) -> Option<ObjId> {
        let window = self.untouched(tx)?;
        (window.path.as_ref() == Some(path)).then(|| window.obj.clone())?
    }

    /// Notes that `tx` is about to splice `ins` at `pos` of `obj` (at `path`), deleting `del`
    /// units. Returns whether the elements it deletes were found, which proves the range is
    /// in the text (`false` says nothing either way).
    pub(crate) fn splice(
        &mut self,
        tx: &Transaction<'_>,
        path: &Path,
        obj: &ObjId,
        (pos, del, ins): (usize, usize, &str),
    ) -> bool {
        let plan = match self.is_first(tx) {
            true => self.plan(tx, path, obj, (pos, del, ins)),
            false => None,
        };
        let found = plan.is_some();
        self.state = plan.map_or(Recording::Unknown, Recording::Splice);
        found
    }

    fn plan(
        &mut self,
        tx: &Transaction<'_>,
        path: &Path,
        obj: &ObjId,
        (pos, del, ins): (usize, usize, &str),
    ) -> Option<Splice> {
        let units = self.units;
        // The window still describes the document as of its change (nothing has happened in
        // `tx` yet), so elements read now may join it, whatever becomes of `tx`.
        let own = match self.window.as_deref_mut() {
            Some(w) if w.obj.as_ref() == Some(obj) => w.run.locate(pos, del).or_else(|| {
                w.run.extend(tx, obj, (pos, del), units)?;
                w.run.locate(pos, del)
            }),
            _ => None,
        };
        let (hit, run) = match own {
            Some(hit) => (hit, None),
            None => {
                let run = self.read_run(tx, obj, pos, del)?;
                (run.locate(pos, del)?, Some(run))
            }
        };
        let window = self.window.as_deref();
        let path = match window {
            Some(w) if run.is_none() && w.path.as_ref() == Some(path) => None,
            _ => Some(path.clone()),
        };
        Some(Splice {
            path,
            obj: obj.clone(),
            before: hit.before,
            deleted: hit.deleted,
            inserted: ins.to_owned(),
            run,
            index: hit.index,
            prev: window.and_then(|w| w.last.clone()),
        })
    }

    /// Reads the elements a splice of `del` units at `pos` needs, and a few before it so that a
    /// run of backspaces finds what it deletes in the window. One automerge lookup each.
    fn read_run(&self, tx: &Transaction<'_>, obj: &ObjId, pos: usize, del: usize) -> Option<Run> {
        let end = pos.checked_add(del)?;
        let mut elems = Vec::new();
        let mut start = pos;
        while start > 0 && elems.len() < READ_BEHIND {
            let (v, id) = tx.get(obj, start - 1).ok()??;
            let e = elem(&v, &id, self.units)?;
            start = start.checked_sub(e.width)?;
            elems.push(e);
        }
        elems.reverse();
        let mut at = pos;
        while at < end {
            let all = tx.get_all(obj, at).ok()?;
            let [(v, id)] = all.as_slice() else {
                return None;
            };
            let e = elem(v, id, self.units)?;
            at += e.width;
            elems.push(e);
        }
        #[cfg(test)]
        super::stats::count_read(elems.len());
        Some(Run::new(start, elems))
    }

    /// The recording, once the transaction is over.
    pub(crate) fn finish(self) -> Recording {
        self.state
    }
}
