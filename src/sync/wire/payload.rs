//! Payload encodings of each message, as the module docs of [`super`] specify them.

use std::collections::HashMap;

use automerge::ActorId;

use super::elide::{Elided, Elider, Restorer};
use super::{
    EncodeError, Kind, Limits, MAX_LABEL_BYTES, MAX_REFUSAL_BYTES, MAX_TOKEN_BYTES, WireError,
};
use crate::codec::{DecodeError, Reader, Writer};
use crate::sync::message::{
    Cursor, Hello, Interest, Message, RefusalCode, Stretch, WireChange, WireSnapshot,
};
use crate::version::{MAX_ACTOR_LEN, MAX_ACTORS};
use crate::{DeviceId, DocId, Epoch, MAX_DOC_ID_LEN, VersionVector};

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Appends the payload of `msg`. Fields are written as they are, even past the format's
/// limits (see [`check_fields`]).
pub(super) fn encode(msg: &Message, w: &mut Writer) {
    match msg {
        Message::Hello(hello) => encode_hello(hello, w),
        Message::Changes { changes, stretch } => encode_changes(changes, *stretch, w),
        Message::Snapshots(snapshots) => encode_snapshots(snapshots, w),
        Message::Summary { docs, last } => encode_summary(docs, *last, w),
        Message::Resume(cursor) => {
            w.bytes(cursor.epoch.as_bytes()).uint(cursor.offset);
        }
        Message::NeedSummary => {}
        Message::Ack { upto } => {
            w.uint(*upto);
        }
        Message::Refused { code, doc, message } => {
            w.u8(refusal_code(*code));
            match doc {
                Some(doc) => w.u8(1).str(doc.as_str()),
                None => w.u8(0),
            };
            w.str(message);
        }
    }
}

/// Fails if a field of `msg` is longer than the format allows, so that a decoder would
/// reject it.
pub(super) fn check_fields(msg: &Message) -> Result<(), EncodeError> {
    let check = |what: &'static str, len: usize, limit: usize| {
        if len > limit {
            return Err(EncodeError::FieldTooLong { what, len, limit });
        }
        Ok(())
    };
    match msg {
        Message::Hello(hello) => {
            check("hello label", hello.label.len(), MAX_LABEL_BYTES)?;
            check("access token", hello.token.len(), MAX_TOKEN_BYTES)?;
            if let Interest::Prefixes(prefixes) = &hello.interest {
                for prefix in prefixes {
                    check("interest prefix", prefix.len(), MAX_DOC_ID_LEN)?;
                }
            }
        }
        Message::Changes { changes, .. } => {
            for change in changes {
                check("actor id", change.actor.to_bytes().len(), MAX_ACTOR_LEN)?;
            }
        }
        Message::Summary { docs, .. } => {
            for (_, vv) in docs {
                check("version vector", vv.len(), MAX_ACTORS)?;
                for (actor, _) in vv.iter() {
                    check("actor id", actor.to_bytes().len(), MAX_ACTOR_LEN)?;
                }
            }
        }
        Message::Refused { message, .. } => {
            check("refusal message", message.len(), MAX_REFUSAL_BYTES)?;
        }
        Message::Snapshots(_) | Message::Resume(_) | Message::NeedSummary | Message::Ack { .. } => {
        }
    }
    Ok(())
}

fn encode_hello(hello: &Hello, w: &mut Writer) {
    w.u8(hello.versions.0)
        .u8(hello.versions.1)
        .bytes(hello.device.as_bytes())
        .bytes(hello.epoch.as_bytes())
        .uint(hello.head)
        .str(&hello.label);
    match &hello.resume {
        Some(cursor) => w.u8(1).bytes(cursor.epoch.as_bytes()).uint(cursor.offset),
        None => w.u8(0),
    };
    match &hello.interest {
        Interest::All => {
            w.u8(0);
        }
        Interest::Prefixes(prefixes) => {
            w.u8(1).uint(len64(prefixes.len()));
            for prefix in prefixes {
                w.str(prefix);
            }
        }
        Interest::Docs(docs) => {
            w.u8(2).uint(len64(docs.len()));
            for doc in docs {
                w.str(doc.as_str());
            }
        }
    }
    w.str(&hello.token);
}

/// Appends a `Changes` payload holding `changes` and `stretch`.
pub(super) fn encode_changes(changes: &[WireChange], stretch: Option<Stretch>, w: &mut Writer) {
    let docs = Table::build(changes.iter().map(|c| &c.doc));
    let actors = Table::build(changes.iter().map(|c| c.actor.to_bytes()));
    w.uint(len64(docs.len()));
    for doc in &docs.order {
        w.str(doc.as_str());
    }
    put_actor_table(w, &actors);
    w.uint(len64(changes.len()));
    let mut elider = Elider::default();
    for change in changes {
        let (elided, bytes) = elider.next(&change.bytes);
        w.uint(docs.index(&change.doc))
            .uint(actors.index(change.actor.to_bytes()))
            .uint(change.seq)
            .uint(change.offset)
            .uint(len64(elided.len()));
        for e in &elided {
            w.uint(e.position).uint(e.distance);
        }
        w.blob(&bytes);
    }
    match stretch {
        Some(Stretch { from, to }) => w.u8(1).uint(from).uint(to),
        None => w.u8(0),
    };
}

/// Appends a `Snapshots` payload.
pub(super) fn encode_snapshots(snapshots: &[WireSnapshot], w: &mut Writer) {
    w.uint(len64(snapshots.len()));
    for snapshot in snapshots {
        w.str(snapshot.doc.as_str()).blob(&snapshot.bytes);
    }
}

/// Appends a `Summary` payload.
pub(super) fn encode_summary(docs: &[(DocId, VersionVector)], last: bool, w: &mut Writer) {
    let actors = Table::build(
        docs.iter()
            .flat_map(|(_, vv)| vv.iter().map(|(actor, _)| actor.to_bytes())),
    );
    put_actor_table(w, &actors);
    w.uint(len64(docs.len()));
    for (doc, vv) in docs {
        w.str(doc.as_str()).uint(len64(vv.len()));
        for (actor, seq) in vv.iter() {
            w.uint(actors.index(actor.to_bytes())).uint(seq);
        }
    }
    w.u8(u8::from(last));
}

/// Distinct ids in order of first use, with each one's index.
pub(super) struct Table<'a, K: ?Sized> {
    order: Vec<&'a K>,
    index: HashMap<&'a K, u64>,
}

impl<'a, K: ?Sized + Eq + std::hash::Hash> Table<'a, K> {
    pub(super) fn new() -> Self {
        Self {
            order: Vec::new(),
            index: HashMap::new(),
        }
    }

    pub(super) fn build(ids: impl IntoIterator<Item = &'a K>) -> Self {
        let mut table = Self::new();
        for id in ids {
            table.insert(id);
        }
        table
    }

    /// Adds `id` unless it is there already.
    pub(super) fn insert(&mut self, id: &'a K) {
        if !self.index.contains_key(id) {
            self.index.insert(id, len64(self.order.len()));
            self.order.push(id);
        }
    }

    pub(super) fn contains(&self, id: &K) -> bool {
        self.index.contains_key(id)
    }

    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    /// The index of an id that was inserted (0 otherwise, which cannot happen here).
    fn index(&self, id: &K) -> u64 {
        self.index.get(id).copied().unwrap_or(0)
    }
}

fn put_actor_table(w: &mut Writer, actors: &Table<'_, [u8]>) {
    w.uint(len64(actors.len()));
    for actor in &actors.order {
        w.blob(actor);
    }
}

fn refusal_code(code: RefusalCode) -> u8 {
    match code {
        RefusalCode::Unauthorized => 1,
        RefusalCode::Expired => 2,
        RefusalCode::Forbidden => 3,
        RefusalCode::BadRequest => 4,
        RefusalCode::Unavailable => 5,
    }
}

/// A length as the `u64` the format writes.
pub(super) fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Smallest encoded sizes, which bound how many items the bytes left can hold.
const MIN_DOC_BYTES: usize = 2;
const MIN_ACTOR_BYTES: usize = 1;
/// Document index, actor index, seq, offset, elided count, bytes length.
const MIN_CHANGE_BYTES: usize = 6;
/// Position, distance.
const MIN_ELIDED_BYTES: usize = 2;
/// Document id, bytes length.
const MIN_SNAPSHOT_BYTES: usize = 3;
/// Document id, entry count.
const MIN_SUMMARY_DOC_BYTES: usize = 3;
/// Actor index, seq.
const MIN_ENTRY_BYTES: usize = 2;

/// Reads a payload, turning every failure into a [`WireError`] that names the message.
struct PayloadReader<'a> {
    r: Reader<'a>,
    message: &'static str,
}

impl<'a> PayloadReader<'a> {
    fn wrap(&self, source: DecodeError) -> WireError {
        WireError::Payload {
            message: self.message,
            source,
        }
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        self.r.u8().map_err(|e| self.wrap(e))
    }

    fn uint(&mut self) -> Result<u64, WireError> {
        self.r.uint().map_err(|e| self.wrap(e))
    }

    fn id16(&mut self) -> Result<[u8; 16], WireError> {
        self.r.array().map_err(|e| self.wrap(e))
    }

    fn count(&mut self, what: &'static str, limit: usize, min: usize) -> Result<usize, WireError> {
        self.r.count(what, limit, min).map_err(|e| self.wrap(e))
    }

    fn blob(&mut self, what: &'static str, limit: usize) -> Result<&'a [u8], WireError> {
        self.r.blob(what, limit).map_err(|e| self.wrap(e))
    }

    fn text(&mut self, what: &'static str, limit: usize) -> Result<&'a str, WireError> {
        self.r.str(what, limit).map_err(|e| self.wrap(e))
    }

    /// Reads a tag that must be below `len`.
    fn tag(&mut self, what: &'static str, len: u8) -> Result<u8, WireError> {
        let at = self.r.position();
        let tag = self.u8()?;
        if tag >= len {
            return Err(self.wrap(DecodeError::Unknown {
                what,
                value: u64::from(tag),
                at,
            }));
        }
        Ok(tag)
    }

    fn flag(&mut self, what: &'static str) -> Result<bool, WireError> {
        Ok(self.tag(what, 2)? == 1)
    }

    fn doc(&mut self) -> Result<DocId, WireError> {
        let text = self.text("document id", MAX_DOC_ID_LEN)?;
        DocId::new(text).map_err(|source| WireError::BadDocId {
            message: self.message,
            source,
        })
    }

    fn index(&mut self, what: &'static str, len: usize) -> Result<usize, WireError> {
        let index = self.uint()?;
        usize::try_from(index)
            .ok()
            .filter(|i| *i < len)
            .ok_or(WireError::BadIndex {
                message: self.message,
                what,
                index,
                len,
            })
    }

    fn doc_table(&mut self, limits: &Limits) -> Result<Vec<DocId>, WireError> {
        let n = self.count("document table", limits.max_docs_per_frame, MIN_DOC_BYTES)?;
        (0..n).map(|_| self.doc()).collect()
    }

    fn actor_table(&mut self, limit: usize) -> Result<Vec<ActorId>, WireError> {
        let n = self.count("actor table", limit, MIN_ACTOR_BYTES)?;
        (0..n)
            .map(|_| Ok(ActorId::from(self.blob("actor id", MAX_ACTOR_LEN)?)))
            .collect()
    }

    fn finish(&self) -> Result<(), WireError> {
        self.r.finish().map_err(|e| self.wrap(e))
    }
}

/// Reads the payload of a message of type `kind`; every byte must be used.
pub(super) fn decode(kind: Kind, payload: &[u8], limits: &Limits) -> Result<Message, WireError> {
    let mut p = PayloadReader {
        r: Reader::new(payload),
        message: kind.name(),
    };
    let msg = match kind {
        Kind::Hello => Message::Hello(decode_hello(&mut p, limits)?),
        Kind::Changes => decode_changes(&mut p, limits)?,
        Kind::Snapshots => {
            let n = p.count(
                "snapshot count",
                limits.max_docs_per_frame,
                MIN_SNAPSHOT_BYTES,
            )?;
            let snapshots = (0..n)
                .map(|_| {
                    Ok(WireSnapshot {
                        doc: p.doc()?,
                        bytes: p.blob("snapshot", usize::MAX)?.to_vec(),
                    })
                })
                .collect::<Result<_, WireError>>()?;
            Message::Snapshots(snapshots)
        }
        Kind::Summary => decode_summary(&mut p, limits)?,
        Kind::Resume => Message::Resume(Cursor {
            epoch: Epoch::from_bytes(p.id16()?),
            offset: p.uint()?,
        }),
        Kind::NeedSummary => Message::NeedSummary,
        Kind::Ack => Message::Ack { upto: p.uint()? },
        Kind::Refused => {
            let at = p.r.position();
            let code = match p.u8()? {
                1 => RefusalCode::Unauthorized,
                2 => RefusalCode::Expired,
                3 => RefusalCode::Forbidden,
                4 => RefusalCode::BadRequest,
                5 => RefusalCode::Unavailable,
                other => {
                    return Err(p.wrap(DecodeError::Unknown {
                        what: "refusal code",
                        value: u64::from(other),
                        at,
                    }));
                }
            };
            let doc = if p.flag("document option")? {
                Some(p.doc()?)
            } else {
                None
            };
            let message = p.text("refusal message", MAX_REFUSAL_BYTES)?.to_owned();
            Message::Refused { code, doc, message }
        }
    };
    p.finish()?;
    Ok(msg)
}

fn decode_hello(p: &mut PayloadReader<'_>, limits: &Limits) -> Result<Hello, WireError> {
    let versions = (p.u8()?, p.u8()?);
    let device = DeviceId::from_bytes(p.id16()?);
    let epoch = Epoch::from_bytes(p.id16()?);
    let head = p.uint()?;
    let label = p.text("hello label", MAX_LABEL_BYTES)?.to_owned();
    let resume = if p.flag("resume option")? {
        Some(Cursor {
            epoch: Epoch::from_bytes(p.id16()?),
            offset: p.uint()?,
        })
    } else {
        None
    };
    let interest = match p.tag("interest kind", 3)? {
        0 => Interest::All,
        1 => {
            let n = p.count("interest prefixes", limits.max_docs_per_frame, 1)?;
            Interest::Prefixes(
                (0..n)
                    .map(|_| Ok(p.text("interest prefix", MAX_DOC_ID_LEN)?.to_owned()))
                    .collect::<Result<_, WireError>>()?,
            )
        }
        _ => {
            let n = p.count(
                "interest documents",
                limits.max_docs_per_frame,
                MIN_DOC_BYTES,
            )?;
            Interest::Docs((0..n).map(|_| p.doc()).collect::<Result<_, _>>()?)
        }
    };
    let token = p.text("access token", MAX_TOKEN_BYTES)?.to_owned();
    Ok(Hello {
        versions,
        device,
        epoch,
        head,
        label,
        resume,
        interest,
        token,
    })
}

fn decode_changes(p: &mut PayloadReader<'_>, limits: &Limits) -> Result<Message, WireError> {
    let docs = p.doc_table(limits)?;
    let actors = p.actor_table(limits.max_actors_per_frame)?;
    let n = p.count(
        "change count",
        limits.max_changes_per_frame,
        MIN_CHANGE_BYTES,
    )?;
    let mut changes: Vec<WireChange> = Vec::with_capacity(n);
    // Restored hashes count against the inflated payload limit, as if they had been sent.
    let mut restorer = Restorer::new(
        limits
            .max_decompressed_bytes
            .saturating_sub(p.r.remaining()),
    );
    for _ in 0..n {
        let doc = docs.get(p.index("document index", docs.len())?);
        let actor = actors.get(p.index("actor index", actors.len())?);
        let seq = p.uint()?;
        let offset = p.uint()?;
        let n_elided = p.count("elided dependencies", MAX_ACTORS, MIN_ELIDED_BYTES)?;
        let elided = (0..n_elided)
            .map(|_| {
                Ok(Elided {
                    position: p.uint()?,
                    distance: p.uint()?,
                })
            })
            .collect::<Result<Vec<_>, WireError>>()?;
        let stripped = p.blob("change bytes", usize::MAX)?;
        let bytes = restorer.restore(&changes, &elided, stripped)?;
        // `index` checked both against their tables' lengths.
        if let (Some(doc), Some(actor)) = (doc, actor) {
            changes.push(WireChange {
                doc: doc.clone(),
                actor: actor.clone(),
                seq,
                offset,
                bytes,
            });
        }
    }
    let stretch = if p.flag("stretch option")? {
        Some(Stretch {
            from: p.uint()?,
            to: p.uint()?,
        })
    } else {
        None
    };
    Ok(Message::Changes { changes, stretch })
}

fn decode_summary(p: &mut PayloadReader<'_>, limits: &Limits) -> Result<Message, WireError> {
    let actors = p.actor_table(limits.max_actors_per_frame)?;
    // Entries left for the version vectors under the frame's actor budget.
    let mut budget = limits.max_actors_per_frame.saturating_sub(actors.len());
    let n = p.count(
        "summary documents",
        limits.max_docs_per_frame,
        MIN_SUMMARY_DOC_BYTES,
    )?;
    let mut docs = Vec::with_capacity(n);
    for _ in 0..n {
        let doc = p.doc()?;
        let entries = p.count(
            "version vector entries",
            MAX_ACTORS.min(budget),
            MIN_ENTRY_BYTES,
        )?;
        budget = budget.saturating_sub(entries);
        let mut vv = VersionVector::new();
        for _ in 0..entries {
            let actor = actors.get(p.index("actor index", actors.len())?);
            let seq = p.uint()?;
            if let Some(actor) = actor {
                vv.observe(actor, seq);
            }
        }
        docs.push((doc, vv));
    }
    let last = p.flag("last flag")?;
    Ok(Message::Summary { docs, last })
}
