//! The store layer: one replica's SQLite database.
//!
//! Holds the device identity and epoch, every document's snapshot and change log, version
//! vectors, and what each peer has of our log. Every write is one `rusqlite::Transaction`;
//! nothing is acknowledged before its transaction commits.
//!
//! A file store runs SQLite in WAL mode with `locking_mode=EXCLUSIVE`: one process at a time
//! has a store open (a second one gets [`StoreError::Busy`]), because two processes writing as
//! the same actor would hand out the same sequence numbers twice. The schema and the formats of
//! stored values are described in `schema.rs`.
//!
//! Split by concern: `docs.rs` (documents, snapshots, compaction), `log.rs` (the change log),
//! `image.rs` (the whole store as one byte string), `peers.rs` (peer records), `schema.rs`
//! (tables and migrations), `values.rs` (checked conversions of stored values).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod docs;
mod error;
mod image;
mod log;
mod peers;
mod schema;
#[cfg(test)]
mod tests;
mod values;

use std::path::Path as FsPath;
use std::time::Duration;

use automerge::{ActorId, ChangeHash};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{DeviceId, DocId, Epoch, VersionVector};

use error::Context;
pub use error::StoreError;

/// How hard a commit works to reach the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sync {
    /// `synchronous=FULL`: a committed transaction survives a power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives an application crash (kill -9) but a power loss may drop
    /// the last commits. Several times faster per commit.
    Normal,
}

/// Options for opening a store.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// Commit durability.
    pub sync: Sync,
}

/// The store's identity, fixed when it is created (the actor may rotate, see [`Store::rotate_actor`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreMeta {
    /// This device.
    pub device: DeviceId,
    /// This store's epoch.
    pub epoch: Epoch,
    /// The automerge actor this device writes as.
    pub actor: ActorId,
    /// Schema version of the database.
    pub schema_version: u32,
}

/// A change to append to the log.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// Its document.
    pub doc: &'a DocId,
    /// Its writer.
    pub actor: &'a ActorId,
    /// Its sequence number for that writer.
    pub seq: u64,
    /// Its hash.
    pub hash: ChangeHash,
    /// The device we received it from (`None` for local changes).
    pub origin: Option<DeviceId>,
    /// The automerge change bytes.
    pub bytes: &'a [u8],
}

/// A change read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Its position in this store's log (1, 2, 3, ...; never reused under one epoch).
    pub offset: u64,
    /// Its document.
    pub doc: DocId,
    /// Its writer.
    pub actor: ActorId,
    /// Its sequence number for that writer.
    pub seq: u64,
    /// Its hash.
    pub hash: ChangeHash,
    /// The device it came from (`None` for local changes).
    pub origin: Option<DeviceId>,
    /// The automerge change bytes.
    pub bytes: Vec<u8>,
}

/// A document as stored: its snapshot (if compacted) and the changes after it.
#[derive(Debug, Clone, Default)]
pub struct StoredDoc {
    /// The compact snapshot, if the document was ever compacted.
    pub snapshot: Option<Vec<u8>>,
    /// The changes logged after the snapshot, in log order.
    pub tail: Vec<Vec<u8>>,
    /// What the document holds.
    pub version: VersionVector,
}

/// How much of a document's history is logged change by change, and how big its snapshot is
/// (see [`Store::long_histories`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySize {
    /// The document.
    pub doc: DocId,
    /// Changes logged after the snapshot.
    pub logged_changes: u64,
    /// Their bytes.
    pub logged_bytes: u64,
    /// The snapshot's bytes (0 when never compacted).
    pub snapshot_bytes: u64,
}

/// What a peer lacks of one document, given its version vector.
#[derive(Debug, Clone, Default)]
pub struct Missing {
    /// The snapshot, when some needed change exists only inside it (it was compacted).
    pub snapshot: Option<Vec<u8>>,
    /// The logged changes the peer lacks, in log (causal) order.
    pub entries: Vec<LogEntry>,
}

/// What we know about a peer, persisted across connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    /// The peer.
    pub peer: DeviceId,
    /// A human label ("relay", a host name), if known.
    pub label: String,
    /// The peer's epoch when we last synced, and how far we have its log under that epoch.
    pub their_log: Option<(Epoch, u64)>,
    /// How far the peer has acknowledged having our log, under our current epoch.
    pub acked: u64,
    /// Last time we heard from the peer (milliseconds since the Unix epoch, 0 = never).
    pub last_contact_ms: u64,
    /// The documents the peer asked for when it last said hello (`None` = not known). Lets
    /// the next connection stream what the peer lacks before its hello arrives.
    pub interest: Option<crate::sync::Interest>,
}

/// One replica's SQLite database.
pub struct Store {
    conn: Connection,
    meta: StoreMeta,
    /// The last offset handed out (mirrors `meta.log_head` in the database).
    head: u64,
}

/// How long a statement waits for a lock held by another connection before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Prepared statements kept per connection (the hot paths use `prepare_cached`).
const STATEMENT_CACHE: usize = 64;

impl Store {
    /// Runs `sql` on the database (tests use it to make the store misbehave).
    #[cfg(test)]
    pub(crate) fn execute_batch_for_test(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.execute_batch(sql)
    }

    /// Opens (creating if missing) the store at `path`, running migrations.
    ///
    /// Fails with [`StoreError::CannotOpen`] if the file cannot be opened or created,
    /// [`StoreError::NotAStore`] if it is not a Polyarch store, [`StoreError::NewerSchema`] if
    /// a newer Polyarch wrote it (in those three cases the file is left unchanged), and
    /// [`StoreError::Busy`] if another process has it open.
    pub fn open(path: &FsPath, options: &StoreOptions) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::CannotOpen {
            path: path.to_path_buf(),
            source,
        })?;
        Self::init(conn, Some(path), options)
    }

    /// A store in memory, for tests: gone when dropped.
    pub fn open_in_memory(options: &StoreOptions) -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().ctx("opening an in-memory database")?;
        Self::init(conn, None, options)
    }

    /// A store in memory that presents itself to peers as `device`, an id it takes over from
    /// earlier in-memory stores (see [`crate::Lease`]): gone when dropped. Its epoch is new, so
    /// peers trust no cursor into an earlier store's log.
    pub fn open_in_memory_as(options: &StoreOptions, device: DeviceId) -> Result<Self, StoreError> {
        let mut store = Self::open_in_memory(options)?;
        store
            .conn
            .execute(
                "UPDATE meta SET device = ?1 WHERE id = 1",
                params![device.as_bytes()],
            )
            .ctx("taking over the leased device id")?;
        store.meta.device = device;
        Ok(store)
    }

    /// Configures the connection, checks what the file is, runs migrations and loads the meta.
    fn init(
        mut conn: Connection,
        path: Option<&FsPath>,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .ctx("setting the busy timeout")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // SQLite opens and reads the file lazily: what the file is shows on the first reads.
        let not_a_store = |op: &'static str| {
            move |e: rusqlite::Error| match (path, e.sqlite_error_code()) {
                (Some(path), Some(rusqlite::ErrorCode::NotADatabase)) => StoreError::NotAStore {
                    path: path.to_path_buf(),
                },
                (
                    Some(path),
                    Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly),
                ) => StoreError::CannotOpen {
                    path: path.to_path_buf(),
                    source: e,
                },
                _ => StoreError::sqlite(op, e),
            }
        };
        if path.is_some() {
            // Before the first read, so that the WAL never uses shared memory and the lock,
            // once taken, is held until the store is closed.
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
                .ctx("setting the locking mode")?;
        }
        let app_id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(not_a_store("reading the application id"))?;
        let found: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(not_a_store("reading the schema version"))?;
        let fresh = app_id == 0 && {
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
                .map_err(not_a_store("reading the schema"))?;
            tables == 0
        };
        if app_id != schema::APPLICATION_ID && !fresh {
            return Err(StoreError::NotAStore {
                path: path.unwrap_or(FsPath::new(":memory:")).to_path_buf(),
            });
        }
        if found > schema::SUPPORTED {
            return Err(StoreError::NewerSchema {
                found,
                supported: schema::SUPPORTED,
            });
        }
        if fresh {
            // Only possible before the first table exists.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .ctx("enabling incremental vacuum")?;
        }
        if path.is_some() {
            // Some VFSes (the browser's OPFS) cannot do WAL and keep their own mode: accepted.
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(not_a_store("enabling write-ahead logging"))?;
        }
        let synchronous = match options.sync {
            Sync::Full => "FULL",
            Sync::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", synchronous)
            .ctx("setting the commit durability")?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .ctx("enabling foreign keys")?;

        // Always a write transaction, even when there is nothing to migrate: it takes the
        // exclusive lock now, so a second instance is refused at open rather than later.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(not_a_store("locking the store"))?;
        schema::migrate(&tx, found)?;
        if fresh {
            tx.pragma_update(None, "application_id", schema::APPLICATION_ID)
                .ctx("marking the file as a Polyarch store")?;
            tx.execute(
                "INSERT INTO meta (id, device, epoch, actor, created_ms, log_head)
                 VALUES (1, ?1, ?2, ?3, ?4, 0)",
                params![
                    DeviceId::random().as_bytes(),
                    Epoch::random().as_bytes(),
                    ActorId::random().to_bytes(),
                    now_ms(),
                ],
            )
            .ctx("creating the store identity")?;
        }
        tx.commit().ctx("committing the schema")?;

        let (meta, head) = load_meta(&conn)?;
        Ok(Self { conn, meta, head })
    }

    /// The store's identity.
    pub fn meta(&self) -> &StoreMeta {
        &self.meta
    }

    /// Switches to a new random actor for future local writes (after restoring from a backup,
    /// old sequence numbers of the old actor may already be used elsewhere).
    pub fn rotate_actor(&mut self) -> Result<ActorId, StoreError> {
        let actor = ActorId::random();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting to rotate the actor")?;
        tx.execute(
            "UPDATE meta SET actor = ?1 WHERE id = 1",
            params![actor.to_bytes()],
        )
        .ctx("rotating the actor")?;
        tx.commit().ctx("committing the new actor")?;
        self.meta.actor = actor.clone();
        Ok(actor)
    }

    /// Runs SQLite's `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        const MAX_PROBLEMS: usize = 8;
        let mut problems = Vec::new();
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .ctx("checking integrity")?;
        let mut rows = stmt.query([]).ctx("checking integrity")?;
        while let Some(row) = rows.next().ctx("checking integrity")? {
            let line: String = row.get(0).ctx("reading the integrity check")?;
            if line != "ok" && problems.len() < MAX_PROBLEMS {
                problems.push(line);
            }
        }
        let mut stmt = self
            .conn
            .prepare("PRAGMA foreign_key_check")
            .ctx("checking references")?;
        let mut rows = stmt.query([]).ctx("checking references")?;
        while let Some(row) = rows.next().ctx("checking references")? {
            let table: String = row.get(0).ctx("reading the reference check")?;
            if problems.len() < MAX_PROBLEMS {
                problems.push(format!("a row of {table} refers to a missing row"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Damaged { problems })
        }
    }

    /// The database's size in bytes (page count times page size: what the file takes once
    /// the write-ahead log is checkpointed; free pages count until a compaction returns them).
    pub fn size_bytes(&self) -> Result<u64, StoreError> {
        let pages: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .ctx("reading the page count")?;
        let page_size: i64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .ctx("reading the page size")?;
        Ok(values::from_sql("page count", pages)?
            .saturating_mul(values::from_sql("page size", page_size)?))
    }
}

/// Reads the identity row and the log head.
fn load_meta(conn: &Connection) -> Result<(StoreMeta, u64), StoreError> {
    let row = conn
        .query_row(
            "SELECT device, epoch, actor, log_head, (SELECT max(offset) FROM log) FROM meta
             WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            },
        )
        .optional()
        .ctx("reading the store identity")?;
    let Some((device, epoch, actor, head, max_offset)) = row else {
        return Err(StoreError::Corrupt {
            what: "store identity (the meta row is missing)",
            source: crate::codec::DecodeError::Truncated { at: 0, needed: 1 },
        });
    };
    let schema_version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .ctx("reading the schema version")?;
    let meta = StoreMeta {
        device: values::device("device id", &device)?,
        epoch: values::epoch("epoch", &epoch)?,
        actor: ActorId::from(actor),
        schema_version,
    };
    // The counter is authoritative; the max() only guards against a counter left behind.
    let head = values::from_sql("log head", head)?
        .max(values::from_sql("log offset", max_offset.unwrap_or(0))?);
    Ok((meta, head))
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> i64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
