//! Splitting large messages into frames that fit a receiver's [`Limits`].
//!
//! Items are packed greedily, in order, while an upper bound of the payload size stays within
//! the target and every count within its limit. Every frame is checked against the limits
//! before it is returned, so an item too large to send is reported rather than sent.

use super::payload::{self, Table, len64};
use super::{EncodeError, HEADER_LEN, Kind, Limits, TARGET_PAYLOAD_BYTES};
use crate::codec::Writer;
use crate::sync::message::{Interest, Message, Stretch, WireChange, WireSnapshot};
use crate::{DocId, VersionVector};

/// Room for a payload's counts and trailing option or flag, beyond its items.
const PAYLOAD_OVERHEAD: usize = 48;

/// Appends to `frames` the frames of `msg`, split to fit `limits`.
pub(super) fn encode_split(
    msg: &Message,
    limits: &Limits,
    frames: &mut Vec<Vec<u8>>,
) -> Result<(), EncodeError> {
    let target = TARGET_PAYLOAD_BYTES
        .min(limits.max_frame_bytes.saturating_sub(HEADER_LEN))
        .min(limits.max_decompressed_bytes)
        .saturating_sub(PAYLOAD_OVERHEAD);
    payload::check_fields(msg)?;
    match msg {
        Message::Changes { changes, stretch } => {
            split_changes(changes, *stretch, limits, target, frames)
        }
        Message::Snapshots(snapshots) => split_snapshots(snapshots, limits, target, frames),
        Message::Summary { docs, last } => split_summary(docs, *last, limits, target, frames),
        Message::Hello(hello) => {
            let entries = match &hello.interest {
                Interest::All => 0,
                Interest::Prefixes(prefixes) => prefixes.len(),
                Interest::Docs(docs) => docs.len(),
            };
            check_count(
                "hello interest list",
                None,
                entries,
                limits.max_docs_per_frame,
            )?;
            let mut w = Writer::new();
            payload::encode(msg, &mut w);
            emit(Kind::Hello, w, limits, "hello", None, frames)
        }
        other => {
            let mut w = Writer::new();
            payload::encode(other, &mut w);
            emit(Kind::of(other), w, limits, "message", None, frames)
        }
    }
}

/// Frames one payload after checking it against the limits.
fn emit(
    kind: Kind,
    w: Writer,
    limits: &Limits,
    what: &'static str,
    doc: Option<&DocId>,
    frames: &mut Vec<Vec<u8>>,
) -> Result<(), EncodeError> {
    let payload = w.into_bytes();
    let too_large = |size: usize, limit: usize| EncodeError::TooLarge {
        what,
        doc: doc.cloned(),
        size,
        limit,
    };
    if payload.len() > limits.max_decompressed_bytes {
        return Err(too_large(payload.len(), limits.max_decompressed_bytes));
    }
    let frame = super::frame(kind, &payload);
    if frame.len() > limits.max_frame_bytes {
        return Err(too_large(frame.len(), limits.max_frame_bytes));
    }
    frames.push(frame);
    Ok(())
}

fn check_count(
    what: &'static str,
    doc: Option<&DocId>,
    count: usize,
    limit: usize,
) -> Result<(), EncodeError> {
    if count > limit {
        return Err(EncodeError::TooLarge {
            what,
            doc: doc.cloned(),
            size: count,
            limit,
        });
    }
    Ok(())
}

/// Bytes of `n` as LEB128.
fn leb_len(n: u64) -> usize {
    let bits = u64::BITS.saturating_sub(n.leading_zeros()).max(1);
    bits.div_ceil(7) as usize
}

/// Bytes of a length-prefixed blob of `len` bytes.
fn blob_len(len: usize) -> usize {
    leb_len(len64(len)).saturating_add(len)
}

fn split_changes(
    changes: &[WireChange],
    stretch: Option<Stretch>,
    limits: &Limits,
    target: usize,
    frames: &mut Vec<Vec<u8>>,
) -> Result<(), EncodeError> {
    let flush = |part: &[WireChange], stretch: Option<Stretch>, frames: &mut Vec<Vec<u8>>| {
        let doc = part.first().map(|c| &c.doc);
        check_count("change list", doc, part.len(), limits.max_changes_per_frame)?;
        let docs = Table::build(part.iter().map(|c| &c.doc));
        check_count("document table", doc, docs.len(), limits.max_docs_per_frame)?;
        let actors = Table::build(part.iter().map(|c| c.actor.to_bytes()));
        check_count(
            "actor table",
            doc,
            actors.len(),
            limits.max_actors_per_frame,
        )?;
        let mut w = Writer::new();
        payload::encode_changes(part, stretch, &mut w);
        emit(Kind::Changes, w, limits, "change", doc, frames)
    };
    let mut start = 0;
    let mut size = 0usize;
    let mut docs = Table::new();
    let mut actors = Table::new();
    for (i, change) in changes.iter().enumerate() {
        let cost = |docs: &Table<'_, DocId>, actors: &Table<'_, [u8]>| {
            let (new_doc, new_actor) = (
                !docs.contains(&change.doc),
                !actors.contains(change.actor.to_bytes()),
            );
            let mut cost = leb_len(len64(docs.len()))
                .saturating_add(leb_len(len64(actors.len())))
                .saturating_add(leb_len(change.seq))
                .saturating_add(leb_len(change.offset))
                .saturating_add(blob_len(change.bytes.len()));
            if new_doc {
                cost = cost.saturating_add(blob_len(change.doc.as_str().len()));
            }
            if new_actor {
                cost = cost.saturating_add(blob_len(change.actor.to_bytes().len()));
            }
            (cost, usize::from(new_doc), usize::from(new_actor))
        };
        let (mut add, new_doc, new_actor) = cost(&docs, &actors);
        let full = i > start
            && (size.saturating_add(add) > target
                || i.saturating_sub(start) >= limits.max_changes_per_frame
                || docs.len().saturating_add(new_doc) > limits.max_docs_per_frame
                || actors.len().saturating_add(new_actor) > limits.max_actors_per_frame);
        if full {
            flush(changes.get(start..i).unwrap_or_default(), None, frames)?;
            start = i;
            size = 0;
            docs = Table::new();
            actors = Table::new();
            add = cost(&docs, &actors).0;
        }
        docs.insert(&change.doc);
        actors.insert(change.actor.to_bytes());
        size = size.saturating_add(add);
    }
    flush(changes.get(start..).unwrap_or_default(), stretch, frames)
}

fn split_snapshots(
    snapshots: &[WireSnapshot],
    limits: &Limits,
    target: usize,
    frames: &mut Vec<Vec<u8>>,
) -> Result<(), EncodeError> {
    let flush = |part: &[WireSnapshot], frames: &mut Vec<Vec<u8>>| {
        let doc = part.first().map(|s| &s.doc);
        check_count("snapshot list", doc, part.len(), limits.max_docs_per_frame)?;
        let mut w = Writer::new();
        payload::encode_snapshots(part, &mut w);
        emit(Kind::Snapshots, w, limits, "snapshot", doc, frames)
    };
    let mut start = 0;
    let mut size = 0usize;
    for (i, snapshot) in snapshots.iter().enumerate() {
        let add =
            blob_len(snapshot.doc.as_str().len()).saturating_add(blob_len(snapshot.bytes.len()));
        if i > start
            && (size.saturating_add(add) > target
                || i.saturating_sub(start) >= limits.max_docs_per_frame)
        {
            flush(snapshots.get(start..i).unwrap_or_default(), frames)?;
            start = i;
            size = 0;
        }
        size = size.saturating_add(add);
    }
    flush(snapshots.get(start..).unwrap_or_default(), frames)
}

fn split_summary(
    docs: &[(DocId, VersionVector)],
    last: bool,
    limits: &Limits,
    target: usize,
    frames: &mut Vec<Vec<u8>>,
) -> Result<(), EncodeError> {
    let flush = |part: &[(DocId, VersionVector)], last: bool, frames: &mut Vec<Vec<u8>>| {
        let doc = part.first().map(|(doc, _)| doc);
        check_count("summary", doc, part.len(), limits.max_docs_per_frame)?;
        let actors = Table::build(
            part.iter()
                .flat_map(|(_, vv)| vv.iter().map(|(actor, _)| actor.to_bytes())),
        );
        let entries = part
            .iter()
            .fold(actors.len(), |n, (_, vv)| n.saturating_add(vv.len()));
        check_count(
            "version vector entries",
            doc,
            entries,
            limits.max_actors_per_frame,
        )?;
        let mut w = Writer::new();
        payload::encode_summary(part, last, &mut w);
        emit(Kind::Summary, w, limits, "version vector", doc, frames)
    };
    let mut start = 0;
    let mut size = 0usize;
    let mut entries = 0usize;
    let mut actors = Table::new();
    for (i, (doc, vv)) in docs.iter().enumerate() {
        let cost = |actors: &Table<'_, [u8]>| {
            let index_len = leb_len(len64(actors.len().saturating_add(vv.len())));
            let mut bytes = blob_len(doc.as_str().len()).saturating_add(leb_len(len64(vv.len())));
            let mut new_actors = 0usize;
            for (actor, seq) in vv.iter() {
                bytes = bytes.saturating_add(index_len).saturating_add(leb_len(seq));
                if !actors.contains(actor.to_bytes()) {
                    bytes = bytes.saturating_add(blob_len(actor.to_bytes().len()));
                    new_actors = new_actors.saturating_add(1);
                }
            }
            (bytes, new_actors.saturating_add(vv.len()))
        };
        let (mut add, mut add_entries) = cost(&actors);
        if i > start
            && (size.saturating_add(add) > target
                || i.saturating_sub(start) >= limits.max_docs_per_frame
                || entries.saturating_add(add_entries) > limits.max_actors_per_frame)
        {
            flush(docs.get(start..i).unwrap_or_default(), false, frames)?;
            start = i;
            size = 0;
            entries = 0;
            actors = Table::new();
            (add, add_entries) = cost(&actors);
        }
        for (actor, _) in vv.iter() {
            actors.insert(actor.to_bytes());
        }
        size = size.saturating_add(add);
        entries = entries.saturating_add(add_entries);
    }
    flush(docs.get(start..).unwrap_or_default(), last, frames)
}
