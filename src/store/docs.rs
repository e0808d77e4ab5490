//! Documents: registration, version vectors, snapshots and compaction.

use automerge::ActorId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::error::{Context, StoreError};
use super::values::{self, bound, from_sql, to_sql};
use super::{HistorySize, Store, StoredDoc};
use crate::{DocId, VersionVector};

impl Store {
    /// All document ids, sorted.
    pub fn doc_ids(&self) -> Result<Vec<DocId>, StoreError> {
        const OP: &str = "listing documents";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM docs ORDER BY id")
            .ctx(OP)?;
        let mut rows = stmt.query([]).ctx(OP)?;
        let mut ids = Vec::new();
        while let Some(row) = rows.next().ctx(OP)? {
            ids.push(values::doc_id(row.get(0).ctx(OP)?)?);
        }
        Ok(ids)
    }

    /// Registers a document (idempotent). Returns whether it was new.
    pub fn create_doc(&mut self, doc: &DocId) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting to create a document")?;
        let created = tx
            .prepare_cached("INSERT INTO docs (id) VALUES (?1) ON CONFLICT (id) DO NOTHING")
            .and_then(|mut stmt| stmt.execute([doc.as_str()]))
            .ctx("creating a document")?
            == 1;
        tx.commit().ctx("committing a new document")?;
        Ok(created)
    }

    /// Reads a document's snapshot and tail, or `None` if it does not exist.
    pub fn load_doc(&self, doc: &DocId) -> Result<Option<StoredDoc>, StoreError> {
        const OP: &str = "loading a document";
        let row = self
            .conn
            .prepare_cached("SELECT key, snapshot FROM docs WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([doc.as_str()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
                })
                .optional()
            })
            .ctx(OP)?;
        let Some((key, snapshot)) = row else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM log WHERE doc = ?1 ORDER BY offset")
            .ctx(OP)?;
        let mut rows = stmt.query([key]).ctx(OP)?;
        let mut tail = Vec::new();
        while let Some(row) = rows.next().ctx(OP)? {
            tail.push(row.get(0).ctx(OP)?);
        }
        Ok(Some(StoredDoc {
            snapshot,
            tail,
            version: version_of(&self.conn, key)?,
        }))
    }

    /// What a document holds (empty when unknown).
    pub fn version(&self, doc: &DocId) -> Result<VersionVector, StoreError> {
        match doc_key(&self.conn, doc)? {
            Some(key) => version_of(&self.conn, key),
            None => Ok(VersionVector::new()),
        }
    }

    /// The version vectors of those of `docs` this store holds, in the order given (one
    /// index lookup each, whatever the number of documents stored).
    pub fn versions_of(&self, docs: &[DocId]) -> Result<Vec<(DocId, VersionVector)>, StoreError> {
        let mut out = Vec::with_capacity(docs.len());
        for doc in docs {
            if let Some(key) = doc_key(&self.conn, doc)? {
                out.push((doc.clone(), version_of(&self.conn, key)?));
            }
        }
        Ok(out)
    }

    /// Every document's version vector, for documents whose id `want` accepts, sorted by id.
    /// Documents that hold nothing yet are listed with an empty vector.
    pub fn versions(
        &self,
        want: &dyn Fn(&DocId) -> bool,
    ) -> Result<Vec<(DocId, VersionVector)>, StoreError> {
        const OP: &str = "reading version vectors";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.id, a.id, v.seq FROM docs d
                 LEFT JOIN versions v ON v.doc = d.key
                 LEFT JOIN actors a ON a.key = v.actor
                 ORDER BY d.id",
            )
            .ctx(OP)?;
        let mut rows = stmt.query([]).ctx(OP)?;
        let mut out: Vec<(DocId, VersionVector)> = Vec::new();
        // Whether the document being read (the last one seen) is wanted.
        let mut wanted = false;
        let mut current: Option<DocId> = None;
        while let Some(row) = rows.next().ctx(OP)? {
            let id: String = row.get(0).ctx(OP)?;
            if current.as_ref().map(DocId::as_str) != Some(id.as_str()) {
                let doc = values::doc_id(id)?;
                wanted = want(&doc);
                if wanted {
                    out.push((doc.clone(), VersionVector::new()));
                }
                current = Some(doc);
            }
            let actor: Option<Vec<u8>> = row.get(1).ctx(OP)?;
            let seq: Option<i64> = row.get(2).ctx(OP)?;
            if let (true, Some(actor), Some(seq), Some((_, vv))) =
                (wanted, actor, seq, out.last_mut())
            {
                vv.observe(&ActorId::from(actor), from_sql("sequence number", seq)?);
            }
        }
        Ok(out)
    }

    /// Documents compacted at an offset greater than `after` (a peer whose cursor is `after`
    /// needs their snapshots: some changes after its cursor exist only there). Sorted by id.
    pub fn compacted_after(&self, after: u64) -> Result<Vec<DocId>, StoreError> {
        const OP: &str = "listing compacted documents";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM docs WHERE compacted_upto > ?1 ORDER BY id")
            .ctx(OP)?;
        let mut rows = stmt.query([bound(after)]).ctx(OP)?;
        let mut ids = Vec::new();
        while let Some(row) = rows.next().ctx(OP)? {
            ids.push(values::doc_id(row.get(0).ctx(OP)?)?);
        }
        Ok(ids)
    }

    /// The document's snapshot and the offset it covers the log up to.
    pub fn snapshot(&self, doc: &DocId) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT snapshot, compacted_upto FROM docs
                 WHERE id = ?1 AND snapshot IS NOT NULL",
            )
            .and_then(|mut stmt| {
                stmt.query_row([doc.as_str()], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
                })
                .optional()
            })
            .ctx("reading a snapshot")?;
        row.map(|(bytes, upto)| Ok((bytes, from_sql("compaction offset", upto)?)))
            .transpose()
    }

    /// Replaces the document's logged changes up to `upto` (a log offset) with `snapshot`,
    /// which must contain them all (and whatever an earlier snapshot held); `version` is what
    /// the snapshot holds. Space is reclaimed. `upto` may not pass [`Store::log_head`]; a
    /// smaller `upto` than an earlier compaction's keeps the larger one.
    pub fn compact(
        &mut self,
        doc: &DocId,
        snapshot: &[u8],
        version: &VersionVector,
        upto: u64,
    ) -> Result<(), StoreError> {
        const OP: &str = "compacting a document";
        if upto > self.head {
            return Err(StoreError::OutOfRange {
                what: "compaction offset",
                value: upto,
                max: self.head,
            });
        }
        let upto = to_sql("compaction offset", upto)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting a compaction")?;
        let key = ensure_doc(&tx, doc)?;
        tx.prepare_cached(
            "UPDATE docs SET snapshot = ?2, snapshot_version = ?3,
                 compacted_upto = max(compacted_upto, ?4)
             WHERE key = ?1",
        )
        .and_then(|mut stmt| stmt.execute(params![key, snapshot, values::encode_vv(version), upto]))
        .ctx(OP)?;
        tx.prepare_cached("DELETE FROM log WHERE doc = ?1 AND offset <= ?2")
            .and_then(|mut stmt| stmt.execute(params![key, upto]))
            .ctx(OP)?;
        for (actor, seq) in version.iter() {
            let actor = ensure_actor(&tx, actor)?;
            raise_version(&tx, key, actor, to_sql("sequence number", seq)?)?;
        }
        tx.commit().ctx("committing a compaction")?;
        self.reclaim_space()
    }

    /// Number of logged (not compacted) changes of a document and their total bytes.
    pub fn tail_stats(&self, doc: &DocId) -> Result<(u64, u64), StoreError> {
        let (count, bytes) = self
            .conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(length(bytes)), 0) FROM log
                 WHERE doc = (SELECT key FROM docs WHERE id = ?1)",
            )
            .and_then(|mut stmt| {
                stmt.query_row([doc.as_str()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                })
            })
            .ctx("measuring a document's log")?;
        Ok((
            from_sql("change count", count)?,
            from_sql("byte count", bytes)?,
        ))
    }

    /// Documents with at least `min_changes` logged (not compacted) changes, or at least
    /// `min_bytes` of them, with the size of their log and of their snapshot, sorted by id. One
    /// pass over the log.
    pub fn long_histories(
        &self,
        min_changes: u64,
        min_bytes: u64,
    ) -> Result<Vec<HistorySize>, StoreError> {
        const OP: &str = "measuring documents' logs";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.id, l.n, l.bytes, coalesce(length(d.snapshot), 0)
                 FROM (SELECT doc, count(*) AS n, sum(length(bytes)) AS bytes FROM log
                       GROUP BY doc HAVING count(*) >= ?1 OR sum(length(bytes)) >= ?2) l
                 JOIN docs d ON d.key = l.doc
                 ORDER BY d.id",
            )
            .ctx(OP)?;
        let mut rows = stmt.query([bound(min_changes), bound(min_bytes)]).ctx(OP)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().ctx(OP)? {
            out.push(HistorySize {
                doc: values::doc_id(row.get(0).ctx(OP)?)?,
                logged_changes: from_sql("change count", row.get(1).ctx(OP)?)?,
                logged_bytes: from_sql("byte count", row.get(2).ctx(OP)?)?,
                snapshot_bytes: from_sql("snapshot size", row.get(3).ctx(OP)?)?,
            });
        }
        Ok(out)
    }

    /// Gives the pages that deleted rows freed back to the file system.
    pub(super) fn reclaim_space(&mut self) -> Result<(), StoreError> {
        const OP: &str = "reclaiming free space";
        // The pragma frees one page per result row: step it to the end.
        let mut stmt = self.conn.prepare("PRAGMA incremental_vacuum").ctx(OP)?;
        let mut rows = stmt.query([]).ctx(OP)?;
        while rows.next().ctx(OP)?.is_some() {}
        // Copies the WAL into the (now shorter) file and truncates both; a no-op in memory.
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .ctx(OP)
    }
}

/// The key of a document, if it exists.
pub(super) fn doc_key(conn: &Connection, doc: &DocId) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT key FROM docs WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([doc.as_str()], |r| r.get(0)).optional())
        .ctx("looking up a document")
}

/// The key of a document, registering it if needed (call inside a write transaction).
pub(super) fn ensure_doc(conn: &Connection, doc: &DocId) -> Result<i64, StoreError> {
    if let Some(key) = doc_key(conn, doc)? {
        return Ok(key);
    }
    conn.prepare_cached("INSERT INTO docs (id) VALUES (?1)")
        .and_then(|mut stmt| stmt.execute([doc.as_str()]))
        .ctx("creating a document")?;
    Ok(conn.last_insert_rowid())
}

/// Like [`ensure_doc`], with what the document's snapshot holds (empty if it has none).
pub(super) fn ensure_doc_with_snapshot(
    conn: &Connection,
    doc: &DocId,
) -> Result<(i64, VersionVector), StoreError> {
    let row = conn
        .prepare_cached("SELECT key, snapshot_version FROM docs WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([doc.as_str()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
            })
            .optional()
        })
        .ctx("looking up a document")?;
    match row {
        Some((key, Some(version))) => Ok((key, values::decode_vv(&version)?)),
        Some((key, None)) => Ok((key, VersionVector::new())),
        None => Ok((ensure_doc(conn, doc)?, VersionVector::new())),
    }
}

/// The key of an actor, registering it if needed (call inside a write transaction).
pub(super) fn ensure_actor(conn: &Connection, actor: &ActorId) -> Result<i64, StoreError> {
    let key = conn
        .prepare_cached("SELECT key FROM actors WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([actor.to_bytes()], |r| r.get(0)).optional())
        .ctx("looking up an actor")?;
    if let Some(key) = key {
        return Ok(key);
    }
    conn.prepare_cached("INSERT INTO actors (id) VALUES (?1)")
        .and_then(|mut stmt| stmt.execute([actor.to_bytes()]))
        .ctx("registering an actor")?;
    Ok(conn.last_insert_rowid())
}

/// Records that the store holds `actor`'s changes of `doc` up to `seq` (never lowers it).
pub(super) fn raise_version(
    conn: &Connection,
    doc: i64,
    actor: i64,
    seq: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO versions (doc, actor, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (doc, actor) DO UPDATE SET seq = max(seq, excluded.seq)",
    )
    .and_then(|mut stmt| stmt.execute([doc, actor, seq]))
    .ctx("updating a version vector")?;
    Ok(())
}

/// The version vector of the document with key `doc`.
pub(super) fn version_of(conn: &Connection, doc: i64) -> Result<VersionVector, StoreError> {
    const OP: &str = "reading a version vector";
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.id, v.seq FROM versions v JOIN actors a ON a.key = v.actor
             WHERE v.doc = ?1",
        )
        .ctx(OP)?;
    let mut rows = stmt.query([doc]).ctx(OP)?;
    let mut vv = VersionVector::new();
    while let Some(row) = rows.next().ctx(OP)? {
        let actor: Vec<u8> = row.get(0).ctx(OP)?;
        let seq = from_sql("sequence number", row.get(1).ctx(OP)?)?;
        vv.observe(&ActorId::from(actor), seq);
    }
    Ok(vv)
}
