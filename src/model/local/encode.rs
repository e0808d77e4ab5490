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

    let inserts = ops.inserted.chars().count();
    let total = inserts + ops.deleted.len();
    let mut obj_actor = Rle::unsigned();
    let mut obj_ctr = Rle::unsigned();
    let mut key_actor = Rle::unsigned();
    let mut key_ctr = Delta::default();
    let mut insert = Bools::default();
    let mut action = Rle::unsigned();
    let mut val_meta = Rle::unsigned();
    let mut pred_num = Rle::unsigned();
    let mut pred_actor = Rle::unsigned();
    let mut pred_ctr = Delta::default();
    let obj = (index(&ops.obj.1), ops.obj.0);
    for _ in 0..total {
        obj_actor.push(Some(obj.0));
        obj_ctr.push(Some(obj.1));
    }
    let mut after = after.map(|e| (index(&e.1), e.0));
    for (c, ctr) in ops.inserted.chars().zip(meta.start_op..) {
        match after {
            Some((actor, counter)) => {
                key_actor.push(Some(actor));
                key_ctr.push(Some(counter));
            }
            None => {
                key_actor.push(None);
                key_ctr.push(Some(0));
            }
        }
        insert.push(true);
        action.push(Some(PUT));
        val_meta.push(Some(((c.len_utf8() as u64) << 4) | STRING));
        pred_num.push(Some(0));
        after = Some((0, ctr));
    }
    for e in ops.deleted {
        let actor = index(&e.1);
        key_actor.push(Some(actor));
        key_ctr.push(Some(e.0));
        insert.push(false);
        action.push(Some(DELETE));
        val_meta.push(Some(0));
        pred_num.push(Some(1));
        pred_actor.push(Some(actor));
        pred_ctr.push(Some(e.0));
    }
    let columns = [
        (col::OBJ_ACTOR, obj_actor.finish()),
        (col::OBJ_CTR, obj_ctr.finish()),
        (col::KEY_ACTOR, key_actor.finish()),
        (col::KEY_CTR, key_ctr.finish()),
        (col::INSERT, insert.finish()),
        (col::ACTION, action.finish()),
        (col::VAL_META, val_meta.finish()),
        (col::VAL_RAW, ops.inserted.as_bytes().to_vec()),
        (col::PRED_NUM, pred_num.finish()),
        (col::PRED_ACTOR, pred_actor.finish()),
        (col::PRED_CTR, pred_ctr.finish()),
    ];

    let mut data = Vec::with_capacity(128 + 32 * meta.deps.len() + ops.inserted.len());
    uleb(&mut data, meta.deps.len() as u64);
    for dep in meta.deps {
        data.extend_from_slice(&dep.0);
    }
    prefixed(&mut data, meta.actor.to_bytes());
    uleb(&mut data, meta.seq);
    uleb(&mut data, meta.start_op);
    sleb(&mut data, meta.time);
    prefixed(&mut data, meta.message.unwrap_or("").as_bytes());
    uleb(&mut data, others.len() as u64);
    for actor in &others {
        prefixed(&mut data, actor.to_bytes());
    }
    let present = columns.iter().filter(|(_, bytes)| !bytes.is_empty());
    uleb(&mut data, present.clone().count() as u64);
    for (spec, bytes) in present.clone() {
        uleb(&mut data, *spec);
        uleb(&mut data, bytes.len() as u64);
    }
    for (_, bytes) in present {
        data.extend_from_slice(bytes);
    }
    data.extend_from_slice(meta.extra);

    let mut len = Vec::with_capacity(5);
    uleb(&mut len, data.len() as u64);
    let digest = Sha256::new()
        .chain_update([CHUNK_CHANGE])
        .chain_update(&len)
        .chain_update(&data)
        .finalize();
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&digest);
    let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + 1 + len.len() + data.len());
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&hash[..4]);
    bytes.push(CHUNK_CHANGE);
    bytes.extend_from_slice(&len);
    bytes.extend_from_slice(&data);
    (bytes, ChangeHash(hash))
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
/// as `0, count` (uLEB), and nothing at all for a column that is null throughout.
struct Rle {
    out: Vec<u8>,
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
    fn unsigned() -> Self {
        Self {
            out: Vec::new(),
            state: State::Empty,
            signed: false,
        }
    }

    fn signed() -> Self {
        Self {
            signed: true,
            ..Self::unsigned()
        }
    }

    fn value(&mut self, v: u64) {
        if self.signed {
            sleb(&mut self.out, v as i64);
        } else {
            uleb(&mut self.out, v);
        }
    }

    fn flush_run(&mut self, v: u64, len: u64) {
        sleb(&mut self.out, len as i64);
        self.value(v);
    }

    fn flush_literal(&mut self, values: &[u64]) {
        sleb(&mut self.out, -(values.len() as i64));
        for &v in values {
            self.value(v);
        }
    }

    fn flush_nulls(&mut self, n: u64) {
        sleb(&mut self.out, 0);
        uleb(&mut self.out, n);
    }

    /// Ends whatever run is open (before a null, or at the end).
    fn flush(&mut self, state: State) {
        match state {
            State::Empty | State::InitialNulls(_) => {}
            State::Nulls(n) => self.flush_nulls(n),
            State::Lone(v) => self.flush_literal(&[v]),
            State::Run(v, len) => self.flush_run(v, len),
            State::Literal(values) => self.flush_literal(&values),
        }
    }

    fn push(&mut self, value: Option<u64>) {
        let state = std::mem::replace(&mut self.state, State::Empty);
        self.state = match (state, value) {
            (State::Empty, None) => State::InitialNulls(1),
            (State::InitialNulls(n), None) => State::InitialNulls(n + 1),
            (State::Nulls(n), None) => State::Nulls(n + 1),
            (other, None) => {
                self.flush(other);
                State::Nulls(1)
            }
            (State::Empty, Some(v)) => State::Lone(v),
            (State::Nulls(n) | State::InitialNulls(n), Some(v)) => {
                self.flush_nulls(n);
                State::Lone(v)
            }
            (State::Lone(last), Some(v)) if last == v => State::Run(v, 2),
            (State::Lone(last), Some(v)) => State::Literal(vec![last, v]),
            (State::Run(last, len), Some(v)) if last == v => State::Run(v, len + 1),
            (State::Run(last, len), Some(v)) => {
                self.flush_run(last, len);
                State::Lone(v)
            }
            (State::Literal(mut values), Some(v)) => match values.last() {
                Some(&last) if last == v => {
                    values.pop();
                    self.flush_literal(&values);
                    State::Run(v, 2)
                }
                _ => {
                    values.push(v);
                    State::Literal(values)
                }
            },
        };
    }

    fn finish(mut self) -> Vec<u8> {
        let state = std::mem::replace(&mut self.state, State::Empty);
        self.flush(state);
        self.out
    }
}

/// automerge's delta encoding: each value minus the previous one (starting from 0), then
/// run-length encoded as sLEBs.
struct Delta {
    rle: Rle,
    last: i64,
}

impl Default for Delta {
    fn default() -> Self {
        Self {
            rle: Rle::signed(),
            last: 0,
        }
    }
}

impl Delta {
    fn push(&mut self, value: Option<u64>) {
        match value {
            Some(v) => {
                let v = v as i64;
                self.rle.push(Some(v.saturating_sub(self.last) as u64));
                self.last = v;
            }
            None => self.rle.push(None),
        }
    }

    fn finish(self) -> Vec<u8> {
        self.rle.finish()
    }
}

/// automerge's boolean encoding: alternating run lengths (uLEB), starting with `false`.
#[derive(Default)]
struct Bools {
    out: Vec<u8>,
    last: bool,
    count: u64,
}

impl Bools {
    fn push(&mut self, value: bool) {
        if value == self.last {
            self.count += 1;
        } else {
            uleb(&mut self.out, self.count);
            self.last = value;
            self.count = 1;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            uleb(&mut self.out, self.count);
        }
        self.out
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
