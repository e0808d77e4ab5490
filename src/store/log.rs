//! The change log: appending (the hot path of every write), reading it in offset order, and
//! answering what a peer lacks of one document.

use std::collections::HashMap;

use automerge::ActorId;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::docs::{ensure_actor, ensure_doc_with_snapshot, raise_version};
use super::error::{Context, StoreError};
use super::values::{self, bound, from_sql, to_sql};
use super::{LogEntry, Missing, NewEntry, Store};
use crate::{DocId, VersionVector};

/// Skips (doc, actor, seq) already logged; an offset conflict would be a bug and fails loudly.
const INSERT: &str = "INSERT INTO log (offset, doc, actor, seq, hash, origin, bytes)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (doc, actor, seq) DO NOTHING";

impl Store {
    /// Appends changes in one transaction (creating documents as needed and updating version
    /// vectors). Entries whose (doc, actor, seq) is already held — logged, or compacted into
    /// the document's snapshot — are skipped, whatever their hash. Returns the offset given to
    /// each entry (`None` for skipped ones). Durable when it returns.
    ///
    /// Group changes into batches: the cost of a call is dominated by its commit.
    pub fn append(&mut self, entries: &[NewEntry<'_>]) -> Result<Vec<Option<u64>>, StoreError> {
        const OP: &str = "appending to the log";
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting an append")?;
        let mut offsets = Vec::with_capacity(entries.len());
        let mut head = self.head;
        {
            // Keys looked up in this batch, and the highest seq appended per (doc, actor).
            let mut docs: HashMap<&DocId, (i64, VersionVector)> = HashMap::new();
            let mut actors: HashMap<&ActorId, i64> = HashMap::new();
            let mut highest: HashMap<(i64, i64), i64> = HashMap::new();
            let mut insert = tx.prepare_cached(INSERT).ctx(OP)?;
            for entry in entries {
                let (doc, compacted) = match docs.get(entry.doc) {
                    Some(known) => known,
                    None => {
                        let known = ensure_doc_with_snapshot(&tx, entry.doc)?;
                        docs.entry(entry.doc).or_insert(known)
                    }
                };
                let doc = *doc;
                if entry.seq <= compacted.get(entry.actor) {
                    // Its log row was compacted away, but the snapshot holds it.
                    offsets.push(None);
                    continue;
                }
                let actor = match actors.get(entry.actor) {
                    Some(key) => *key,
                    None => {
                        let key = ensure_actor(&tx, entry.actor)?;
                        actors.insert(entry.actor, key);
                        key
                    }
                };
                let seq = to_sql("sequence number", entry.seq)?;
                let offset = head.saturating_add(1);
                let inserted = insert
                    .execute(params![
                        to_sql("log offset", offset)?,
                        doc,
                        actor,
                        seq,
                        entry.hash.0.as_slice(),
                        entry.origin.as_ref().map(|d| d.as_bytes().as_slice()),
                        entry.bytes,
                    ])
                    .ctx(OP)?;
                if inserted == 0 {
                    offsets.push(None);
                    continue;
                }
                head = offset;
                offsets.push(Some(offset));
                let top = highest.entry((doc, actor)).or_insert(seq);
                *top = (*top).max(seq);
            }
            for ((doc, actor), seq) in highest {
                raise_version(&tx, doc, actor, seq)?;
            }
            if head != self.head {
                let head = to_sql("log offset", head)?;
                tx.prepare_cached("UPDATE meta SET log_head = ?1 WHERE id = 1")
                    .and_then(|mut stmt| stmt.execute([head]))
                    .ctx(OP)?;
            }
        }
        tx.commit().ctx("committing an append")?;
        self.head = head;
        Ok(offsets)
    }

    /// The offset of the change `hash` if the log holds it as `actor`'s change `seq` to `doc`
    /// (`None` otherwise, and once compaction has folded it into a snapshot). One index lookup.
    pub fn logged_offset(
        &self,
        doc: &DocId,
        actor: &ActorId,
        seq: u64,
        hash: &automerge::ChangeHash,
    ) -> Result<Option<u64>, StoreError> {
        const OP: &str = "looking up a logged change";
        let seq = to_sql("sequence number", seq)?;
        let row = self
            .conn
            .prepare_cached(
                "SELECT l.offset, l.hash FROM log l
                 JOIN docs d ON d.key = l.doc JOIN actors a ON a.key = l.actor
                 WHERE d.id = ?1 AND a.id = ?2 AND l.seq = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![doc.as_str(), actor.to_bytes(), seq], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()
            })
            .ctx(OP)?;
        Ok(match row {
            Some((offset, logged)) if logged == hash.0 => Some(from_sql("log offset", offset)?),
            _ => None,
        })
    }

    /// The highest offset ever given in the log (0 when empty). It never goes backwards, not
    /// even when compaction deletes the newest entries.
    pub fn log_head(&self) -> u64 {
        self.head
    }

    /// Log entries with offset > `after`, in order, at most `max_entries` of them and at most
    /// `max_bytes` of change bytes in all — except that the first entry is returned even if it
    /// alone is larger, so a reader always makes progress.
    pub fn read_log(
        &self,
        after: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        const OP: &str = "reading the log";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT l.offset, l.seq, l.hash, l.origin, l.bytes, d.id, a.id
                 FROM log l CROSS JOIN docs d ON d.key = l.doc
                 CROSS JOIN actors a ON a.key = l.actor
                 WHERE l.offset > ?1 ORDER BY l.offset LIMIT ?2",
            )
            .ctx(OP)?;
        let limit = i64::try_from(max_entries).unwrap_or(i64::MAX);
        let mut rows = stmt.query([bound(after), limit]).ctx(OP)?;
        let mut entries = Vec::new();
        let mut total = 0usize;
        while let Some(row) = rows.next().ctx(OP)? {
            let len = row
                .get_ref(4)
                .and_then(|v| Ok(v.as_blob()?.len()))
                .ctx(OP)?;
            if !entries.is_empty() && total.saturating_add(len) > max_bytes {
                break;
            }
            total = total.saturating_add(len);
            let doc = values::doc_id(row.get(5).ctx(OP)?)?;
            let actor = ActorId::from(row.get::<_, Vec<u8>>(6).ctx(OP)?);
            entries.push(entry(row, doc, actor)?);
        }
        Ok(entries)
    }

    /// What a peer holding `theirs` of `doc` lacks: the logged changes with a higher seq than
    /// `theirs` has for their actor, in log (causal) order, and the snapshot when `theirs`
    /// does not include what the snapshot holds (some change it needs exists only there).
    pub fn missing(&self, doc: &DocId, theirs: &VersionVector) -> Result<Missing, StoreError> {
        const OP: &str = "finding what a peer lacks";
        let row = self
            .conn
            .prepare_cached("SELECT key, snapshot_version FROM docs WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([doc.as_str()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
                })
                .optional()
            })
            .ctx(OP)?;
        let Some((key, snapshot_version)) = row else {
            return Ok(Missing::default());
        };
        let mut missing = Missing::default();
        if let Some(version) = snapshot_version
            && !theirs.includes(&values::decode_vv(&version)?)
        {
            missing.snapshot = self
                .conn
                .prepare_cached("SELECT snapshot FROM docs WHERE key = ?1")
                .and_then(|mut stmt| stmt.query_row([key], |r| r.get(0)))
                .ctx(OP)?;
        }

        // Per actor we are ahead on, a range scan of the (doc, actor, seq) index.
        let mut ours = self
            .conn
            .prepare_cached(
                "SELECT v.actor, a.id, v.seq FROM versions v JOIN actors a ON a.key = v.actor
                 WHERE v.doc = ?1",
            )
            .ctx(OP)?;
        let mut changes = self
            .conn
            .prepare_cached(
                "SELECT offset, seq, hash, origin, bytes FROM log
                 WHERE doc = ?1 AND actor = ?2 AND seq > ?3",
            )
            .ctx(OP)?;
        let mut rows = ours.query([key]).ctx(OP)?;
        while let Some(row) = rows.next().ctx(OP)? {
            let actor_key: i64 = row.get(0).ctx(OP)?;
            let actor = ActorId::from(row.get::<_, Vec<u8>>(1).ctx(OP)?);
            let seq = from_sql("sequence number", row.get(2).ctx(OP)?)?;
            let have = theirs.get(&actor);
            if seq <= have {
                continue;
            }
            let mut logged = changes
                .query(params![key, actor_key, bound(have)])
                .ctx(OP)?;
            while let Some(row) = logged.next().ctx(OP)? {
                missing
                    .entries
                    .push(entry(row, doc.clone(), actor.clone())?);
            }
        }
        missing.entries.sort_unstable_by_key(|e| e.offset);
        Ok(missing)
    }
}

/// Decodes a row that starts with `offset, seq, hash, origin, bytes`.
fn entry(row: &Row<'_>, doc: DocId, actor: ActorId) -> Result<LogEntry, StoreError> {
    const OP: &str = "reading a log entry";
    let hash = row
        .get_ref(2)
        .and_then(|v| Ok(values::hash(v.as_blob()?)))
        .ctx(OP)??;
    let origin = match row
        .get_ref(3)
        .and_then(|v| Ok(v.as_blob_or_null()?))
        .ctx(OP)?
    {
        Some(bytes) => Some(values::device("origin device id", bytes)?),
        None => None,
    };
    Ok(LogEntry {
        offset: from_sql("log offset", row.get(0).ctx(OP)?)?,
        doc,
        actor,
        seq: from_sql("sequence number", row.get(1).ctx(OP)?)?,
        hash,
        origin,
        bytes: row.get(4).ctx(OP)?,
    })
}
