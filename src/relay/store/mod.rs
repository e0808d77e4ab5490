//! Relay storage: the [`RelayStore`] trait and its two backends, [`SqliteStore`] (one file,
//! the default) and [`PgStore`] (PostgreSQL, for several relays over one database).
//!
//! A relay's store is the device store's server-side analogue: an identity (device id and
//! epoch), a change log numbered by offsets, per-document version vectors and snapshots, and a
//! record per device it syncs with. It differs in three ways:
//!
//! - **Group commit.** [`RelayStore::commit`] writes a whole [`Batch`] (changes from many
//!   connections and the peer records they moved) in one transaction.
//! - **Offsets in commit order.** Offsets are handed out inside the committing transaction
//!   while it holds the log counter's lock (SQLite: the database write lock; PostgreSQL: the
//!   single `relay_meta` row, `SELECT ... FOR UPDATE`). A reader that sees offset `n + 1`
//!   committed therefore never sees offset `n` appear later: cursors into the log are safe even
//!   when several relays append to one database.
//! - **Dependency checks.** [`RelayStore::has_change`] answers for every change ever stored,
//!   also after compaction dropped its log row: compaction moves the hashes of the rows it
//!   deletes into a `hashes` table. Appending writes no hash index: an index keyed by random
//!   hashes dirties a page per change, and that was the bulk of the relay's write-ahead log.
//!
//! Every method returns `Result`; every backend passes the one conformance suite in
//! `tests/it/relay_store.rs`.
//!
//! ## Schema version 1 (both backends)
//! - `relay_meta`: one row: `device`, `epoch` (16 bytes each, random at creation),
//!   `created_ms`, and `log_head`, the last offset handed out (the counter; never goes back).
//! - `docs`: `key` (small integer), `id` (text, unique), `compacted_upto` (log offset the
//!   snapshot covers, 0 = never), `snapshot_version` (see below), `snapshot` (automerge save).
//! - `log`: `offset` (primary key), `doc` (a docs key), `actor`, `seq`, `hash` (32 bytes),
//!   `origin` (16-byte device id the change came from), `bytes` (the automerge change);
//!   `(doc, actor, seq)` is unique and `(doc, offset)` indexed.
//! - `hashes`: `(doc, hash)` of every change compaction deleted from `log` (a database
//!   written by an older build may also hold hashes of changes still logged).
//! - `versions`: per `(doc, actor)` the highest `seq` stored.
//! - `peers`: per device: `label`, `their_epoch` + `their_offset` (both set or both null),
//!   `acked`, `last_contact_ms`.
//!
//! SQLite marks the file with `application_id` `"PLYR"` and `user_version` 1; PostgreSQL keeps
//! the schema version in `relay_meta.schema_version`. A newer schema is refused, never changed.
//!
//! A stored version vector (`snapshot_version`) is one format byte (`1`) followed by
//! [`VersionVector::encode_into`](crate::VersionVector::encode_into).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod postgres;
mod sqlite;

use automerge::{ActorId, ChangeHash};
use thiserror::Error;

use crate::codec::{DecodeError, Reader, Writer};
use crate::store::{LogEntry, Missing, PeerRecord};
use crate::{DeviceId, DocId, Epoch, VersionVector};

pub use self::postgres::{PgListener, PgStore};
pub use self::sqlite::SqliteStore;

/// The schema version both backends write. Version 2 changed only SQLite's (its log lost an
/// index); both upgrade a database of version 1 when they open it.
pub const SCHEMA_VERSION: u32 = 2;

/// The format byte that starts a stored version vector.
const VV_FORMAT: u8 = 1;

/// A relay store's identity, fixed when the database is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreIdentity {
    /// The relay's device id (shared by every relay over one database).
    pub device: DeviceId,
    /// The log's epoch.
    pub epoch: Epoch,
}

/// A validated change to append to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    /// Its document.
    pub doc: DocId,
    /// Its writer.
    pub actor: ActorId,
    /// Its sequence number for that writer.
    pub seq: u64,
    /// Its hash.
    pub hash: ChangeHash,
    /// The device that sent it to the relay.
    pub origin: Option<DeviceId>,
    /// The automerge change bytes.
    pub bytes: Vec<u8>,
}

impl NewChange {
    /// The change as the log holds it: its writer, sequence number, hash and bytes.
    pub fn from_change(doc: DocId, change: &automerge::Change, origin: Option<DeviceId>) -> Self {
        Self {
            doc,
            actor: change.actor_id().clone(),
            seq: change.seq(),
            hash: change.hash(),
            origin,
            bytes: change.raw_bytes().to_vec(),
        }
    }
}

/// What one group commit writes: changes (in causal order per document) and peer records.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Changes to append.
    pub changes: Vec<NewChange>,
    /// Peer records to save (replacing earlier ones).
    pub peers: Vec<PeerRecord>,
}

impl Batch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.peers.is_empty()
    }
}

/// What [`RelayStore::commit`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// The offset of each change of the batch, in order (`None` for changes already stored).
    pub offsets: Vec<Option<u64>>,
    /// The log head when the transaction took the counter: offsets after this one and before
    /// the batch's first were committed by someone else (another relay) just before.
    pub previous_head: u64,
}

/// A document's compacted history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The automerge save.
    pub bytes: Vec<u8>,
    /// What it holds.
    pub version: VersionVector,
    /// The log offset it covers the document's log up to.
    pub upto: u64,
}

/// A document as stored: its snapshot and the logged changes after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDoc {
    /// The snapshot, if the document was ever compacted.
    pub snapshot: Option<Snapshot>,
    /// The changes logged after it, in log order.
    pub tail: Vec<LogEntry>,
}

/// Why a relay store operation failed. A failed write wrote nothing.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RelayStoreError {
    /// SQLite failed.
    #[error("SQLite failed while {op}: {source}; check the disk and the file's permissions")]
    Sqlite {
        /// What the store was doing.
        op: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// PostgreSQL failed (or the connection to it).
    #[error("PostgreSQL failed while {op}: {source}; check that the server is up and reachable")]
    Postgres {
        /// What the store was doing.
        op: &'static str,
        /// The driver's error.
        source: ::postgres::Error,
    },
    /// The database holds something else than a relay store.
    #[error(
        "{location} is not a Polyarch relay database: point the relay at a new or relay-owned database"
    )]
    NotARelayStore {
        /// The file or connection string (without password).
        location: String,
    },
    /// The database was written by a newer relay.
    #[error(
        "the relay database has schema version {found}, this relay knows up to {supported}: upgrade polyarch-relay (the database was left unchanged)"
    )]
    NewerSchema {
        /// The database's schema version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
    /// A stored value is invalid.
    #[error("corrupt {what} in the relay database ({detail}): restore the database from a backup")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A number does not fit the database's integer columns, or an offset is out of range.
    #[error("{what} {value} is out of range (at most {max})")]
    OutOfRange {
        /// What the number is.
        what: &'static str,
        /// The number.
        value: u64,
        /// The largest allowed.
        max: u64,
    },
}

/// Storage for a relay. One value per connection to the database; all methods are blocking.
///
/// Implementations must make [`commit`](Self::commit) atomic and durable, and hand out offsets
/// in commit order (see the module docs).
pub trait RelayStore: Send {
    /// The relay's identity (created with the database).
    fn identity(&mut self) -> Result<StoreIdentity, RelayStoreError>;

    /// The highest offset handed out so far (0 for an empty log). Every offset up to it is
    /// committed or was never used.
    fn head(&mut self) -> Result<u64, RelayStoreError>;

    /// Writes a batch in one transaction. Changes whose `(doc, actor, seq)` is already stored
    /// are skipped. Returns the offset of each change (`None` for skipped ones), in order.
    /// Each writer's changes come in sequence order with no gaps (causal order gives that):
    /// the SQLite backend takes a change as stored when its `seq` is at or below the
    /// document's version for its writer.
    fn commit(&mut self, batch: &Batch) -> Result<Committed, RelayStoreError>;

    /// Log entries with offset > `after`, in order, at most `max_entries` and about
    /// `max_bytes` of change bytes (the first entry always comes, however large).
    fn read_log(
        &mut self,
        after: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>, RelayStoreError>;

    /// One document's log entries with offset > `after`, in order, at most `max_entries`.
    fn read_doc_log(
        &mut self,
        doc: &DocId,
        after: u64,
        max_entries: usize,
    ) -> Result<Vec<LogEntry>, RelayStoreError>;

    /// What the relay holds of `doc` (empty when unknown).
    fn version(&mut self, doc: &DocId) -> Result<VersionVector, RelayStoreError>;

    /// Every document whose id starts with `prefix`, with its version vector, sorted by id.
    fn versions(&mut self, prefix: &str) -> Result<Vec<(DocId, VersionVector)>, RelayStoreError>;

    /// What a peer holding `theirs` of `doc` lacks: logged changes in log order, and the
    /// snapshot when `theirs` does not include what the snapshot holds.
    fn missing(&mut self, doc: &DocId, theirs: &VersionVector) -> Result<Missing, RelayStoreError>;

    /// Whether the change with this hash was ever stored for `doc` (compacted or not).
    fn has_change(&mut self, doc: &DocId, hash: &ChangeHash) -> Result<bool, RelayStoreError>;

    /// The document's snapshot, if it was compacted.
    fn snapshot(&mut self, doc: &DocId) -> Result<Option<Snapshot>, RelayStoreError>;

    /// Documents compacted at an offset greater than `after`, sorted by id.
    fn compacted_after(&mut self, after: u64) -> Result<Vec<DocId>, RelayStoreError>;

    /// The document's snapshot and logged tail (for compaction), or `None` if unknown.
    fn load_doc(&mut self, doc: &DocId) -> Result<Option<StoredDoc>, RelayStoreError>;

    /// Replaces the document's logged changes up to offset `upto` with `snapshot`, which must
    /// hold them all and whatever an earlier snapshot held (`version` is what it holds).
    fn compact(
        &mut self,
        doc: &DocId,
        snapshot: &[u8],
        version: &VersionVector,
        upto: u64,
    ) -> Result<(), RelayStoreError>;

    /// How many changes of `doc` are logged (not compacted).
    fn tail_len(&mut self, doc: &DocId) -> Result<u64, RelayStoreError>;

    /// Stops this connection from folding the write-ahead log back into the database after
    /// its commits (SQLite's automatic checkpoint, which runs inside a commit and makes it
    /// wait for the copy): another connection calls [`checkpoint`](Self::checkpoint) instead.
    /// Backends with nothing of the kind ignore it.
    fn checkpoint_elsewhere(&mut self) -> Result<(), RelayStoreError> {
        Ok(())
    }

    /// Folds what it can of the write-ahead log into the database without making writers
    /// wait (SQLite: a passive checkpoint), and returns how many pages the log holds, folded
    /// or not (0: it is empty). Backends with nothing of the kind ignore it.
    fn checkpoint(&mut self) -> Result<u64, RelayStoreError> {
        Ok(0)
    }

    /// Number of documents.
    fn doc_count(&mut self) -> Result<u64, RelayStoreError>;

    /// What the relay knows about `peer`.
    fn peer(&mut self, peer: &DeviceId) -> Result<Option<PeerRecord>, RelayStoreError>;
}

/// Encodes a version vector for a `snapshot_version` column.
pub(crate) fn encode_vv(vv: &VersionVector) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(VV_FORMAT);
    vv.encode_into(&mut w);
    w.into_bytes()
}

/// Decodes a `snapshot_version` column.
pub(crate) fn decode_vv(bytes: &[u8]) -> Result<VersionVector, RelayStoreError> {
    let corrupt = |e: DecodeError| RelayStoreError::Corrupt {
        what: "snapshot version vector",
        detail: e.to_string(),
    };
    let mut r = Reader::new(bytes);
    let format = r.u8().map_err(corrupt)?;
    if format != VV_FORMAT {
        return Err(RelayStoreError::Corrupt {
            what: "snapshot version vector",
            detail: format!("unknown format {format}"),
        });
    }
    let vv = VersionVector::decode_from(&mut r).map_err(corrupt)?;
    r.finish().map_err(corrupt)?;
    Ok(vv)
}

/// A stored integer as `u64` (negative ones are corrupt).
pub(crate) fn from_db(what: &'static str, value: i64) -> Result<u64, RelayStoreError> {
    u64::try_from(value).map_err(|_| RelayStoreError::Corrupt {
        what,
        detail: format!("negative value {value}"),
    })
}

/// A `u64` for an integer column.
pub(crate) fn to_db(what: &'static str, value: u64) -> Result<i64, RelayStoreError> {
    i64::try_from(value).map_err(|_| RelayStoreError::OutOfRange {
        what,
        value,
        max: i64::MAX as u64,
    })
}

/// A query bound: values past `i64::MAX` clamp to it.
pub(crate) fn bound(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored change hash.
pub(crate) fn hash_from_db(bytes: &[u8]) -> Result<ChangeHash, RelayStoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(ChangeHash)
        .map_err(|_| RelayStoreError::Corrupt {
            what: "change hash",
            detail: format!("{} bytes instead of 32", bytes.len()),
        })
}

/// A stored device id or epoch.
pub(crate) fn id16(what: &'static str, bytes: &[u8]) -> Result<[u8; 16], RelayStoreError> {
    <[u8; 16]>::try_from(bytes).map_err(|_| RelayStoreError::Corrupt {
        what,
        detail: format!("{} bytes instead of 16", bytes.len()),
    })
}

/// A stored document id.
pub(crate) fn doc_from_db(text: String) -> Result<DocId, RelayStoreError> {
    DocId::new(text).map_err(|e| RelayStoreError::Corrupt {
        what: "document id",
        detail: e.to_string(),
    })
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The highest seq per (doc, actor) among `changes`, for the `versions` table.
pub(crate) fn highest_seqs(changes: &[NewChange]) -> Vec<(&DocId, &ActorId, u64)> {
    let mut top: std::collections::HashMap<(&DocId, &ActorId), u64> =
        std::collections::HashMap::new();
    for c in changes {
        let e = top.entry((&c.doc, &c.actor)).or_insert(0);
        *e = (*e).max(c.seq);
    }
    top.into_iter().map(|((d, a), s)| (d, a, s)).collect()
}
