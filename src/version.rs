//! Version vectors: for each writer (actor), how many of its changes a replica has applied.
//!
//! Changes are applied in causal order and every actor numbers its changes 1, 2, 3, ..., so what
//! a replica has of one document is exactly described by the highest sequence number per actor.
//! That makes a version vector the multi-leader generalisation of a replication offset, and a
//! compact token for "read your writes" across devices: carry one replica's vector to another and
//! ask [`crate::Repo::has_caught_up`] there.
//!
//! ## Token format
//! `to_token` writes base64url (no padding) of: magic `PAVV`, format version `1`, a count, then
//! per actor its length-prefixed id bytes and its sequence number, all integers LEB128.

use std::collections::BTreeMap;

use automerge::ActorId;
use base64::Engine as _;
use thiserror::Error;

use crate::codec::{DecodeError, Reader, Writer};

const TOKEN_MAGIC: &[u8; 4] = b"PAVV";
const TOKEN_VERSION: u8 = 1;
/// Most actors a decoded version vector may name.
pub const MAX_ACTORS: usize = 1 << 16;
/// Longest actor id accepted, in bytes.
pub const MAX_ACTOR_LEN: usize = 64;

/// For each actor, the highest sequence number applied (all lower ones are applied too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct VersionVector(BTreeMap<ActorId, u64>);

/// A version token that could not be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not base64url text.
    #[error("a version token must be base64url text as written by VersionVector::to_token")]
    NotBase64,
    /// Not a version token, or one from a newer Polyarch.
    #[error("not a Polyarch version token (bad magic number)")]
    BadMagic,
    /// A token format this version does not know.
    #[error("version token format {version} is newer than this Polyarch understands; upgrade")]
    UnknownVersion {
        /// The format version found.
        version: u8,
    },
    /// The token's bytes were malformed.
    #[error("corrupt version token: {0}")]
    Corrupt(#[from] DecodeError),
}

impl VersionVector {
    /// An empty vector: nothing applied.
    pub fn new() -> Self {
        Self::default()
    }

    /// The highest sequence number applied for `actor` (0 when none).
    pub fn get(&self, actor: &ActorId) -> u64 {
        self.0.get(actor).copied().unwrap_or(0)
    }

    /// Records that `actor`'s changes up to `seq` are applied (never lowers an entry).
    pub fn observe(&mut self, actor: &ActorId, seq: u64) {
        if seq == 0 {
            return;
        }
        let entry = self.0.entry(actor.clone()).or_insert(0);
        *entry = (*entry).max(seq);
    }

    /// Whether this vector has everything `other` has.
    pub fn includes(&self, other: &VersionVector) -> bool {
        other.0.iter().all(|(actor, seq)| self.get(actor) >= *seq)
    }

    /// The pointwise maximum of both vectors.
    pub fn merge(&mut self, other: &VersionVector) {
        for (actor, seq) in &other.0 {
            self.observe(actor, *seq);
        }
    }

    /// How many changes `self` has that `other` lacks.
    pub fn count_ahead_of(&self, other: &VersionVector) -> u64 {
        self.0
            .iter()
            .map(|(actor, seq)| seq.saturating_sub(other.get(actor)))
            .sum()
    }

    /// Total number of changes covered.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Iterates over (actor, highest seq) in actor order.
    pub fn iter(&self) -> impl Iterator<Item = (&ActorId, u64)> {
        self.0.iter().map(|(a, s)| (a, *s))
    }

    /// Number of actors named.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no change is covered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends the binary form (count, then actor bytes and seq per entry).
    pub fn encode_into(&self, w: &mut Writer) {
        w.uint(self.0.len() as u64);
        for (actor, seq) in &self.0 {
            w.blob(actor.to_bytes()).uint(*seq);
        }
    }

    /// Reads the binary form written by [`encode_into`](Self::encode_into).
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let n = r.count("actor count", MAX_ACTORS, 2)?;
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let actor = ActorId::from(r.blob("actor id", MAX_ACTOR_LEN)?);
            let seq = r.uint()?;
            if seq > 0 {
                map.insert(actor, seq);
            }
        }
        Ok(Self(map))
    }

    /// A printable token that carries this vector to another replica.
    pub fn to_token(&self) -> String {
        let mut w = Writer::new();
        w.bytes(TOKEN_MAGIC).u8(TOKEN_VERSION);
        self.encode_into(&mut w);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(w.into_bytes())
    }

    /// Reads a token written by [`to_token`](Self::to_token).
    pub fn from_token(token: &str) -> Result<Self, TokenError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| TokenError::NotBase64)?;
        let mut r = Reader::new(&bytes);
        if r.bytes(4).ok() != Some(TOKEN_MAGIC.as_slice()) {
            return Err(TokenError::BadMagic);
        }
        let version = r.u8()?;
        if version != TOKEN_VERSION {
            return Err(TokenError::UnknownVersion { version });
        }
        let vv = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(vv)
    }
}

impl FromIterator<(ActorId, u64)> for VersionVector {
    fn from_iter<T: IntoIterator<Item = (ActorId, u64)>>(iter: T) -> Self {
        let mut vv = Self::new();
        for (actor, seq) in iter {
            vv.observe(&actor, seq);
        }
        vv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(b: u8) -> ActorId {
        ActorId::from(&[b; 16][..])
    }

    #[test]
    fn inclusion_and_merge() {
        let a: VersionVector = [(actor(1), 3), (actor(2), 1)].into_iter().collect();
        let b: VersionVector = [(actor(1), 2)].into_iter().collect();
        assert!(a.includes(&b));
        assert!(!b.includes(&a));
        assert_eq!(a.count_ahead_of(&b), 2);
        let mut c = b.clone();
        c.merge(&a);
        assert_eq!(c, a);
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let a: VersionVector = [(actor(1), 3), (actor(2), 100_000)].into_iter().collect();
        assert_eq!(VersionVector::from_token(&a.to_token()).unwrap(), a);
        assert_eq!(VersionVector::from_token("!!"), Err(TokenError::NotBase64));
        assert_eq!(VersionVector::from_token("AAAA"), Err(TokenError::BadMagic));
        let token = a.to_token();
        assert!(VersionVector::from_token(&token[..token.len() - 3]).is_err());
    }
}
