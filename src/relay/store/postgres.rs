//! The PostgreSQL backend, on the synchronous `postgres` driver.
//!
//! Why the synchronous driver: the relay's core runs on its own thread and calls the store
//! synchronously (the sync protocol's host interface is blocking), so an async driver would
//! only add a runtime hop per query. The `postgres` crate runs its own small runtime inside;
//! it must not be called from within a Tokio runtime thread, and the relay never does.
//!
//! A commit takes the `relay_meta` row `FOR UPDATE`, hands out offsets from its `log_head`,
//! writes the batch with a few array (`UNNEST`) statements, and sends `NOTIFY polyarch_log,
//! '<new head>'`, which PostgreSQL delivers to listeners only once the transaction commits.
//! Relays over the same database listen on that channel ([`PgListener`]) to wake their
//! sessions.

use std::collections::HashMap;
use std::time::Duration;

use ::postgres::fallible_iterator::FallibleIterator;
use ::postgres::{Client, NoTls, Row};
use automerge::{ActorId, ChangeHash};

use super::{
    Batch, Committed, RelayStore, RelayStoreError, SCHEMA_VERSION, Snapshot, StoreIdentity,
    StoredDoc, bound, decode_vv, doc_from_db, encode_vv, from_db, hash_from_db, highest_seqs, id16,
    now_ms, to_db,
};
use crate::store::{LogEntry, Missing, PeerRecord};
use crate::{DeviceId, DocId, Epoch, VersionVector};

/// The notification channel relays listen on.
pub const CHANNEL: &str = "polyarch_log";

/// Advisory lock key taken while creating the schema (`"PLYR"`).
const INIT_LOCK: i64 = 0x504C_5952;

const SCHEMA: &str = "
CREATE TABLE relay_meta (
    id integer PRIMARY KEY CHECK (id = 1),
    schema_version integer NOT NULL,
    device bytea NOT NULL,
    epoch bytea NOT NULL,
    created_ms bigint NOT NULL,
    log_head bigint NOT NULL
);
CREATE TABLE docs (
    key bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    compacted_upto bigint NOT NULL DEFAULT 0,
    snapshot_version bytea,
    snapshot bytea
);
CREATE INDEX docs_by_compaction ON docs (compacted_upto);
CREATE TABLE log (
    \"offset\" bigint PRIMARY KEY,
    doc bigint NOT NULL REFERENCES docs (key),
    actor bytea NOT NULL,
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    origin bytea,
    bytes bytea NOT NULL,
    UNIQUE (doc, actor, seq)
);
CREATE INDEX log_by_doc ON log (doc, \"offset\");
CREATE TABLE hashes (
    doc bigint NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (doc, hash)
);
CREATE TABLE versions (
    doc bigint NOT NULL,
    actor bytea NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (doc, actor)
);
CREATE TABLE peers (
    device bytea PRIMARY KEY,
    label text NOT NULL,
    their_epoch bytea,
    their_offset bigint,
    acked bigint NOT NULL,
    last_contact_ms bigint NOT NULL
);
";

const LOG_COLUMNS: &str = "l.\"offset\", d.id, l.actor, l.seq, l.hash, l.origin, l.bytes";

fn pg(op: &'static str) -> impl FnOnce(::postgres::Error) -> RelayStoreError {
    move |source| RelayStoreError::Postgres { op, source }
}

/// A relay store in a PostgreSQL database. Several relays may share one database.
pub struct PgStore {
    client: Client,
    /// Document keys already committed (documents are never deleted).
    keys: HashMap<DocId, i64>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`; no TLS) and creates the schema if the
    /// database has none.
    pub fn connect(url: &str) -> Result<Self, RelayStoreError> {
        let mut client = Client::connect(url, NoTls).map_err(pg("connecting"))?;
        let mut tx = client.transaction().map_err(pg("starting the setup"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INIT_LOCK])
            .map_err(pg("locking the setup"))?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('relay_meta') IS NOT NULL", &[])
            .and_then(|r| r.try_get(0))
            .map_err(pg("reading the schema"))?;
        if exists {
            let found: i32 = tx
                .query_one("SELECT schema_version FROM relay_meta WHERE id = 1", &[])
                .and_then(|r| r.try_get(0))
                .map_err(|_| RelayStoreError::NotARelayStore {
                    location: redact(url),
                })?;
            let found = u32::try_from(found).unwrap_or(u32::MAX);
            if found > SCHEMA_VERSION {
                return Err(RelayStoreError::NewerSchema {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found < SCHEMA_VERSION {
                // Version 2 changed nothing here.
                let version = i32::try_from(SCHEMA_VERSION).unwrap_or(i32::MAX);
                tx.execute(
                    "UPDATE relay_meta SET schema_version = $1 WHERE id = 1",
                    &[&version],
                )
                .map_err(pg("recording the schema version"))?;
            }
        } else {
            tx.batch_execute(SCHEMA)
                .map_err(pg("creating the schema"))?;
            let version = i32::try_from(SCHEMA_VERSION).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO relay_meta (id, schema_version, device, epoch, created_ms, log_head)
                 VALUES (1, $1, $2, $3, $4, 0)",
                &[
                    &version,
                    &DeviceId::random().as_bytes().as_slice(),
                    &Epoch::random().as_bytes().as_slice(),
                    &to_db("creation time", now_ms())?,
                ],
            )
            .map_err(pg("creating the relay identity"))?;
        }
        tx.commit().map_err(pg("committing the setup"))?;
        Ok(Self {
            client,
            keys: HashMap::new(),
        })
    }

    fn doc_key(&mut self, doc: &DocId) -> Result<Option<i64>, RelayStoreError> {
        if let Some(k) = self.keys.get(doc) {
            return Ok(Some(*k));
        }
        let row = self
            .client
            .query_opt("SELECT key FROM docs WHERE id = $1", &[&doc.as_str()])
            .map_err(pg("looking up a document"))?;
        let key = row
            .map(|r| r.try_get::<_, i64>(0))
            .transpose()
            .map_err(pg("reading a key"))?;
        if let Some(k) = key {
            self.keys.insert(doc.clone(), k);
        }
        Ok(key)
    }
}

/// The connection string without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = url.get(s + 3..at).unwrap_or("");
            let user = creds.split(':').next().unwrap_or("");
            format!(
                "{}{}@{}",
                url.get(..s + 3).unwrap_or(""),
                user,
                url.get(at + 1..).unwrap_or("")
            )
        }
        _ => url.to_string(),
    }
}

fn log_entry(row: &Row) -> Result<LogEntry, RelayStoreError> {
    let op = "reading a log entry";
    let origin: Option<Vec<u8>> = row.try_get(5).map_err(pg(op))?;
    Ok(LogEntry {
        offset: from_db("log offset", row.try_get(0).map_err(pg(op))?)?,
        doc: doc_from_db(row.try_get(1).map_err(pg(op))?)?,
        actor: ActorId::from(row.try_get::<_, Vec<u8>>(2).map_err(pg(op))?),
        seq: from_db("sequence number", row.try_get(3).map_err(pg(op))?)?,
        hash: hash_from_db(&row.try_get::<_, Vec<u8>>(4).map_err(pg(op))?)?,
        origin: origin
            .map(|o| id16("origin device", &o).map(DeviceId::from_bytes))
            .transpose()?,
        bytes: row.try_get(6).map_err(pg(op))?,
    })
}

fn version_of(client: &mut Client, key: i64) -> Result<VersionVector, RelayStoreError> {
    let op = "reading a version vector";
    let rows = client
        .query("SELECT actor, seq FROM versions WHERE doc = $1", &[&key])
        .map_err(pg(op))?;
    let mut vv = VersionVector::new();
    for row in rows {
        let actor: Vec<u8> = row.try_get(0).map_err(pg(op))?;
        vv.observe(
            &ActorId::from(actor),
            from_db("sequence number", row.try_get(1).map_err(pg(op))?)?,
        );
    }
    Ok(vv)
}

impl RelayStore for PgStore {
    fn identity(&mut self) -> Result<StoreIdentity, RelayStoreError> {
        let op = "reading the relay identity";
        let row = self
            .client
            .query_one("SELECT device, epoch FROM relay_meta WHERE id = 1", &[])
            .map_err(pg(op))?;
        let device: Vec<u8> = row.try_get(0).map_err(pg(op))?;
        let epoch: Vec<u8> = row.try_get(1).map_err(pg(op))?;
        Ok(StoreIdentity {
            device: DeviceId::from_bytes(id16("relay device id", &device)?),
            epoch: Epoch::from_bytes(id16("relay epoch", &epoch)?),
        })
    }

    fn head(&mut self) -> Result<u64, RelayStoreError> {
        let head: i64 = self
            .client
            .query_one("SELECT log_head FROM relay_meta WHERE id = 1", &[])
            .and_then(|r| r.try_get(0))
            .map_err(pg("reading the log head"))?;
        from_db("log head", head)
    }

    fn commit(&mut self, batch: &Batch) -> Result<Committed, RelayStoreError> {
        let op = "appending to the log";
        if batch.is_empty() {
            return Ok(Committed::default());
        }
        let mut tx = self.client.transaction().map_err(pg("starting a commit"))?;
        // The counter row's lock serialises appends across relays: offsets commit in order.
        let head: i64 = tx
            .query_one(
                "SELECT log_head FROM relay_meta WHERE id = 1 FOR UPDATE",
                &[],
            )
            .and_then(|r| r.try_get(0))
            .map_err(pg(op))?;
        let mut offsets = vec![None; batch.changes.len()];
        let mut new_head = head;
        if !batch.changes.is_empty() {
            let ids: Vec<&str> = batch.changes.iter().map(|c| c.doc.as_str()).collect();
            tx.execute(
                "INSERT INTO docs (id) SELECT * FROM UNNEST($1::text[]) ON CONFLICT (id) DO NOTHING",
                &[&ids],
            )
            .map_err(pg("creating documents"))?;
            let mut keys: HashMap<String, i64> = HashMap::new();
            for row in tx
                .query("SELECT id, key FROM docs WHERE id = ANY($1)", &[&ids])
                .map_err(pg("looking up documents"))?
            {
                keys.insert(
                    row.try_get(0).map_err(pg(op))?,
                    row.try_get(1).map_err(pg(op))?,
                );
            }
            let key_of = |doc: &DocId| {
                keys.get(doc.as_str())
                    .copied()
                    .ok_or(RelayStoreError::Corrupt {
                        what: "document key",
                        detail: format!("document {doc} vanished during a commit"),
                    })
            };
            let n = i64::try_from(batch.changes.len()).unwrap_or(i64::MAX);
            let mut col_offset = Vec::with_capacity(batch.changes.len());
            let mut col_doc = Vec::with_capacity(batch.changes.len());
            let mut col_actor = Vec::with_capacity(batch.changes.len());
            let mut col_seq = Vec::with_capacity(batch.changes.len());
            let mut col_hash = Vec::with_capacity(batch.changes.len());
            let mut col_origin = Vec::with_capacity(batch.changes.len());
            let mut col_bytes = Vec::with_capacity(batch.changes.len());
            for (i, c) in (1..=n).zip(&batch.changes) {
                col_offset.push(head.saturating_add(i));
                col_doc.push(key_of(&c.doc)?);
                col_actor.push(c.actor.to_bytes());
                col_seq.push(to_db("sequence number", c.seq)?);
                col_hash.push(c.hash.0.as_slice());
                col_origin.push(c.origin.as_ref().map(|d| d.as_bytes().as_slice()));
                col_bytes.push(c.bytes.as_slice());
            }
            let inserted = tx
                .query(
                    "INSERT INTO log (\"offset\", doc, actor, seq, hash, origin, bytes)
                     SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[], $4::bigint[],
                                          $5::bytea[], $6::bytea[], $7::bytea[])
                     ON CONFLICT (doc, actor, seq) DO NOTHING RETURNING \"offset\"",
                    &[
                        &col_offset,
                        &col_doc,
                        &col_actor,
                        &col_seq,
                        &col_hash,
                        &col_origin,
                        &col_bytes,
                    ],
                )
                .map_err(pg(op))?;
            for row in inserted {
                let offset: i64 = row.try_get(0).map_err(pg(op))?;
                let index = usize::try_from(offset.saturating_sub(head).saturating_sub(1)).ok();
                if let Some(slot) = index.and_then(|i| offsets.get_mut(i)) {
                    *slot = Some(from_db("log offset", offset)?);
                }
                new_head = new_head.max(offset);
            }
            let top = highest_seqs(&batch.changes);
            let mut v_doc = Vec::with_capacity(top.len());
            let mut v_actor = Vec::with_capacity(top.len());
            let mut v_seq = Vec::with_capacity(top.len());
            for (doc, actor, seq) in top {
                v_doc.push(key_of(doc)?);
                v_actor.push(actor.to_bytes());
                v_seq.push(to_db("sequence number", seq)?);
            }
            tx.execute(
                "INSERT INTO versions (doc, actor, seq)
                 SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bigint[])
                 ON CONFLICT (doc, actor) DO UPDATE SET seq = GREATEST(versions.seq, excluded.seq)",
                &[&v_doc, &v_actor, &v_seq],
            )
            .map_err(pg("updating version vectors"))?;
        }
        if !batch.peers.is_empty() {
            // One row per device: the last record given wins.
            let mut last: HashMap<DeviceId, &PeerRecord> = HashMap::new();
            for p in &batch.peers {
                last.insert(p.peer, p);
            }
            let mut p_dev = Vec::new();
            let mut p_label = Vec::new();
            let mut p_epoch = Vec::new();
            let mut p_offset = Vec::new();
            let mut p_acked = Vec::new();
            let mut p_contact = Vec::new();
            for p in last.values() {
                p_dev.push(p.peer.as_bytes().as_slice());
                p_label.push(p.label.as_str());
                p_epoch.push(p.their_log.map(|(e, _)| e.as_bytes().to_vec()));
                p_offset.push(
                    p.their_log
                        .map(|(_, o)| to_db("peer log offset", o))
                        .transpose()?,
                );
                p_acked.push(to_db("acknowledged offset", p.acked)?);
                p_contact.push(to_db("contact time", p.last_contact_ms)?);
            }
            tx.execute(
                "INSERT INTO peers (device, label, their_epoch, their_offset, acked, last_contact_ms)
                 SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::bytea[], $4::bigint[],
                                      $5::bigint[], $6::bigint[])
                 ON CONFLICT (device) DO UPDATE SET label = excluded.label,
                     their_epoch = excluded.their_epoch, their_offset = excluded.their_offset,
                     acked = excluded.acked, last_contact_ms = excluded.last_contact_ms",
                &[&p_dev, &p_label, &p_epoch, &p_offset, &p_acked, &p_contact],
            )
            .map_err(pg("saving peers"))?;
        }
        if new_head != head {
            tx.execute(
                "UPDATE relay_meta SET log_head = $1 WHERE id = 1",
                &[&new_head],
            )
            .map_err(pg(op))?;
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&CHANNEL, &new_head.to_string()],
            )
            .map_err(pg("notifying other relays"))?;
        }
        tx.commit().map_err(pg("committing"))?;
        Ok(Committed {
            offsets,
            previous_head: from_db("log head", head)?,
        })
    }

    fn read_log(
        &mut self,
        after: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>, RelayStoreError> {
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM log l JOIN docs d ON d.key = l.doc
             WHERE l.\"offset\" > $1 ORDER BY l.\"offset\" LIMIT $2"
        );
        let limit = i64::try_from(max_entries).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query(&sql, &[&bound(after), &limit])
            .map_err(pg("reading the log"))?;
        let mut out = Vec::new();
        let mut total = 0usize;
        for row in &rows {
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
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM docs d JOIN log l ON l.doc = d.key
             WHERE d.id = $1 AND l.\"offset\" > $2 ORDER BY l.\"offset\" LIMIT $3"
        );
        let limit = i64::try_from(max_entries).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query(&sql, &[&doc.as_str(), &bound(after), &limit])
            .map_err(pg("reading a document's log"))?;
        rows.iter().map(log_entry).collect()
    }

    fn version(&mut self, doc: &DocId) -> Result<VersionVector, RelayStoreError> {
        match self.doc_key(doc)? {
            Some(key) => version_of(&mut self.client, key),
            None => Ok(VersionVector::new()),
        }
    }

    fn versions(&mut self, prefix: &str) -> Result<Vec<(DocId, VersionVector)>, RelayStoreError> {
        let op = "reading version vectors";
        let rows = self
            .client
            .query(
                "SELECT d.id, v.actor, v.seq FROM docs d LEFT JOIN versions v ON v.doc = d.key
                 WHERE starts_with(d.id, $1) ORDER BY d.id COLLATE \"C\"",
                &[&prefix],
            )
            .map_err(pg(op))?;
        let mut out: Vec<(DocId, VersionVector)> = Vec::new();
        for row in rows {
            let id: String = row.try_get(0).map_err(pg(op))?;
            if out.last().map(|(d, _)| d.as_str()) != Some(id.as_str()) {
                out.push((doc_from_db(id)?, VersionVector::new()));
            }
            let actor: Option<Vec<u8>> = row.try_get(1).map_err(pg(op))?;
            let seq: Option<i64> = row.try_get(2).map_err(pg(op))?;
            if let (Some(actor), Some(seq), Some((_, vv))) = (actor, seq, out.last_mut()) {
                vv.observe(&ActorId::from(actor), from_db("sequence number", seq)?);
            }
        }
        Ok(out)
    }

    fn missing(&mut self, doc: &DocId, theirs: &VersionVector) -> Result<Missing, RelayStoreError> {
        let Some(key) = self.doc_key(doc)? else {
            return Ok(Missing::default());
        };
        let mut missing = Missing::default();
        if let Some(snapshot) = self.snapshot(doc)?
            && !theirs.includes(&snapshot.version)
        {
            missing.snapshot = Some(snapshot.bytes);
        }
        let ours = version_of(&mut self.client, key)?;
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM log l JOIN docs d ON d.key = l.doc
             WHERE l.doc = $1 AND l.actor = $2 AND l.seq > $3"
        );
        for (actor, seq) in ours.iter() {
            let have = theirs.get(actor);
            if seq <= have {
                continue;
            }
            let rows = self
                .client
                .query(&sql, &[&key, &actor.to_bytes(), &bound(have)])
                .map_err(pg("finding what a peer lacks"))?;
            for row in &rows {
                missing.entries.push(log_entry(row)?);
            }
        }
        missing.entries.sort_unstable_by_key(|e| e.offset);
        Ok(missing)
    }

    fn has_change(&mut self, doc: &DocId, hash: &ChangeHash) -> Result<bool, RelayStoreError> {
        let Some(key) = self.doc_key(doc)? else {
            return Ok(false);
        };
        let row = self
            .client
            .query_opt(
                "SELECT 1 WHERE EXISTS (SELECT 1 FROM log WHERE doc = $1 AND hash = $2)
                     OR EXISTS (SELECT 1 FROM hashes WHERE doc = $1 AND hash = $2)",
                &[&key, &hash.0.as_slice()],
            )
            .map_err(pg("looking up a change"))?;
        Ok(row.is_some())
    }

    fn snapshot(&mut self, doc: &DocId) -> Result<Option<Snapshot>, RelayStoreError> {
        let op = "reading a snapshot";
        let row = self
            .client
            .query_opt(
                "SELECT snapshot, snapshot_version, compacted_upto FROM docs
                 WHERE id = $1 AND snapshot IS NOT NULL",
                &[&doc.as_str()],
            )
            .map_err(pg(op))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let version: Option<Vec<u8>> = row.try_get(1).map_err(pg(op))?;
        Ok(Some(Snapshot {
            bytes: row.try_get(0).map_err(pg(op))?,
            version: decode_vv(&version.unwrap_or_default())?,
            upto: from_db("compaction offset", row.try_get(2).map_err(pg(op))?)?,
        }))
    }

    fn compacted_after(&mut self, after: u64) -> Result<Vec<DocId>, RelayStoreError> {
        let op = "listing compacted documents";
        let rows = self
            .client
            .query(
                "SELECT id FROM docs WHERE compacted_upto > $1 ORDER BY id COLLATE \"C\"",
                &[&bound(after)],
            )
            .map_err(pg(op))?;
        rows.iter()
            .map(|r| doc_from_db(r.try_get(0).map_err(pg(op))?))
            .collect()
    }

    fn load_doc(&mut self, doc: &DocId) -> Result<Option<StoredDoc>, RelayStoreError> {
        if self.doc_key(doc)?.is_none() {
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
        let op = "compacting a document";
        let head = self.head()?;
        if upto > head {
            return Err(RelayStoreError::OutOfRange {
                what: "compaction offset",
                value: upto,
                max: head,
            });
        }
        let upto = to_db("compaction offset", upto)?;
        let mut tx = self
            .client
            .transaction()
            .map_err(pg("starting a compaction"))?;
        tx.execute(
            "INSERT INTO docs (id) VALUES ($1) ON CONFLICT (id) DO NOTHING",
            &[&doc.as_str()],
        )
        .map_err(pg(op))?;
        let key: i64 = tx
            .query_one(
                "UPDATE docs SET snapshot = $2, snapshot_version = $3,
                     compacted_upto = GREATEST(compacted_upto, $4)
                 WHERE id = $1 RETURNING key",
                &[&doc.as_str(), &snapshot, &encode_vv(version), &upto],
            )
            .and_then(|r| r.try_get(0))
            .map_err(pg(op))?;
        tx.execute(
            "INSERT INTO hashes (doc, hash) SELECT doc, hash FROM log
             WHERE doc = $1 AND \"offset\" <= $2 ON CONFLICT DO NOTHING",
            &[&key, &upto],
        )
        .map_err(pg(op))?;
        tx.execute(
            "DELETE FROM log WHERE doc = $1 AND \"offset\" <= $2",
            &[&key, &upto],
        )
        .map_err(pg(op))?;
        let mut v_actor = Vec::new();
        let mut v_seq = Vec::new();
        for (actor, seq) in version.iter() {
            v_actor.push(actor.to_bytes());
            v_seq.push(to_db("sequence number", seq)?);
        }
        tx.execute(
            "INSERT INTO versions (doc, actor, seq)
             SELECT $1, * FROM UNNEST($2::bytea[], $3::bigint[])
             ON CONFLICT (doc, actor) DO UPDATE SET seq = GREATEST(versions.seq, excluded.seq)",
            &[&key, &v_actor, &v_seq],
        )
        .map_err(pg(op))?;
        tx.commit().map_err(pg("committing a compaction"))
    }

    fn tail_len(&mut self, doc: &DocId) -> Result<u64, RelayStoreError> {
        let Some(key) = self.doc_key(doc)? else {
            return Ok(0);
        };
        let n: i64 = self
            .client
            .query_one("SELECT count(*) FROM log WHERE doc = $1", &[&key])
            .and_then(|r| r.try_get(0))
            .map_err(pg("counting a document's log"))?;
        from_db("change count", n)
    }

    fn doc_count(&mut self) -> Result<u64, RelayStoreError> {
        let n: i64 = self
            .client
            .query_one("SELECT count(*) FROM docs", &[])
            .and_then(|r| r.try_get(0))
            .map_err(pg("counting documents"))?;
        from_db("document count", n)
    }

    fn peer(&mut self, peer: &DeviceId) -> Result<Option<PeerRecord>, RelayStoreError> {
        let op = "reading a peer";
        let row = self
            .client
            .query_opt(
                "SELECT label, their_epoch, their_offset, acked, last_contact_ms FROM peers
                 WHERE device = $1",
                &[&peer.as_bytes().as_slice()],
            )
            .map_err(pg(op))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let epoch: Option<Vec<u8>> = row.try_get(1).map_err(pg(op))?;
        let offset: Option<i64> = row.try_get(2).map_err(pg(op))?;
        let their_log = match (epoch, offset) {
            (Some(e), Some(o)) => Some((
                Epoch::from_bytes(id16("peer epoch", &e)?),
                from_db("peer log offset", o)?,
            )),
            _ => None,
        };
        Ok(Some(PeerRecord {
            peer: *peer,
            label: row.try_get(0).map_err(pg(op))?,
            their_log,
            acked: from_db("acknowledged offset", row.try_get(3).map_err(pg(op))?)?,
            last_contact_ms: from_db("contact time", row.try_get(4).map_err(pg(op))?)?,
            // A relay never streams before a hello (it does not know who connects).
            interest: None,
        }))
    }
}

/// A connection that listens for other relays' commits on the relay's notification channel.
pub struct PgListener {
    client: Client,
}

impl std::fmt::Debug for PgListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgListener").finish_non_exhaustive()
    }
}

impl PgListener {
    /// Connects to `url` and starts listening.
    pub fn connect(url: &str) -> Result<Self, RelayStoreError> {
        let mut client = Client::connect(url, NoTls).map_err(pg("connecting the listener"))?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(pg("listening for commits"))?;
        Ok(Self { client })
    }

    /// Waits up to `timeout` for notifications; returns the highest log head announced, if
    /// any arrived.
    pub fn wait(&mut self, timeout: Duration) -> Result<Option<u64>, RelayStoreError> {
        let op = "receiving notifications";
        let first = {
            let mut notifications = self.client.notifications();
            let mut iter = notifications.timeout_iter(timeout);
            iter.next()
                .map_err(pg(op))?
                .map(|n| n.payload().to_string())
        };
        let Some(first) = first else {
            return Ok(None);
        };
        let mut best = first.parse::<u64>().ok();
        // Drain whatever else is already queued without waiting again.
        let mut notifications = self.client.notifications();
        let mut rest = notifications.iter();
        while let Some(n) = rest.next().map_err(pg(op))? {
            if let Ok(head) = n.payload().parse::<u64>() {
                best = Some(best.map_or(head, |b| b.max(head)));
            }
        }
        Ok(best)
    }
}
