//! automerge's binary change format, written directly for the one kind of change
//! [`rebuild`](super::rebuild) makes: one text splice.
//!
//! `Change::from(ExpandedChange)` goes through automerge's general encoder (actor tables in
//! B-trees, one pass over the operations per column, a `Vec` per column), which for a
//! one-keystroke change costs more than the rest of rebuilding it. This writes the same bytes
//! straight away. Nothing here has to be trusted: the caller keeps the result only when its hash
//! equals the hash automerge committed, and otherwise falls back to automerge's own encoder.
//!
//! # The bytes (automerge's storage format, change chunk)
//!
//! `85 6f 4a 83` (magic), the first 4 bytes of the hash, chunk type `1`, the length of the
//! data (uLEB), then the data: dependency count and 32-byte hashes (sorted), the actor
//! (length-prefixed), sequence number, first operation counter (uLEB), time (sLEB), message
//! (length-prefixed, empty when none), the other actors (count, then each length-prefixed, sorted),
//! the column table (count, then each non-empty column's specification and length), the columns'
//! bytes in that order, and the extra bytes. The hash is SHA-256 over the chunk type, the length
//! and the data.
//!
//! A splice of `n` inserted characters after element `e` (or the head) and `m` deleted elements
//! has `n + m` operations, inserts first: insert `i` puts character `i` at key `e` (for `i = 0`)
//! or at the element insert `i - 1` made; each delete has the deleted element as key and as
//! its single predecessor. Columns, in order (empty ones are left out): object actor and
//! counter (RLE), key actor (RLE, null for the head) and counter (delta), insert flags
//! (boolean), actions (RLE: 1 put, 3 delete), value metadata (RLE: `len << 4 | 6` for a string,
//! 0 for null) and raw values (the UTF-8 bytes), predecessor counts (RLE), actors (RLE) and
//! counters (delta). Keys are never strings and no operation is a mark, so those columns are
//! empty.

use automerge::legacy as lg;
use automerge::{ActorId, ChangeHash};
use sha2::{Digest, Sha256};

/// The magic bytes that start every automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of a change.
const CHUNK_CHANGE: u8 = 1;

/// automerge's column specifications: `id << 4 | type`.
mod col {
    pub(super) const OBJ_ACTOR: u64 = 0x01;
    pub(super) const OBJ_CTR: u64 = 0x02;
    pub(super) const KEY_ACTOR: u64 = 0x11;
    pub(super) const KEY_CTR: u64 = 0x13;
    pub(super) const INSERT: u64 = 0x34;
    pub(super) const ACTION: u64 = 0x42;
    pub(super) const VAL_META: u64 = 0x56;
    pub(super) const VAL_RAW: u64 = 0x57;
    pub(super) const PRED_NUM: u64 = 0x70;
    pub(super) const PRED_ACTOR: u64 = 0x71;
    pub(super) const PRED_CTR: u64 = 0x73;
}

/// Operation actions.
const PUT: u64 = 1;
const DELETE: u64 = 3;
/// Value type of a UTF-8 string.
const STRING: u64 = 6;

/// What a change says besides its operations.
pub(super) struct Meta<'a> {
    pub(super) actor: &'a ActorId,
    pub(super) seq: u64,
    pub(super) start_op: u64,
    pub(super) time: i64,
    pub(super) message: Option<&'a str>,
    /// Sorted.
    pub(super) deps: &'a [ChangeHash],
    pub(super) extra: &'a [u8],
}

/// One text splice's operations.
pub(super) struct SpliceOps<'a> {
    /// The text object.
    pub(super) obj: &'a lg::OpId,
    /// The element the insertion follows (`None`: the head of the text).
    pub(super) after: Option<&'a lg::OpId>,
    /// The inserted characters.
    pub(super) inserted: &'a str,
    /// The deleted elements.
    pub(super) deleted: &'a [&'a lg::OpId],
}

/// One operation's values in the columns that differ between operations.
#[derive(Clone, Copy)]
struct Row {
    /// Actor index and counter of the key element (`None`: the head).
    key: Option<(u64, u64)>,
    insert: bool,
    action: u64,
    value_meta: u64,
    /// Actor index and counter of the single predecessor (deletes).
    pred: Option<(u64, u64)>,
}

/// Most bytes a chunk header takes: magic, checksum, chunk type, and a 5-byte length.
const MAX_HEADER: usize = 4 + 4 + 1 + 5;

/// The change's bytes and hash.
pub(super) fn splice_change(meta: &Meta<'_>, ops: &SpliceOps<'_>) -> (Vec<u8>, ChangeHash) {
    // The actor table: the change's actor first, then every other one the operations name,
    // sorted (`after` is named only by an insert).
    let after = ops.after.filter(|_| !ops.inserted.is_empty());
    let mut others: Vec<&ActorId> = std::iter::once(&ops.obj.1)
        .chain(after.map(|e| &e.1))
        .chain(ops.deleted.iter().map(|e| &e.1))
        .filter(|a| *a != meta.actor)
        .collect();
    others.sort_unstable();
    others.dedup();
    let index = |actor: &ActorId| -> u64 {
        if actor == meta.actor {
            0
        } else {
            others.binary_search(&actor).map_or(0, |i| i as u64 + 1)
        }
    };
    let after = after.map(|e| (index(&e.1), e.0));
    let index = &index;
    let rows = move || {
        let keys = std::iter::once(after).chain((meta.start_op..).map(|ctr| Some((0, ctr))));
        let inserts = ops.inserted.chars().zip(keys).map(|(c, key)| Row {
            key,
            insert: true,
            action: PUT,
            value_meta: ((c.len_utf8() as u64) << 4) | STRING,
            pred: None,
        });
        let deletes = ops.deleted.iter().map(move |e| {
            let id = Some((index(&e.1), e.0));
            Row {
                key: id,
                insert: false,
                action: DELETE,
                value_meta: 0,
                pred: id,
            }
        });
        inserts.chain(deletes)
    };

    // The chunk is written in place after room for the longest header, which is then written
    // in front of the data once its length is known.
    let mut bytes = Vec::with_capacity(
        MAX_HEADER + 96 + 32 * meta.deps.len() + 17 * others.len() + 2 * ops.inserted.len(),
    );
    bytes.resize(MAX_HEADER, 0);
    uleb(&mut bytes, meta.deps.len() as u64);
    for dep in meta.deps {
        bytes.extend_from_slice(&dep.0);
    }
    prefixed(&mut bytes, meta.actor.to_bytes());
    uleb(&mut bytes, meta.seq);
    uleb(&mut bytes, meta.start_op);
    sleb(&mut bytes, meta.time);
    prefixed(&mut bytes, meta.message.unwrap_or("").as_bytes());
    uleb(&mut bytes, others.len() as u64);
    for actor in &others {
        prefixed(&mut bytes, actor.to_bytes());
    }

    // The columns, into one buffer; the column table needs their lengths first.
    let mut cols = Vec::with_capacity(32 + 13 * (ops.inserted.len() + ops.deleted.len()));
    let mut table = [(0u64, 0usize); 11];
    let mut present = 0;
    let mut column = |cols: &mut Vec<u8>, spec: u64, start: usize| {
        if cols.len() > start
            && let Some(slot) = table.get_mut(present)
        {
            *slot = (spec, cols.len() - start);
            present += 1;
        }
    };
    let obj = (index(&ops.obj.1), ops.obj.0);
    let start = cols.len();
    Rle::encode(&mut cols, false, rows().map(|_| Some(obj.0)));
    column(&mut cols, col::OBJ_ACTOR, start);
    let start = cols.len();
    Rle::encode(&mut cols, false, rows().map(|_| Some(obj.1)));
    column(&mut cols, col::OBJ_CTR, start);
    let start = cols.len();
    Rle::encode(&mut cols, false, rows().map(|r| r.key.map(|k| k.0)));
    column(&mut cols, col::KEY_ACTOR, start);
    let start = cols.len();
    delta(&mut cols, rows().map(|r| r.key.map_or(0, |k| k.1)));
    column(&mut cols, col::KEY_CTR, start);
    let start = cols.len();
    bools(&mut cols, rows().map(|r| r.insert));
    column(&mut cols, col::INSERT, start);
    let start = cols.len();
    Rle::encode(&mut cols, false, rows().map(|r| Some(r.action)));
    column(&mut cols, col::ACTION, start);
    let start = cols.len();
    Rle::encode(&mut cols, false, rows().map(|r| Some(r.value_meta)));
    column(&mut cols, col::VAL_META, start);
    let start = cols.len();
    cols.extend_from_slice(ops.inserted.as_bytes());
    column(&mut cols, col::VAL_RAW, start);
    let start = cols.len();
    Rle::encode(
        &mut cols,
        false,
        rows().map(|r| Some(u64::from(r.pred.is_some()))),
    );
    column(&mut cols, col::PRED_NUM, start);
    let start = cols.len();
    Rle::encode(
        &mut cols,
        false,
        rows().filter_map(|r| r.pred).map(|p| Some(p.0)),
    );
    column(&mut cols, col::PRED_ACTOR, start);
    let start = cols.len();
    delta(&mut cols, rows().filter_map(|r| r.pred).map(|p| p.1));
    column(&mut cols, col::PRED_CTR, start);

    let table = table.get(..present).unwrap_or_default();
    uleb(&mut bytes, table.len() as u64);
    for (spec, len) in table {
        uleb(&mut bytes, *spec);
        uleb(&mut bytes, *len as u64);
    }
    bytes.extend_from_slice(&cols);
    bytes.extend_from_slice(meta.extra);

    let data_len = bytes.len() - MAX_HEADER;
    let mut len = [0u8; 10];
    let len = leb_into(&mut len, data_len as u64);
    let data = bytes.get(MAX_HEADER..).unwrap_or_default();
    let digest = Sha256::new()
        .chain_update([CHUNK_CHANGE])
        .chain_update(len)
        .chain_update(data)
        .finalize();
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&digest);
    let header_len = MAGIC.len() + 4 + 1 + len.len();
    let skip = MAX_HEADER - header_len;
    if let Some(header) = bytes.get_mut(skip..MAX_HEADER) {
        let (magic, rest) = header.split_at_mut(MAGIC.len());
        magic.copy_from_slice(&MAGIC);
        let (checksum, rest) = rest.split_at_mut(4);
        checksum.copy_from_slice(hash.get(..4).unwrap_or_default());
        let (chunk_type, length) = rest.split_at_mut(1);
        chunk_type.copy_from_slice(&[CHUNK_CHANGE]);
        length.copy_from_slice(len);
    }
    bytes.drain(..skip);
    (bytes, ChangeHash(hash))
}

/// Writes `v` as a uLEB into `buf`; returns the bytes written.
fn leb_into(buf: &mut [u8; 10], mut v: u64) -> &[u8] {
    let mut n = 0;
    for slot in buf.iter_mut() {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        n += 1;
        if v == 0 {
            *slot = byte;
            break;
        }
        *slot = byte | 0x80;
    }
    buf.get(..n).unwrap_or_default()
}

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn sleb(out: &mut Vec<u8>, mut v: i64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    uleb(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// automerge's run-length encoding (`RleEncoder`), state for state: runs of two or more equal
/// values as `len, value` (`len` an sLEB), other values as literal runs `-len, values...`, nulls
/// as `0, count` (uLEB), and nothing at all for a column that is null throughout. Values are
/// uLEBs, or sLEBs when `signed`.
struct Rle {
    state: State,
    signed: bool,
}

enum State {
    Empty,
    InitialNulls(u64),
    Nulls(u64),
    Lone(u64),
    Run(u64, u64),
    Literal(Vec<u64>),
}

impl Rle {
    /// Encodes `values` into `out`.
    fn encode(out: &mut Vec<u8>, signed: bool, values: impl Iterator<Item = Option<u64>>) {
        let mut rle = Rle {
            state: State::Empty,
            signed,
        };
        for v in values {
            rle.push(out, v);
        }
        let state = std::mem::replace(&mut rle.state, State::Empty);
        rle.flush(out, state);
    }

    fn value(&self, out: &mut Vec<u8>, v: u64) {
        if self.signed {
            sleb(out, v as i64);
        } else {
            uleb(out, v);
        }
    }

    fn flush_literal(&self, out: &mut Vec<u8>, values: &[u64]) {
        sleb(out, -(values.len() as i64));
        for &v in values {
            self.value(out, v);
        }
    }

    /// Ends whatever run is open (before a null, or at the end).
    fn flush(&self, out: &mut Vec<u8>, state: State) {
        match state {
            State::Empty | State::InitialNulls(_) => {}
            State::Nulls(n) => nulls(out, n),
            State::Lone(v) => self.flush_literal(out, &[v]),
            State::Run(v, len) => {
                sleb(out, len as i64);
                self.value(out, v);
            }
            State::Literal(values) => self.flush_literal(out, &values),
        }
    }

    fn push(&mut self, out: &mut Vec<u8>, value: Option<u64>) {
        let state = std::mem::replace(&mut self.state, State::Empty);
        self.state = match (state, value) {
            (State::Empty, None) => State::InitialNulls(1),
            (State::InitialNulls(n), None) => State::InitialNulls(n + 1),
            (State::Nulls(n), None) => State::Nulls(n + 1),
            (other, None) => {
                self.flush(out, other);
                State::Nulls(1)
            }
            (State::Empty, Some(v)) => State::Lone(v),
            (State::Nulls(n) | State::InitialNulls(n), Some(v)) => {
                nulls(out, n);
                State::Lone(v)
            }
            (State::Lone(last), Some(v)) if last == v => State::Run(v, 2),
            (State::Lone(last), Some(v)) => State::Literal(vec![last, v]),
            (State::Run(last, len), Some(v)) if last == v => State::Run(v, len + 1),
            (State::Run(last, len), Some(v)) => {
                self.flush(out, State::Run(last, len));
                State::Lone(v)
            }
            (State::Literal(mut values), Some(v)) => match values.last() {
                Some(&last) if last == v => {
                    values.pop();
                    self.flush_literal(out, &values);
                    State::Run(v, 2)
                }
                _ => {
                    values.push(v);
                    State::Literal(values)
                }
            },
        };
    }
}

/// A run of `n` nulls.
fn nulls(out: &mut Vec<u8>, n: u64) {
    sleb(out, 0);
    uleb(out, n);
}

/// automerge's delta encoding: each value minus the previous one (starting from 0), then
/// run-length encoded as sLEBs.
fn delta(out: &mut Vec<u8>, values: impl Iterator<Item = u64>) {
    let mut last = 0i64;
    let deltas = values.map(|v| {
        let v = v as i64;
        let d = v.saturating_sub(last);
        last = v;
        Some(d as u64)
    });
    Rle::encode(out, true, deltas);
}

/// automerge's boolean encoding: alternating run lengths (uLEB), starting with `false`.
fn bools(out: &mut Vec<u8>, values: impl Iterator<Item = bool>) {
    let mut last = false;
    let mut count = 0u64;
    for v in values {
        if v == last {
            count += 1;
        } else {
            uleb(out, count);
            last = v;
            count = 1;
        }
    }
    if count > 0 {
        uleb(out, count);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::num::NonZeroU64;

    use automerge::{Change, ExpandedChange, ScalarValue};

    use super::*;

    /// automerge's own encoder, for the same splice.
    fn reference(meta: &Meta<'_>, ops: &SpliceOps<'_>) -> Change {
        let obj = lg::ObjectId::Id(ops.obj.clone());
        let mut operations = Vec::new();
        let mut key = ops
            .after
            .map_or(lg::ElementId::Head, |e| lg::ElementId::Id(e.clone()));
        for (c, ctr) in ops.inserted.chars().zip(meta.start_op..) {
            operations.push(lg::Op {
                action: lg::OpType::Put(ScalarValue::from(c)),
                obj: obj.clone(),
                key: lg::Key::Seq(key),
                pred: lg::SortedVec::new(),
                insert: true,
            });
            key = lg::ElementId::Id(lg::OpId(ctr, meta.actor.clone()));
        }
        for e in ops.deleted {
            operations.push(lg::Op {
                action: lg::OpType::Delete,
                obj: obj.clone(),
                key: lg::Key::Seq(lg::ElementId::Id((*e).clone())),
                pred: vec![(*e).clone()].into(),
                insert: false,
            });
        }
        Change::from(ExpandedChange {
            operations,
            actor_id: meta.actor.clone(),
            hash: None,
            seq: meta.seq,
            start_op: NonZeroU64::new(meta.start_op).unwrap(),
            time: meta.time,
            message: meta.message.map(str::to_owned),
            deps: meta.deps.to_vec(),
            extra_bytes: meta.extra.to_vec(),
            author: None,
        })
    }

    /// A small deterministic generator (xorshift), so that a failure repeats.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn writes_the_bytes_automerges_encoder_writes() {
        let actors: Vec<ActorId> = (1..=4u8).map(|i| ActorId::from(vec![i; 16])).collect();
        let alphabet = ['a', 'b', ' ', 'é', '😀', '\n', 'z'];
        let mut rng = Rng(0x5eed);
        for case in 0..3_000 {
            let own = &actors[rng.below(4) as usize];
            let pick = |rng: &mut Rng| &actors[rng.below(4) as usize];
            // Small and large counters, so that runs, literals and multi-byte LEBs all occur.
            let counter = |rng: &mut Rng| match rng.below(3) {
                0 => 1 + rng.below(4),
                1 => 1 + rng.below(200),
                _ => 1 + rng.below(1 << 40),
            };
            let obj = lg::OpId(counter(&mut rng), pick(&mut rng).clone());
            let after =
                (rng.below(4) != 0).then(|| lg::OpId(counter(&mut rng), pick(&mut rng).clone()));
            let inserted: String = (0..rng.below(6))
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            let mut deleted = Vec::new();
            let mut ctr = counter(&mut rng);
            for _ in 0..rng.below(if inserted.is_empty() { 8 } else { 4 })
                + u64::from(inserted.is_empty())
            {
                ctr += rng.below(3);
                deleted.push(lg::OpId(ctr, pick(&mut rng).clone()));
            }
            let deleted_refs: Vec<&lg::OpId> = deleted.iter().collect();
            let mut deps: Vec<ChangeHash> = (0..rng.below(3))
                .map(|i| ChangeHash([(case % 251) as u8 ^ i as u8; 32]))
                .collect();
            deps.sort_unstable();
            deps.dedup();
            let message = ["", "typed"][rng.below(2) as usize];
            let meta = Meta {
                actor: own,
                seq: counter(&mut rng),
                start_op: counter(&mut rng),
                time: [0, -5, 1_700_000_000_000][rng.below(3) as usize],
                message: (!message.is_empty()).then_some(message),
                deps: &deps,
                extra: &[],
            };
            let ops = SpliceOps {
                obj: &obj,
                after: after.as_ref(),
                inserted: &inserted,
                deleted: &deleted_refs,
            };
            let (bytes, hash) = splice_change(&meta, &ops);
            let expected = reference(&meta, &ops);
            assert_eq!(bytes, expected.raw_bytes(), "case {case}");
            assert_eq!(hash, expected.hash(), "case {case}");
        }
    }
}
