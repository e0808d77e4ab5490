//! The database schema and its migrations.
//!
//! A store is a SQLite database whose header carries `application_id` [`APPLICATION_ID`]
//! (`"PLYA"`) and `user_version` = the schema version. [`MIGRATIONS`] lists, in order, the SQL
//! that takes a database from version `n` to `n + 1`; opening a store runs the missing ones in
//! one transaction. A database with a newer `user_version` than this build knows is refused,
//! never modified. Every released schema version has a fixture database under
//! `tests/fixtures/` that the tests open.
//!
//! ## Schema version 1
//!
//! All tables are `STRICT`, so SQLite itself refuses a value of the wrong type.
//!
//! - `meta`: one row (`id = 1`): `device` and `epoch` (16 bytes each, made at creation),
//!   `actor` (the automerge actor id for local writes), `created_ms` (Unix milliseconds), and
//!   `log_head`, the last log offset handed out. Offsets come from this counter, not from
//!   `max(offset)`, so that deleting compacted rows never lets an offset be reused.
//! - `docs`: one row per document. `key` is a small integer that the other tables use instead
//!   of the id text; `compacted_upto` is the log offset the snapshot covers (0 = never
//!   compacted); `snapshot_version` is what the snapshot holds, in the
//!   [version vector format](#version-vector-column-format); `snapshot` is the automerge
//!   save (its own format carries its magic number and version). `snapshot` is the last column
//!   so that reading the others never walks its overflow pages.
//! - `actors`: automerge actor ids, interned as small integer keys (a log row then carries an
//!   8-byte integer instead of the 16-byte id, and so does its unique index).
//! - `log`: the change log. `offset` is the row id; `(doc, actor, seq)` is unique; `hash` is the
//!   32-byte change hash; `origin` the 16-byte id of the device we received the change from
//!   (NULL for local changes); `bytes` the automerge change as produced by automerge.
//! - `versions`: for each (doc, actor), the highest `seq` the store holds, logged or compacted.
//!   Maintained by appends (once per (doc, actor) per batch) and compactions.
//! - `peers`: what we know of each peer: a label, its epoch and how far we have its log (both
//!   NULL or both set), how far it acknowledged ours, and when we last heard from it.
//!
//! ## Schema version 2
//!
//! - `peers.interest` (new, nullable): the documents the peer asked for in its last hello, in
//!   the [interest column format](#interest-column-format); NULL when not known (peers met
//!   under schema version 1).
//!
//! ### Interest column format
//! One byte, the format version ([`INTEREST_FORMAT`] = 1), then a kind byte: 0 for every
//! document; 1 for prefixes and 2 for listed documents, each followed by a LEB128 count and
//! that many length-prefixed UTF-8 strings.
//!
//! ### Version vector column format
//! One byte, the format version ([`VV_FORMAT`] = 1), then the vector as
//! [`VersionVector::encode_into`](crate::VersionVector::encode_into) writes it: a count, then
//! per actor its length-prefixed id bytes and its sequence number, integers LEB128.

use rusqlite::Transaction;

use super::error::{Context, StoreError};

/// The SQLite `application_id` of a Polyarch store: `"PLYA"` in ASCII.
pub(crate) const APPLICATION_ID: i32 = 0x504C_5941;

/// The format version byte that starts a stored interest.
pub(crate) const INTEREST_FORMAT: u8 = 1;

/// The format version byte that starts a stored version vector.
pub(crate) const VV_FORMAT: u8 = 1;

/// The migrations, in order: entry `n` takes a database from schema version `n` to `n + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2];

/// The newest schema version this build knows.
pub(crate) const SUPPORTED: u32 = MIGRATIONS.len() as u32;

const V1: &str = "
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    device BLOB NOT NULL,
    epoch BLOB NOT NULL,
    actor BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    log_head INTEGER NOT NULL
) STRICT;

CREATE TABLE docs (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    compacted_upto INTEGER NOT NULL DEFAULT 0,
    snapshot_version BLOB,
    snapshot BLOB
) STRICT;
CREATE INDEX docs_by_compaction ON docs (compacted_upto);

CREATE TABLE actors (
    key INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE
) STRICT;

CREATE TABLE log (
    offset INTEGER PRIMARY KEY,
    doc INTEGER NOT NULL REFERENCES docs (key),
    actor INTEGER NOT NULL REFERENCES actors (key),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    origin BLOB,
    bytes BLOB NOT NULL,
    UNIQUE (doc, actor, seq)
) STRICT;

CREATE TABLE versions (
    doc INTEGER NOT NULL REFERENCES docs (key),
    actor INTEGER NOT NULL REFERENCES actors (key),
    seq INTEGER NOT NULL,
    PRIMARY KEY (doc, actor)
) STRICT, WITHOUT ROWID;

CREATE TABLE peers (
    device BLOB PRIMARY KEY,
    label TEXT NOT NULL,
    their_epoch BLOB,
    their_offset INTEGER,
    acked INTEGER NOT NULL,
    last_contact_ms INTEGER NOT NULL,
    CHECK ((their_epoch IS NULL) = (their_offset IS NULL))
) STRICT, WITHOUT ROWID;
";

/// Version 2: what each peer last asked for, so that a reconnection can stream before the
/// peer's hello arrives.
const V2: &str = "ALTER TABLE peers ADD COLUMN interest BLOB;";

/// Runs the migrations after schema version `from`, inside `tx`, and records the new version.
pub(crate) fn migrate(tx: &Transaction<'_>, from: u32) -> Result<(), StoreError> {
    if from >= SUPPORTED {
        return Ok(());
    }
    for sql in MIGRATIONS.iter().skip(from as usize) {
        tx.execute_batch(sql).ctx("migrating the schema")?;
    }
    tx.pragma_update(None, "user_version", SUPPORTED)
        .ctx("recording the schema version")?;
    Ok(())
}
