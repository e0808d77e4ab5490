//! Dependency elision in `Changes` payloads.
//!
//! An automerge change names each change it depends on by its 32-byte SHA-256 hash, and the
//! hashes do not compress. When someone types, every change depends on the one before it, and
//! a catch-up frame carries both: the encoder then leaves such a hash out of the change's bytes
//! and writes a back-reference (the change `distance` places earlier in the same frame)
//! instead. The decoder recomputes the hash from that change's bytes and puts it back, so the
//! bytes it hands on are exactly the bytes that were encoded. A wrong back-reference cannot
//! slip through: the change's checksum covers its dependencies, and every received change is
//! checked against it.
//!
//! Only uncompressed change chunks (chunk type 1) take part: their dependency list sits at a
//! fixed place in the chunk, right after the header.

use std::borrow::Cow;
use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::WireError;
use crate::codec::Reader;
use crate::sync::message::WireChange;

/// The magic bytes that start an automerge chunk.
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of an uncompressed change.
const CHUNK_CHANGE: u8 = 1;
/// Bytes of a change hash.
const HASH_LEN: usize = 32;
/// Bytes before what a change hash covers: the magic bytes and the checksum.
const UNHASHED: usize = 8;

/// One elided dependency: its position in the change's dependency list, and how many changes
/// back in the frame the change it names is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Elided {
    pub(super) position: u64,
    pub(super) distance: u64,
}

/// Where an uncompressed change chunk lists its dependencies: the offset of the first hash
/// and how many there are. `None` for anything else.
fn deps_span(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut r = Reader::new(bytes);
    if r.array::<4>().ok()? != CHUNK_MAGIC {
        return None;
    }
    r.bytes(4).ok()?; // checksum
    if r.u8().ok()? != CHUNK_CHANGE {
        return None;
    }
    r.uint().ok()?; // body length
    let count = usize::try_from(r.uint().ok()?).ok()?;
    Some((r.position(), count))
}

/// The hash automerge gives an uncompressed change chunk: SHA-256 of everything after the
/// magic bytes and the checksum.
fn chunk_hash(bytes: &[u8]) -> Option<[u8; HASH_LEN]> {
    deps_span(bytes)?;
    let hashed = bytes.get(UNHASHED..)?;
    Some(Sha256::digest(hashed).into())
}

/// The encoder's side: remembers the hashes of the frame's changes so far.
#[derive(Default)]
pub(super) struct Elider {
    seen: HashMap<[u8; HASH_LEN], u64>,
    next: u64,
}

impl Elider {
    /// The next change of the frame: its elided dependencies and its bytes without them.
    pub(super) fn next<'a>(&mut self, bytes: &'a [u8]) -> (Vec<Elided>, Cow<'a, [u8]>) {
        let index = self.next;
        self.next = self.next.saturating_add(1);
        let Some((start, count)) = deps_span(bytes) else {
            return (Vec::new(), Cow::Borrowed(bytes));
        };
        let mut elided = Vec::new();
        let mut kept = Vec::new();
        for position in 0..count {
            let Some(hash) = start
                .checked_add(position.saturating_mul(HASH_LEN))
                .and_then(|at| bytes.get(at..at.checked_add(HASH_LEN)?))
            else {
                return (Vec::new(), Cow::Borrowed(bytes));
            };
            let key: Option<[u8; HASH_LEN]> = hash.try_into().ok();
            match key.and_then(|h| self.seen.get(&h)) {
                Some(earlier) => elided.push(Elided {
                    position: position as u64,
                    distance: index.saturating_sub(*earlier),
                }),
                None => kept.push(hash),
            }
        }
        if let Some(hash) = chunk_hash(bytes) {
            self.seen.insert(hash, index);
        }
        if elided.is_empty() {
            return (elided, Cow::Borrowed(bytes));
        }
        let end = start.saturating_add(count.saturating_mul(HASH_LEN));
        let mut out = Vec::with_capacity(bytes.len());
        out.extend_from_slice(bytes.get(..start).unwrap_or_default());
        for hash in kept {
            out.extend_from_slice(hash);
        }
        out.extend_from_slice(bytes.get(end..).unwrap_or_default());
        (elided, Cow::Owned(out))
    }
}

/// The decoder's side: hashes of the frame's changes, computed when first referred to.
pub(super) struct Restorer {
    hashes: Vec<Option<[u8; HASH_LEN]>>,
    /// Bytes that restoring may still add to the frame.
    budget: usize,
}

impl Restorer {
    /// A restorer that adds at most `budget` bytes to a frame's changes.
    pub(super) fn new(budget: usize) -> Self {
        Self {
            hashes: Vec::new(),
            budget,
        }
    }

    /// The bytes of the next change, given the bytes of the frame's earlier changes, its
    /// elided dependencies (positions strictly increasing) and its bytes without them.
    pub(super) fn restore(
        &mut self,
        earlier: &[WireChange],
        elided: &[Elided],
        bytes: &[u8],
    ) -> Result<Vec<u8>, WireError> {
        let bad = |reason| Err(WireError::BadElision { reason });
        if elided.is_empty() {
            return Ok(bytes.to_vec());
        }
        let Some((start, count)) = deps_span(bytes) else {
            return bad("dependencies are elided from bytes that are not a change");
        };
        let added = elided.len().saturating_mul(HASH_LEN);
        if added > self.budget {
            return bad("restoring them would exceed the inflated payload limit");
        }
        self.budget = self.budget.saturating_sub(added);
        let kept_len = count
            .checked_sub(elided.len())
            .and_then(|kept| kept.checked_mul(HASH_LEN))
            .ok_or(WireError::BadElision {
                reason: "more dependencies are elided than the change has",
            })?;
        let (Some(head), Some(kept), Some(tail)) = (
            bytes.get(..start),
            start
                .checked_add(kept_len)
                .and_then(|end| bytes.get(start..end)),
            bytes.get(start.saturating_add(kept_len)..),
        ) else {
            return bad("the change is shorter than its kept dependencies");
        };
        let mut out = Vec::with_capacity(bytes.len().saturating_add(added));
        out.extend_from_slice(head);
        let mut kept = kept.chunks_exact(HASH_LEN);
        let mut pending = elided.iter().peekable();
        let mut last_position = None;
        for position in 0..count {
            match pending.peek() {
                Some(e) if e.position == position as u64 => {
                    if last_position.is_some_and(|p| p >= e.position) {
                        return bad("elided positions are not in increasing order");
                    }
                    last_position = Some(e.position);
                    out.extend_from_slice(&self.hash_of(earlier, e.distance)?);
                    pending.next();
                }
                _ => match kept.next() {
                    Some(hash) => out.extend_from_slice(hash),
                    None => return bad("the change is shorter than its kept dependencies"),
                },
            }
        }
        if pending.next().is_some() {
            return bad("an elided position is past the change's dependency list");
        }
        out.extend_from_slice(tail);
        Ok(out)
    }

    /// The hash of the change `distance` places before the next one.
    fn hash_of(
        &mut self,
        earlier: &[WireChange],
        distance: u64,
    ) -> Result<[u8; HASH_LEN], WireError> {
        let index = usize::try_from(distance)
            .ok()
            .filter(|d| *d >= 1)
            .and_then(|d| earlier.len().checked_sub(d))
            .ok_or(WireError::BadElision {
                reason: "a back-reference points before the frame's first change",
            })?;
        if self.hashes.len() < earlier.len() {
            self.hashes.resize(earlier.len(), None);
        }
        if let Some(Some(hash)) = self.hashes.get(index) {
            return Ok(*hash);
        }
        let hash = earlier
            .get(index)
            .and_then(|change| chunk_hash(&change.bytes))
            .ok_or(WireError::BadElision {
                reason: "a back-reference points to bytes that are not an uncompressed change",
            })?;
        if let Some(slot) = self.hashes.get_mut(index) {
            *slot = Some(hash);
        }
        Ok(hash)
    }
}
