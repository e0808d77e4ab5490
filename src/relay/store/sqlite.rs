//! The SQLite backend: one file in WAL mode. Several connections may open the same file (the
//! relay's core and its compactor); SQLite's write lock serialises their transactions, and the
//! log counter is read and advanced inside the committing `IMMEDIATE` transaction.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use automerge::{ActorId, ChangeHash};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::{
    Batch, Committed, RelayStore, RelayStoreError, SCHEMA_VERSION, Snapshot, StoreIdentity,
    StoredDoc, bound, decode_vv, doc_from_db, encode_vv, from_db, hash_from_db, id16, now_ms,
    to_db,
};
use crate::store::{LogEntry, Missing, PeerRecord};
use crate::{DeviceId, DocId, Epoch, VersionVector};

/// `application_id` of a relay database: `"PLYR"`.
const APPLICATION_ID: i32 = 0x504C_5952;

/// Page cache of each connection to a relay database, in KiB (SQLite's default is 2 MiB).
const CACHE_KIB: i64 = 64 << 10;

/// `CREATE TABLE` for the log, named `$name`. No index on (document, writer, sequence
/// number): one writes the log, in causal order, so a change is already stored exactly when
/// its sequence number is at or below the document's version for its writer (the `versions`
/// table: one statement raises it before each insert, and says if it rose). Schema version 1
/// had that index; at 1,000 busy documents it was a second random page per change in every
/// commit, as many as `log_by_doc`.
macro_rules! log_table {
    ($name:literal) => {
        concat!(
            "CREATE TABLE ",
            $name,
            " (
    offset INTEGER PRIMARY KEY,
    doc INTEGER NOT NULL REFERENCES docs (key),
    actor BLOB NOT NULL,
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    origin BLOB,
    bytes BLOB NOT NULL
) STRICT;
"
        )
    };
}

const SCHEMA: &str = concat!(
    "
CREATE TABLE relay_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    device BLOB NOT NULL,
    epoch BLOB NOT NULL,
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
",
    log_table!("log"),
    "CREATE INDEX log_by_doc ON log (doc, offset);
CREATE TABLE hashes (
    doc INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (doc, hash)
) STRICT, WITHOUT ROWID;
CREATE TABLE versions (
    doc INTEGER NOT NULL,
    actor BLOB NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (doc, actor)
) STRICT, WITHOUT ROWID;
CREATE TABLE peers (
    device BLOB PRIMARY KEY,
    label TEXT NOT NULL,
    their_epoch BLOB,
    their_offset INTEGER,
    acked INTEGER NOT NULL,
    last_contact_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"
);

/// From schema version 1: the log without its (document, writer, sequence number) index.
const MIGRATE_FROM_1: &str = concat!(
    log_table!("log_v2"),
    "INSERT INTO log_v2 (offset, doc, actor, seq, hash, origin, bytes)
    SELECT offset, doc, actor, seq, hash, origin, bytes FROM log;
DROP TABLE log;
ALTER TABLE log_v2 RENAME TO log;
CREATE INDEX log_by_doc ON log (doc, offset);
"
);

/// Documents compacted past an offset, through the index on `compacted_upto`.
const COMPACTED_AFTER: &str =
    "SELECT id FROM docs INDEXED BY docs_by_compaction WHERE compacted_upto > ?1";

const LOG_COLUMNS: &str = "l.offset, d.id, l.actor, l.seq, l.hash, l.origin, l.bytes";

/// A relay store in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    location: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .finish()
    }
}

fn ctx(op: &'static str) -> impl FnOnce(rusqlite::Error) -> RelayStoreError {
    move |source| RelayStoreError::Sqlite { op, source }
}

trait Ctx<T> {
    fn ctx(self, op: &'static str) -> Result<T, RelayStoreError>;
}

impl<T> Ctx<T> for Result<T, rusqlite::Error> {
    fn ctx(self, op: &'static str) -> Result<T, RelayStoreError> {
        self.map_err(ctx(op))
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the relay database at `path`. `full_sync` chooses
    /// `synchronous=FULL` (survives power loss) over `NORMAL` (survives a process crash).
    pub fn open(path: &Path, full_sync: bool) -> Result<Self, RelayStoreError> {
        let conn = Connection::open(path).ctx("opening the database file")?;
        Self::init(conn, path.display().to_string(), full_sync)
    }

    /// A store in memory (for tests): gone when dropped.
    pub fn open_in_memory() -> Result<Self, RelayStoreError> {
        let conn = Connection::open_in_memory().ctx("opening an in-memory database")?;
        Self::init(conn, ":memory:".into(), false)
    }

    fn init(conn: Connection, location: String, full_sync: bool) -> Result<Self, RelayStoreError> {
        conn.busy_timeout(Duration::from_secs(10))
            .ctx("setting the busy timeout")?;
        conn.set_prepared_statement_cache_capacity(64);
        let not_relay = |location: &str| RelayStoreError::NotARelayStore {
            location: location.to_string(),
        };
        let app_id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|_| not_relay(&location))?;
        if location != ":memory:" {
            conn.pragma_update(None, "journal_mode", "WAL")
                .ctx("enabling write-ahead logging")?;
        }
        conn.pragma_update(
            None,
            "synchronous",
            if full_sync { "FULL" } else { "NORMAL" },
        )
        .ctx("setting the commit durability")?;
        // Every commit touches index pages all over the log (by document, by actor and
        // sequence) and the devices' records: with SQLite's default 2 MiB page cache, a relay
        // serving a thousand busy documents spent a third of its core thread reading pages
        // back and spilling dirty ones mid-transaction.
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .ctx("setting the page cache size")?;
        let mut conn = conn;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("locking the database")?;
        let tables: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .ctx("reading the schema")?;
        if app_id == 0 && tables == 0 {
            tx.execute_batch(SCHEMA).ctx("creating the schema")?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .ctx("marking the database")?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .ctx("recording the schema version")?;
            tx.execute(
                "INSERT INTO relay_meta (id, device, epoch, created_ms, log_head)
                 VALUES (1, ?1, ?2, ?3, 0)",
                params![
                    DeviceId::random().as_bytes(),
                    Epoch::random().as_bytes(),
                    to_db("creation time", now_ms())?
                ],
            )
            .ctx("creating the relay identity")?;
        } else if app_id != APPLICATION_ID {
            return Err(not_relay(&location));
        } else {
            let found: u32 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .ctx("reading the schema version")?;
            if found > SCHEMA_VERSION {
                return Err(RelayStoreError::NewerSchema {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found < 2 {
                tx.execute_batch(MIGRATE_FROM_1)
                    .ctx("upgrading the log from schema version 1")?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                    .ctx("recording the schema version")?;
            }
        }
        tx.commit().ctx("committing the schema")?;
        Ok(Self { conn, location })
    }
}

fn doc_key(conn: &Connection, doc: &DocId) -> Result<Option<i64>, RelayStoreError> {
    conn.prepare_cached("SELECT key FROM docs WHERE id = ?1")
        .and_then(|mut s| s.query_row([doc.as_str()], |r| r.get(0)).optional())
        .ctx("looking up a document")
}

fn ensure_doc(conn: &Connection, doc: &DocId) -> Result<i64, RelayStoreError> {
    if let Some(key) = doc_key(conn, doc)? {
        return Ok(key);
    }
    conn.prepare_cached("INSERT INTO docs (id) VALUES (?1)")
        .and_then(|mut s| s.execute([doc.as_str()]))
        .ctx("creating a document")?;
    Ok(conn.last_insert_rowid())
}

/// Decodes a row of [`LOG_COLUMNS`].
fn log_entry(row: &Row<'_>) -> Result<LogEntry, RelayStoreError> {
    const OP: &str = "reading a log entry";
    let origin: Option<Vec<u8>> = row.get(5).ctx(OP)?;
    Ok(LogEntry {
        offset: from_db("log offset", row.get(0).ctx(OP)?)?,
        doc: doc_from_db(row.get(1).ctx(OP)?)?,
        actor: ActorId::from(row.get::<_, Vec<u8>>(2).ctx(OP)?),
        seq: from_db("sequence number", row.get(3).ctx(OP)?)?,
        hash: hash_from_db(&row.get::<_, Vec<u8>>(4).ctx(OP)?)?,
        origin: origin
            .map(|o| id16("origin device", &o).map(DeviceId::from_bytes))
            .transpose()?,
        bytes: row.get(6).ctx(OP)?,
    })
}

fn version_of(conn: &Connection, key: i64) -> Result<VersionVector, RelayStoreError> {
    const OP: &str = "reading a version vector";
    let mut stmt = conn
        .prepare_cached("SELECT actor, seq FROM versions WHERE doc = ?1")
        .ctx(OP)?;
    let mut rows = stmt.query([key]).ctx(OP)?;
    let mut vv = VersionVector::new();
    while let Some(row) = rows.next().ctx(OP)? {
        let actor: Vec<u8> = row.get(0).ctx(OP)?;
        vv.observe(
            &ActorId::from(actor),
            from_db("sequence number", row.get(1).ctx(OP)?)?,
        );
    }
    Ok(vv)
}

/// Raises the document's version for `actor` to `seq`; false if it was already there or
/// above (the change is stored). One statement checks and raises: the commit calls it for
/// every change, before appending it.
fn raise_version(
    conn: &Connection,
    doc: i64,
    actor: &[u8],
    seq: i64,
) -> Result<bool, RelayStoreError> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO versions (doc, actor, seq) VALUES (?1, ?2, ?3)
             ON CONFLICT (doc, actor) DO UPDATE SET seq = excluded.seq
             WHERE excluded.seq > versions.seq",
        )
        .and_then(|mut s| s.execute(params![doc, actor, seq]))
        .ctx("updating a version vector")?;
    Ok(changed > 0)
}

fn save_peer(conn: &Connection, p: &PeerRecord) -> Result<(), RelayStoreError> {
    let (epoch, offset) = match &p.their_log {
        Some((e, o)) => (
            Some(e.as_bytes().to_vec()),
            Some(to_db("peer log offset", *o)?),
        ),
        None => (None, None),
    };
    let acked = to_db("acknowledged offset", p.acked)?;
    let contact = to_db("contact time", p.last_contact_ms)?;
    conn.prepare_cached(
        "INSERT INTO peers (device, label, their_epoch, their_offset, acked, last_contact_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (device) DO UPDATE SET label = excluded.label,
             their_epoch = excluded.their_epoch, their_offset = excluded.their_offset,
             acked = excluded.acked, last_contact_ms = excluded.last_contact_ms",
    )
    .and_then(|mut s| {
        s.execute(params![
            p.peer.as_bytes(),
            p.label,
            epoch,
            offset,
            acked,
            contact
        ])
    })
    .ctx("saving a peer")?;
    Ok(())
}

impl RelayStore for SqliteStore {
    fn identity(&mut self) -> Result<StoreIdentity, RelayStoreError> {
        let (device, epoch): (Vec<u8>, Vec<u8>) = self
            .conn
            .query_row(
                "SELECT device, epoch FROM relay_meta WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx("reading the relay identity")?;
        Ok(StoreIdentity {
            device: DeviceId::from_bytes(id16("relay device id", &device)?),
            epoch: Epoch::from_bytes(id16("relay epoch", &epoch)?),
        })
    }

    fn head(&mut self) -> Result<u64, RelayStoreError> {
        let head: i64 = self
            .conn
            .prepare_cached("SELECT log_head FROM relay_meta WHERE id = 1")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .ctx("reading the log head")?;
        from_db("log head", head)
    }

    fn commit(&mut self, batch: &Batch) -> Result<Committed, RelayStoreError> {
        const OP: &str = "appending to the log";
        if batch.is_empty() {
            return Ok(Committed::default());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting a commit")?;
        let mut head: i64 = tx
            .prepare_cached("SELECT log_head FROM relay_meta WHERE id = 1")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .ctx(OP)?;
        let start = head;
        let mut offsets = Vec::with_capacity(batch.changes.len());
        let mut keys: HashMap<&DocId, i64> = HashMap::new();
        for c in &batch.changes {
            let key = match keys.get(&c.doc) {
                Some(k) => *k,
                None => {
                    let k = ensure_doc(&tx, &c.doc)?;
                    keys.insert(&c.doc, k);
                    k
                }
            };
            let seq = to_db("sequence number", c.seq)?;
            let actor = c.actor.to_bytes();
            if !raise_version(&tx, key, actor, seq)? {
                offsets.push(None);
                continue;
            }
            let offset = head.checked_add(1).ok_or(RelayStoreError::OutOfRange {
                what: "log offset",
                value: u64::MAX,
                max: i64::MAX as u64,
            })?;
            tx.prepare_cached(
                "INSERT INTO log (offset, doc, actor, seq, hash, origin, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    offset,
                    key,
                    actor,
                    seq,
                    c.hash.0.as_slice(),
                    c.origin.as_ref().map(|d| d.as_bytes().as_slice()),
                    c.bytes,
                ])
            })
            .ctx(OP)?;
            head = offset;
            offsets.push(Some(from_db("log offset", offset)?));
        }
        for p in &batch.peers {
            save_peer(&tx, p)?;
        }
        if head != start {
            tx.prepare_cached("UPDATE relay_meta SET log_head = ?1 WHERE id = 1")
                .and_then(|mut s| s.execute([head]))
                .ctx(OP)?;
        }
        tx.commit().ctx("committing")?;
        Ok(Committed {
            offsets,
            previous_head: from_db("log head", start)?,
        })
    }

    fn read_log(
        &mut self,
        after: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>, RelayStoreError> {
        const OP: &str = "reading the log";
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM log l JOIN docs d ON d.key = l.doc
             WHERE l.offset > ?1 ORDER BY l.offset LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql).ctx(OP)?;
        let limit = i64::try_from(max_entries).unwrap_or(i64::MAX);
        let mut rows = stmt.query([bound(after), limit]).ctx(OP)?;
        let mut out = Vec::new();
        let mut total = 0usize;
        while let Some(row) = rows.next().ctx(OP)? {
            let entry = log_entry(row)?;
            if !out.is_empty() && total.saturating_add(entry.bytes.len()) > max_bytes {
                break;
            }
            total = total.saturating_add(entry.bytes.len());
            out.push(entry);
        }
        Ok(out)
    }

    fn read_doc_log(
        &mut self,
        doc: &DocId,
        after: u64,
        max_entries: usize,
    ) -> Result<Vec<LogEntry>, RelayStoreError> {
        const OP: &str = "reading a document's log";
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM docs d JOIN log l ON l.doc = d.key
             WHERE d.id = ?1 AND l.offset > ?2 ORDER BY l.offset LIMIT ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql).ctx(OP)?;
        let limit = i64::try_from(max_entries).unwrap_or(i64::MAX);
        let mut rows = stmt
            .query(params![doc.as_str(), bound(after), limit])
            .ctx(OP)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().ctx(OP)? {
            out.push(log_entry(row)?);
        }
        Ok(out)
    }

    fn version(&mut self, doc: &DocId) -> Result<VersionVector, RelayStoreError> {
        match doc_key(&self.conn, doc)? {
            Some(key) => version_of(&self.conn, key),
            None => Ok(VersionVector::new()),
        }
    }

    fn versions(&mut self, prefix: &str) -> Result<Vec<(DocId, VersionVector)>, RelayStoreError> {
        const OP: &str = "reading version vectors";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.id, v.actor, v.seq FROM docs d LEFT JOIN versions v ON v.doc = d.key
                 WHERE substr(d.id, 1, length(?1)) = ?1 ORDER BY d.id",
            )
            .ctx(OP)?;
        let mut rows = stmt.query([prefix]).ctx(OP)?;
        let mut out: Vec<(DocId, VersionVector)> = Vec::new();
        while let Some(row) = rows.next().ctx(OP)? {
            let id: String = row.get(0).ctx(OP)?;
            if out.last().map(|(d, _)| d.as_str()) != Some(id.as_str()) {
                out.push((doc_from_db(id)?, VersionVector::new()));
            }
            let actor: Option<Vec<u8>> = row.get(1).ctx(OP)?;
            let seq: Option<i64> = row.get(2).ctx(OP)?;
            if let (Some(actor), Some(seq), Some((_, vv))) = (actor, seq, out.last_mut()) {
                vv.observe(&ActorId::from(actor), from_db("sequence number", seq)?);
            }
        }
        Ok(out)
    }

    fn missing(&mut self, doc: &DocId, theirs: &VersionVector) -> Result<Missing, RelayStoreError> {
        const OP: &str = "finding what a peer lacks";
        let Some(key) = doc_key(&self.conn, doc)? else {
            return Ok(Missing::default());
        };
        let mut missing = Missing::default();
        if let Some(snapshot) = self.snapshot(doc)?
            && !theirs.includes(&snapshot.version)
        {
            missing.snapshot = Some(snapshot.bytes);
        }
        let ours = version_of(&self.conn, key)?;
        // How many changes the peer lacks: each writer's are numbered without gaps.
        // Saturating: the numbers come from the disk and from the peer.
        let mut lacking = ours.iter().fold(0u64, |n, (actor, seq)| {
            n.saturating_add(seq.saturating_sub(theirs.get(actor)))
        });
        if lacking == 0 {
            return Ok(missing);
        }
        // Newest first, until all are found (no index leads with the writer: see
        // `log_table!`). A peer that lacks a few recent changes costs a few rows; one whose
        // changes were compacted into the snapshot costs the whole log after it.
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM log l JOIN docs d ON d.key = l.doc
             WHERE l.doc = ?1 ORDER BY l.offset DESC"
        );
        let mut stmt = self.conn.prepare_cached(&sql).ctx(OP)?;
        let mut rows = stmt.query(params![key]).ctx(OP)?;
        while lacking > 0
            && let Some(row) = rows.next().ctx(OP)?
        {
            let actor: Vec<u8> = row.get(2).ctx(OP)?;
            let seq = from_db("sequence number", row.get(3).ctx(OP)?)?;
            if seq > theirs.get(&ActorId::from(actor)) {
                missing.entries.push(log_entry(row)?);
                lacking -= 1;
            }
        }
        missing.entries.reverse();
        Ok(missing)
    }

    fn has_change(&mut self, doc: &DocId, hash: &ChangeHash) -> Result<bool, RelayStoreError> {
        self.conn
            .prepare_cached(
                "SELECT 1 FROM docs d WHERE d.id = ?1 AND (
                     EXISTS (SELECT 1 FROM log l WHERE l.doc = d.key AND l.hash = ?2)
                     OR EXISTS (SELECT 1 FROM hashes h WHERE h.doc = d.key AND h.hash = ?2))",
            )
            .and_then(|mut s| s.exists(params![doc.as_str(), hash.0.as_slice()]))
            .ctx("looking up a change")
    }

    fn snapshot(&mut self, doc: &DocId) -> Result<Option<Snapshot>, RelayStoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT snapshot, snapshot_version, compacted_upto FROM docs
                 WHERE id = ?1 AND snapshot IS NOT NULL",
            )
            .and_then(|mut s| {
                s.query_row([doc.as_str()], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()
            })
            .ctx("reading a snapshot")?;
        row.map(|(bytes, version, upto)| {
            Ok(Snapshot {
                bytes,
                version: decode_vv(&version.unwrap_or_default())?,
                upto: from_db("compaction offset", upto)?,
            })
        })
        .transpose()
    }

    fn compacted_after(&mut self, after: u64) -> Result<Vec<DocId>, RelayStoreError> {
        const OP: &str = "listing compacted documents";
        // Every session asks this on every poll, and the answer is almost always empty: it
        // must cost an index probe, not a scan. With `ORDER BY id` SQLite walked every document
        // in id order (to skip a sort) and looked each row up; so the index is named and the
        // few rows found are sorted here (byte order, as SQLite's BINARY collation).
        let mut stmt = self.conn.prepare_cached(COMPACTED_AFTER).ctx(OP)?;
        let mut rows = stmt.query([bound(after)]).ctx(OP)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().ctx(OP)? {
            out.push(doc_from_db(row.get(0).ctx(OP)?)?);
        }
        out.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(out)
    }

    fn load_doc(&mut self, doc: &DocId) -> Result<Option<StoredDoc>, RelayStoreError> {
        if doc_key(&self.conn, doc)?.is_none() {
            return Ok(None);
        }
        let snapshot = self.snapshot(doc)?;
        let tail = self.read_doc_log(doc, 0, usize::MAX)?;
        Ok(Some(StoredDoc { snapshot, tail }))
    }

    fn compact(
        &mut self,
        doc: &DocId,
        snapshot: &[u8],
        version: &VersionVector,
        upto: u64,
    ) -> Result<(), RelayStoreError> {
        const OP: &str = "compacting a document";
        let head = self.head()?;
        if upto > head {
            return Err(RelayStoreError::OutOfRange {
                what: "compaction offset",
                value: upto,
                max: head,
            });
        }
        let upto = to_db("compaction offset", upto)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting a compaction")?;
        let key = ensure_doc(&tx, doc)?;
        tx.prepare_cached(
            "UPDATE docs SET snapshot = ?2, snapshot_version = ?3,
                 compacted_upto = max(compacted_upto, ?4) WHERE key = ?1",
        )
        .and_then(|mut s| s.execute(params![key, snapshot, encode_vv(version), upto]))
        .ctx(OP)?;
        tx.prepare_cached(
            "INSERT INTO hashes (doc, hash) SELECT doc, hash FROM log
             WHERE doc = ?1 AND offset <= ?2 ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![key, upto]))
        .ctx(OP)?;
        tx.prepare_cached("DELETE FROM log WHERE doc = ?1 AND offset <= ?2")
            .and_then(|mut s| s.execute(params![key, upto]))
            .ctx(OP)?;
        for (actor, seq) in version.iter() {
            raise_version(&tx, key, actor.to_bytes(), to_db("sequence number", seq)?)?;
        }
        tx.commit().ctx("committing a compaction")
    }

    fn tail_len(&mut self, doc: &DocId) -> Result<u64, RelayStoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM log WHERE doc = (SELECT key FROM docs WHERE id = ?1)",
            )
            .and_then(|mut s| s.query_row([doc.as_str()], |r| r.get(0)))
            .ctx("counting a document's log")?;
        from_db("change count", n)
    }

    fn checkpoint_elsewhere(&mut self) -> Result<(), RelayStoreError> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .ctx("turning off automatic checkpoints")
    }

    fn checkpoint(&mut self) -> Result<u64, RelayStoreError> {
        // Busy (another checkpoint running) or partial (a reader holds old frames) is fine:
        // the next call goes on from there. The row is (busy, pages in the log, pages folded).
        let frames: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .ctx("checkpointing the write-ahead log")?;
        Ok(u64::try_from(frames).unwrap_or(0))
    }

    fn doc_count(&mut self) -> Result<u64, RelayStoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM docs")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .ctx("counting documents")?;
        from_db("document count", n)
    }

    fn peer(&mut self, peer: &DeviceId) -> Result<Option<PeerRecord>, RelayStoreError> {
        const OP: &str = "reading a peer";
        let row = self
            .conn
            .prepare_cached(
                "SELECT label, their_epoch, their_offset, acked, last_contact_ms FROM peers
                 WHERE device = ?1",
            )
            .and_then(|mut s| {
                s.query_row([peer.as_bytes()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
                .optional()
            })
            .ctx(OP)?;
        let Some((label, epoch, offset, acked, contact)) = row else {
            return Ok(None);
        };
        let their_log = match (epoch, offset) {
            (Some(e), Some(o)) => Some((
                Epoch::from_bytes(id16("peer epoch", &e)?),
                from_db("peer log offset", o)?,
            )),
            _ => None,
        };
        Ok(Some(PeerRecord {
            peer: *peer,
            label,
            their_log,
            acked: from_db("acknowledged offset", acked)?,
            last_contact_ms: from_db("contact time", contact)?,
            // A relay never streams before a hello (it does not know who connects).
            interest: None,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `compacted_after` runs on every poll of every session: it must probe the index, not
    /// scan the documents.
    #[test]
    fn compacted_after_probes_the_index() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {COMPACTED_AFTER}"))
            .unwrap()
            .query_map([0i64], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|p| p.contains("USING INDEX docs_by_compaction")
                    || p.contains("USING COVERING INDEX docs_by_compaction")),
            "plan: {plan:?}"
        );
        assert!(store.compacted_after(0).unwrap().is_empty());
    }
}
