//! The binary wire format of the sync protocol: one [`Message`] per *frame*.
//!
//! [`encode`] and [`encode_many`] write frames; [`decode`] reads one; [`frame_len`] tells a
//! stream transport how long a frame is from its first [`HEADER_LEN`] bytes. Decoding never
//! panics, and its time and memory are bounded by the frame's size and the receiver's
//! [`Limits`], whatever the bytes are.
//!
//! # Format, version 1
//!
//! ## Frame
//!
//! | offset | size | field | value |
//! | --- | --- | --- | --- |
//! | 0 | 4 | magic | the ASCII bytes `PLYA` (`50 4C 59 41`) |
//! | 4 | 1 | format version | `1` ([`FORMAT_VERSION`]) |
//! | 5 | 1 | message type | a code from the table below |
//! | 6 | 1 | flags | bit 0: the payload is compressed; bits 1 to 7 must be 0 |
//! | 7 | 4 | payload length | unsigned 32-bit little-endian: how many payload bytes follow |
//! | 11 | length | payload | the message's fields, compressed when bit 0 of flags is set |
//!
//! A frame is exactly `11 + payload length` bytes: a decoder rejects a frame with bytes missing
//! or bytes after its end. The whole frame must not exceed [`Limits::max_frame_bytes`].
//!
//! A decoder rejects a format version other than 1 (saying whether it is newer, so the user
//! knows to upgrade), an unknown message type and any flag bit other than bit 0. The format
//! version changes only when the frame or a payload encoding changes incompatibly. New
//! behaviour that keeps the format (including new message types) is negotiated with the
//! protocol versions of [`Hello`]: a peer sends a message type only to peers whose protocol
//! version knows it.
//!
//! **Compression.** When flag bit 0 is set, the payload bytes are a raw DEFLATE stream
//! (RFC 1951: no zlib or gzip header or trailer) that inflates to the payload described below.
//! The stream must end exactly at the end of the frame, and its inflated size must not exceed
//! [`Limits::max_decompressed_bytes`] (an uncompressed payload must not exceed it either). A
//! decoder inflates with a hard cap and stops as soon as the cap is passed, so a small frame
//! that inflates to gigabytes costs at most the cap. Encoders compress a payload only when it is
//! larger than [`COMPRESS_ABOVE`] bytes and compression makes it smaller.
//!
//! ## Message types
//!
//! | code | message |
//! | --- | --- |
//! | 1 | [`Message::Hello`] |
//! | 2 | [`Message::Changes`] |
//! | 3 | [`Message::Snapshots`] |
//! | 4 | [`Message::Summary`] |
//! | 5 | [`Message::Resume`] |
//! | 6 | [`Message::NeedSummary`] |
//! | 7 | [`Message::Ack`] |
//! | 8 | [`Message::Refused`] |
//!
//! Codes 0 and 9 to 255 are unknown to format version 1.
//!
//! ## Field types
//!
//! - `u8`: one byte.
//! - `uint`: an unsigned LEB128 integer of at most 10 bytes whose value fits in 64 bits.
//!   Encoders write the shortest form; decoders also accept longer ones.
//! - `id16`: 16 raw bytes (a device id or an epoch).
//! - `bytes(max)`: a `uint` length `n` of at most `max`, then `n` bytes. Where no `max` is given,
//!   the length is bounded only by the bytes left in the payload.
//! - `text(max)`: `bytes(max)` that are valid UTF-8.
//! - `doc`: a document id: `text(256)` that follows the rules of [`DocId`] (1 to 256 bytes, no
//!   control characters).
//! - `actor`: an automerge actor id: `bytes(64)`.
//! - `bool`: a `u8`, 0 for false and 1 for true.
//! - `option<T>`: a `u8` tag, 0 for none, or 1 followed by a `T`.
//! - `count(limit)`: a `uint` number of items that must not exceed `limit`, nor the number of
//!   items the bytes left could hold. A decoder checks both before it allocates anything.
//!
//! Any other tag value is rejected. Every payload must be read to its last byte: a decoder
//! rejects trailing bytes.
//!
//! `Changes` and `Summary` name documents and actors through per-frame tables, so that an id
//! repeated in a frame costs an index of a byte or two instead of up to 256 bytes:
//!
//! - *document table*: `count(max_docs_per_frame)`, then that many `doc`.
//! - *actor table*: `count(max_actors_per_frame)`, then that many `actor`.
//!
//! An index into a table is a `uint` that must be below the table's length. Encoders list each
//! id once, in order of first use; decoders accept repeated and unused entries.
//!
//! ## Payloads
//!
//! **Hello** (1), in order:
//! 1. lowest protocol version: `u8`
//! 2. highest protocol version: `u8`
//! 3. device: `id16`
//! 4. epoch: `id16`
//! 5. log head: `uint`
//! 6. label: `text(256)` ([`MAX_LABEL_BYTES`])
//! 7. resume: `option<cursor>`, where a cursor is an epoch `id16` then a log offset `uint`
//! 8. interest: a `u8` kind, then
//!    - 0 (all documents): nothing;
//!    - 1 (prefixes): `count(max_docs_per_frame)`, then that many `text(256)`;
//!    - 2 (listed documents): `count(max_docs_per_frame)`, then that many `doc`.
//! 9. token: `text(8192)` ([`MAX_TOKEN_BYTES`]), empty when there is none.
//!
//! **Changes** (2):
//! 1. the document table
//! 2. the actor table
//! 3. `count(max_changes_per_frame)` changes, each:
//!    1. document: index into the document table
//!    2. actor: index into the actor table
//!    3. sequence number: `uint`
//!    4. log offset: `uint` (0 when the change is not from the sender's log stream)
//!    5. elided dependencies: `count(65536)`, then that many pairs of `uint`: a position in
//!       the change's dependency list, then a distance of at least 1
//!    6. automerge change bytes: `bytes`, without the elided dependencies' hashes
//!
//!    Typing makes each change depend on the one before, and a 32-byte hash does not
//!    compress, so a change may leave out a dependency that is another change of the same
//!    frame: the pair says which dependency (positions strictly increasing) and how many
//!    changes back in the frame the change it names is. Only uncompressed automerge change
//!    chunks (chunk type 1) elide; their dependency list follows the chunk header (magic,
//!    checksum, type, body length) as a `uint` count and that many 32-byte hashes. A decoder
//!    puts each hash back, SHA-256 of the named change's restored bytes after its magic and
//!    checksum (automerge's change hash), so the bytes it hands on are exactly those encoded.
//!    The restored dependencies of a frame must not add more than
//!    [`Limits::max_decompressed_bytes`] bytes. Encoders elide every dependency they can.
//! 4. stretch: `option<stretch>`, where a stretch is the log offset it starts after (`uint`)
//!    then the last log offset it covers (`uint`)
//!
//! **Snapshots** (3): `count(max_docs_per_frame)` snapshots, each a `doc` then the automerge
//! snapshot bytes as `bytes`.
//!
//! **Summary** (4):
//! 1. the actor table
//! 2. `count(max_docs_per_frame)` documents, each:
//!    1. `doc`
//!    2. its version vector: `count(65536)` entries, each an index into the actor table then
//!       a sequence number `uint`.
//! 3. last: `bool`
//!
//! The actor table's entries and all version-vector entries of a frame together must not
//! exceed [`Limits::max_actors_per_frame`]. An entry with sequence number 0 adds nothing; when
//! an actor appears twice in one vector the higher number counts. Encoders write each vector's
//! entries once, in actor order, with sequence numbers of at least 1.
//!
//! **Resume** (5): a cursor: the epoch `id16`, then the log offset `uint`.
//!
//! **NeedSummary** (6): empty.
//!
//! **Ack** (7): the acknowledged offset, `uint`.
//!
//! **Refused** (8):
//! 1. code: `u8`: 1 unauthorized, 2 expired, 3 forbidden, 4 bad request, 5 unavailable
//!    (see [`RefusalCode`]); other codes are rejected.
//! 2. document: `option<doc>`
//! 3. message: `text(4096)` ([`MAX_REFUSAL_BYTES`])
//!
//! Sequence numbers, offsets and protocol versions are carried as they are: their meaning is
//! checked by the sync session, not by the wire format.
//!
//! ## Splitting
//!
//! [`encode_many`] splits `Changes`, `Snapshots` and `Summary` messages so that each frame's
//! payload stays near [`TARGET_PAYLOAD_BYTES`] and within the receiver's limits. A long catch-up
//! becomes a few large frames rather than one huge or thousands of tiny ones. Splitting keeps
//! the order of items, puts a `Changes` message's `stretch` on its last part only (the
//! earlier parts carry none, so the stretch is complete only once every part has arrived), and
//! sets a `Summary`'s `last` on its last part only. [`encode`] writes one frame without splitting
//! or checking; [`encode_many`] also checks every field and frame against the limits.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod elide;
mod payload;
mod split;
#[cfg(test)]
mod tests;

use flate2::{Compression, Decompress, FlushDecompress, Status};
use thiserror::Error;

use crate::codec::{DecodeError, Reader, Writer};
use crate::{DocId, IdError};

use super::message::Message;
#[cfg(doc)]
use super::message::{Hello, RefusalCode};

/// The four bytes every frame starts with.
pub const MAGIC: [u8; 4] = *b"PLYA";
/// The frame format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Length of a frame's header: magic, format version, message type, flags, payload length.
pub const HEADER_LEN: usize = 11;
/// Payloads larger than this many bytes are compressed when that makes them smaller.
pub const COMPRESS_ABOVE: usize = 512;
/// The payload size [`encode_many`] aims for when it splits a message (1 MiB).
pub const TARGET_PAYLOAD_BYTES: usize = 1 << 20;
/// Longest [`Hello`] label, in bytes.
pub const MAX_LABEL_BYTES: usize = 256;
/// Longest [`Hello`] access token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8192;
/// Longest [`Message::Refused`] message, in bytes.
pub const MAX_REFUSAL_BYTES: usize = 4096;

/// Flag bit 0: the payload is compressed.
const FLAG_COMPRESSED: u8 = 1;

/// What a receiver accepts in one frame. Decoding checks every one of these before it
/// allocates; [`encode_many`] splits messages so that each frame stays within them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole frame (header and payload as sent). Default 16 MiB.
    pub max_frame_bytes: usize,
    /// Largest payload after decompression (and largest uncompressed payload). Default 64 MiB.
    pub max_decompressed_bytes: usize,
    /// Most changes in one `Changes` frame. Default 100,000.
    pub max_changes_per_frame: usize,
    /// Most documents in one frame: document-table entries, snapshots, summary documents or
    /// interest entries. Default 100,000.
    pub max_docs_per_frame: usize,
    /// Most actor entries in one frame: actor-table entries plus, in a `Summary`, the entries
    /// of all its version vectors. Default 200,000.
    pub max_actors_per_frame: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 16 << 20,
            max_decompressed_bytes: 64 << 20,
            max_changes_per_frame: 100_000,
            max_docs_per_frame: 100_000,
            max_actors_per_frame: 200_000,
        }
    }
}

/// Why bytes could not be decoded as a frame. Each message says whether the bytes are corrupt
/// (or hostile) or come from a newer Polyarch.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The bytes do not start with `PLYA`.
    #[error(
        "not a Polyarch frame (it does not start with \"PLYA\"): the bytes are corrupt or come from another program"
    )]
    BadMagic,
    /// The frame's format version is not one this build reads.
    #[error("{}", version_message(*.found, *.supported))]
    UnsupportedVersion {
        /// The format version in the frame.
        found: u8,
        /// The format version this build reads.
        supported: u8,
    },
    /// The message type code is not one this format version defines.
    #[error(
        "unknown message type {code}: the frame is corrupt, or comes from a newer Polyarch (upgrade this one)"
    )]
    UnknownMessageType {
        /// The code found.
        code: u8,
    },
    /// Flag bits that this format version does not define are set.
    #[error(
        "unknown frame flags {flags:#010b}: the frame is corrupt, or comes from a newer Polyarch (upgrade this one)"
    )]
    UnknownFlags {
        /// The flags byte found.
        flags: u8,
    },
    /// The frame is shorter than its header, or than the payload length its header declares.
    #[error(
        "frame cut short: {needed} bytes expected, {available} present; the bytes are corrupt or were split at the wrong place (use frame_len)"
    )]
    Truncated {
        /// How many bytes the frame needs.
        needed: u64,
        /// How many bytes were given.
        available: usize,
    },
    /// Bytes follow the end that the frame's header declares.
    #[error(
        "{extra} bytes follow the end of the frame: the bytes are corrupt or several frames were joined (use frame_len)"
    )]
    TrailingBytes {
        /// How many bytes follow the frame.
        extra: usize,
    },
    /// The frame, or its payload once inflated, is larger than this receiver accepts.
    #[error(
        "{what} of {size} bytes or more exceeds this receiver's limit of {limit} bytes: the sender is hostile or uses larger limits"
    )]
    TooLarge {
        /// What was too large ("frame", "payload", "inflated payload").
        what: &'static str,
        /// Its size in bytes (for an inflated payload, how far inflating got before it stopped).
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The compressed payload is not a valid, complete DEFLATE stream.
    #[error("the compressed payload is corrupt: {reason}")]
    BadCompression {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The payload does not follow its message's encoding.
    #[error("malformed {message} payload: {source}")]
    Payload {
        /// The message type.
        message: &'static str,
        /// What is wrong; offsets count from the start of the (inflated) payload.
        source: DecodeError,
    },
    /// A table index points past the end of its table.
    #[error(
        "{what} {index} in a {message} payload is out of range (the table has {len} entries): the frame is corrupt"
    )]
    BadIndex {
        /// The message type.
        message: &'static str,
        /// Which index it was.
        what: &'static str,
        /// The index found.
        index: u64,
        /// The table's length.
        len: usize,
    },
    /// A change's elided dependency cannot be restored (see the `Changes` payload).
    #[error(
        "a Changes payload elides a dependency it cannot restore ({reason}): the frame is corrupt"
    )]
    BadElision {
        /// What is wrong.
        reason: &'static str,
    },
    /// A document id breaks the rules of [`DocId`].
    #[error("invalid document id in a {message} payload: the frame is corrupt ({source})")]
    BadDocId {
        /// The message type.
        message: &'static str,
        /// Why the id is invalid.
        source: IdError,
    },
}

fn version_message(found: u8, supported: u8) -> String {
    if found > supported {
        format!(
            "frame format version {found} is newer than this Polyarch reads (version {supported}): upgrade Polyarch"
        )
    } else {
        format!(
            "frame format version {found} is not one Polyarch ever wrote (this build reads version {supported}): the frame is corrupt"
        )
    }
}

/// Why a message could not be written as frames.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field is longer than the wire format allows.
    #[error(
        "{what} has {len} bytes or entries, more than the wire format allows ({limit}): shorten it"
    )]
    FieldTooLong {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The most the format allows.
        limit: usize,
    },
    /// One item that cannot be split (a change, a snapshot, a hello) needs a bigger frame than
    /// the receiver accepts.
    #[error(
        "{what}{} needs {size} bytes or entries in one frame, more than the receiver accepts ({limit}): it cannot be sent under these limits",
        doc_suffix(.doc)
    )]
    TooLarge {
        /// What could not be sent.
        what: &'static str,
        /// Its document, when it belongs to one.
        doc: Option<DocId>,
        /// Its size, in the unit of the limit it broke.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

fn doc_suffix(doc: &Option<DocId>) -> String {
    doc.as_ref()
        .map(|doc| format!(" of document {doc:?}"))
        .unwrap_or_default()
}

/// Message type codes and names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hello = 1,
    Changes = 2,
    Snapshots = 3,
    Summary = 4,
    Resume = 5,
    NeedSummary = 6,
    Ack = 7,
    Refused = 8,
}

impl Kind {
    fn of(msg: &Message) -> Self {
        match msg {
            Message::Hello(_) => Kind::Hello,
            Message::Changes { .. } => Kind::Changes,
            Message::Snapshots(_) => Kind::Snapshots,
            Message::Summary { .. } => Kind::Summary,
            Message::Resume(_) => Kind::Resume,
            Message::NeedSummary => Kind::NeedSummary,
            Message::Ack { .. } => Kind::Ack,
            Message::Refused { .. } => Kind::Refused,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Kind::Hello,
            2 => Kind::Changes,
            3 => Kind::Snapshots,
            4 => Kind::Summary,
            5 => Kind::Resume,
            6 => Kind::NeedSummary,
            7 => Kind::Ack,
            8 => Kind::Refused,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Hello => "Hello",
            Kind::Changes => "Changes",
            Kind::Snapshots => "Snapshots",
            Kind::Summary => "Summary",
            Kind::Resume => "Resume",
            Kind::NeedSummary => "NeedSummary",
            Kind::Ack => "Ack",
            Kind::Refused => "Refused",
        }
    }
}

/// Writes `msg` as one frame, whatever its size. This never fails, but only a message whose
/// fields are within the format's limits and whose frame is within the receiver's [`Limits`]
/// will be accepted: use [`encode_many`] to check that and to split large messages.
///
/// (A payload over the 4 GiB that the length field can express is written with the length
/// field saturated, which every decoder rejects.)
pub fn encode(msg: &Message) -> Vec<u8> {
    // Room for the usual payload at once: a relay encodes a frame per follower per commit.
    let hint = match msg {
        Message::Changes { changes, .. } => changes
            .iter()
            .map(|c| c.bytes.len().saturating_add(32))
            .fold(64usize, usize::saturating_add),
        _ => 64,
    };
    let mut w = Writer::with_capacity(hint);
    payload::encode(msg, &mut w);
    frame(Kind::of(msg), &w.into_bytes())
}

/// Writes `msgs` as frames that each decode under `limits` (the receiver's), splitting large
/// `Changes`, `Snapshots` and `Summary` messages into parts of about [`TARGET_PAYLOAD_BYTES`].
///
/// Decoding the frames in order gives messages that, joined, equal `msgs` (see the module docs
/// for how parts carry `stretch` and `last`). Fails when a field is longer than the format
/// allows or one item that cannot be split does not fit in a frame under `limits`; nothing is
/// returned then, so the caller can report the item and send the rest without it.
pub fn encode_many(msgs: &[Message], limits: &Limits) -> Result<Vec<Vec<u8>>, EncodeError> {
    let mut frames = Vec::new();
    for msg in msgs {
        split::encode_split(msg, limits, &mut frames)?;
    }
    Ok(frames)
}

/// Wraps an encoded payload in a frame, compressing it when that pays.
fn frame(kind: Kind, payload: &[u8]) -> Vec<u8> {
    with_deflated(payload, |compressed| {
        let (flags, body) = match compressed {
            Some(c) => (FLAG_COMPRESSED, c),
            None => (0, payload),
        };
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        let mut w = Writer::with_capacity(HEADER_LEN.saturating_add(body.len()));
        w.bytes(&MAGIC)
            .u8(FORMAT_VERSION)
            .u8(kind as u8)
            .u8(flags)
            .u32_le(len)
            .bytes(body);
        w.into_bytes()
    })
}

/// Payloads up to this size are compressed at a fast level, by a compressor each thread keeps:
/// a relay encodes a small frame per follower per commit. Measured on a payload of a dozen
/// typing changes (1,449 bytes): a fresh compressor at the default level took 24 us and gave
/// 662 bytes; the kept one at level 2 took 16.5 us and gave 667 bytes.
const FAST_BELOW: usize = 16 << 10;

/// Level 2, not 1: zlib-rs's level 1 ("quick") panicked in testing when its output buffer
/// was exactly the payload's size less one.
const FAST_LEVEL: u32 = 2;

thread_local! {
    /// The kept compressor, and the buffer it writes into.
    static FAST: std::cell::RefCell<(flate2::Compress, Vec<u8>)> = std::cell::RefCell::new((
        flate2::Compress::new(Compression::new(FAST_LEVEL), false),
        Vec::new(),
    ));
}

/// Calls `f` with the payload compressed, or with `None` when it is too small to try or
/// compression does not make it smaller. Small payloads compress into a buffer the thread
/// keeps, so that `f` copies the result once into its frame.
fn with_deflated<T>(payload: &[u8], f: impl FnOnce(Option<&[u8]>) -> T) -> T {
    use std::io::Write as _;
    if payload.len() <= COMPRESS_ABOVE {
        return f(None);
    }
    if payload.len() < FAST_BELOW {
        return FAST.with(|cell| {
            // Busy only if `f` encodes a frame itself: then compress nothing.
            let Ok(mut guard) = cell.try_borrow_mut() else {
                return f(None);
            };
            let (fast, out) = &mut *guard;
            fast.reset();
            out.clear();
            // Room for the worst case (stored blocks) of any payload under FAST_BELOW: zlib-rs
            // must never run out of it.
            out.reserve(FAST_BELOW.saturating_mul(2));
            let done = fast.compress_vec(payload, out, flate2::FlushCompress::Finish);
            let smaller =
                matches!(done, Ok(flate2::Status::StreamEnd)) && out.len() < payload.len();
            f(smaller.then_some(out.as_slice()))
        });
    }
    let mut encoder = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(payload.len() / 2),
        Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let out = encoder
        .write_all(payload)
        .ok()
        .and_then(|()| encoder.finish().ok());
    f(out.as_deref().filter(|c| c.len() < payload.len()))
}

/// What a frame's header says.
struct Header {
    kind: Kind,
    compressed: bool,
    /// Length of the whole frame.
    frame_len: u64,
}

/// Checks as much of a frame's header as `prefix` holds. `Ok(None)`: so far so good, but the
/// header is incomplete.
fn read_header(prefix: &[u8], limits: &Limits) -> Result<Option<Header>, WireError> {
    let magic_part = prefix.get(..MAGIC.len()).unwrap_or(prefix);
    if !MAGIC.starts_with(magic_part) {
        return Err(WireError::BadMagic);
    }
    let mut r = Reader::new(prefix);
    let (Ok(_magic), Ok(version)) = (r.bytes(MAGIC.len()), r.u8()) else {
        return Ok(None);
    };
    if version != FORMAT_VERSION {
        return Err(WireError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let Ok(code) = r.u8() else { return Ok(None) };
    let kind = Kind::from_code(code).ok_or(WireError::UnknownMessageType { code })?;
    let Ok(flags) = r.u8() else { return Ok(None) };
    if flags & !FLAG_COMPRESSED != 0 {
        return Err(WireError::UnknownFlags { flags });
    }
    let Ok(payload_len) = r.u32_le() else {
        return Ok(None);
    };
    // HEADER_LEN is 11 and payload_len below 2^32: no overflow in 64 bits.
    let frame_len = u64::from(payload_len).saturating_add(HEADER_LEN as u64);
    if frame_len > limits.max_frame_bytes as u64 {
        return Err(WireError::TooLarge {
            what: "frame",
            size: frame_len,
            limit: limits.max_frame_bytes as u64,
        });
    }
    Ok(Some(Header {
        kind,
        compressed: flags & FLAG_COMPRESSED != 0,
        frame_len,
    }))
}

/// The total length of the frame that starts with `prefix`, for transports that receive a
/// byte stream and must cut it into frames.
///
/// `None` while `prefix` is shorter than [`HEADER_LEN`] and what it holds is a valid start.
/// `Some(Err(_))` as soon as the bytes cannot start a frame this receiver accepts (wrong magic,
/// unknown version, type or flags, or a declared size over [`Limits::max_frame_bytes`]): the
/// transport should drop the connection rather than wait for more bytes.
pub fn frame_len(prefix: &[u8], limits: &Limits) -> Option<Result<usize, WireError>> {
    match read_header(prefix, limits) {
        Err(e) => Some(Err(e)),
        Ok(None) => None,
        // The frame length is at most max_frame_bytes, a usize.
        Ok(Some(header)) => Some(Ok(usize::try_from(header.frame_len).unwrap_or(usize::MAX))),
    }
}

/// Reads one frame, which must be exactly the bytes of `frame`, checking it against `limits`.
pub fn decode(frame: &[u8], limits: &Limits) -> Result<Message, WireError> {
    let header = read_header(frame, limits)?.ok_or(WireError::Truncated {
        needed: HEADER_LEN as u64,
        available: frame.len(),
    })?;
    let available = frame.len() as u64;
    if available < header.frame_len {
        return Err(WireError::Truncated {
            needed: header.frame_len,
            available: frame.len(),
        });
    }
    if available > header.frame_len {
        return Err(WireError::TrailingBytes {
            extra: usize::try_from(available.saturating_sub(header.frame_len))
                .unwrap_or(usize::MAX),
        });
    }
    let body = frame.get(HEADER_LEN..).unwrap_or_default();
    let inflated;
    let payload = if header.compressed {
        inflated = inflate(body, limits.max_decompressed_bytes)?;
        inflated.as_slice()
    } else {
        if body.len() > limits.max_decompressed_bytes {
            return Err(WireError::TooLarge {
                what: "payload",
                size: body.len() as u64,
                limit: limits.max_decompressed_bytes as u64,
            });
        }
        body
    };
    payload::decode(header.kind, payload, limits)
}

/// Inflates a raw DEFLATE stream that must end exactly at the end of `input` and inflate to at
/// most `cap` bytes. The output grows by doubling, never past `cap` plus one step, and
/// inflating stops as soon as the cap is passed.
fn inflate(input: &[u8], cap: usize) -> Result<Vec<u8>, WireError> {
    const FIRST_STEP: usize = 64 << 10;
    let too_large = |size: usize| WireError::TooLarge {
        what: "inflated payload",
        size: size as u64,
        limit: cap as u64,
    };
    let mut inflater = Decompress::new(false);
    let mut out: Vec<u8> = Vec::new();
    // One byte over the cap is how we learn that the stream goes past it.
    let hard_cap = cap.saturating_add(1);
    loop {
        if out.len() == out.capacity() {
            let room = hard_cap.saturating_sub(out.len());
            if room == 0 {
                return Err(too_large(out.len()));
            }
            let step = out.len().max(FIRST_STEP).min(room);
            out.try_reserve_exact(step)
                .map_err(|_| too_large(out.len()))?;
        }
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or_default();
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress_vec(rest, &mut out, FlushDecompress::None)
            .map_err(|_| WireError::BadCompression {
                reason: "invalid DEFLATE data",
            })?;
        if out.len() > cap {
            return Err(too_large(out.len()));
        }
        match status {
            Status::StreamEnd => {
                if inflater.total_in() != input.len() as u64 {
                    return Err(WireError::BadCompression {
                        reason: "bytes follow the end of the DEFLATE stream",
                    });
                }
                return Ok(out);
            }
            Status::Ok | Status::BufError => {
                let stalled =
                    inflater.total_in() == in_before && inflater.total_out() == out_before;
                if stalled && out.len() < out.capacity() {
                    // Room to write and nothing happened: the input ran out mid-stream.
                    return Err(WireError::BadCompression {
                        reason: "the DEFLATE stream ends early",
                    });
                }
            }
        }
    }
}
