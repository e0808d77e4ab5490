//! The relay storage conformance suite: one generic function that every [`RelayStore`]
//! backend passes (SQLite always; PostgreSQL against a real server this test starts).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use polyarch::relay::store::{Batch, NewChange, PgStore, SqliteStore};
use polyarch::relay::{RelayStore, RelayStoreError};
use polyarch::store::PeerRecord;
use polyarch::{DeviceId, DocId, Epoch, VersionVector};

use crate::relay_support::PgServer;

type Factory<'a> = &'a (dyn Fn() -> Box<dyn RelayStore> + Sync);

fn doc(s: &str) -> DocId {
    DocId::new(s).unwrap()
}

/// `n` real automerge changes to `doc_id` by one actor, in causal order.
fn changes(doc_id: &str, actor: u8, n: usize, origin: DeviceId) -> Vec<NewChange> {
    let mut d = AutoCommit::new().with_actor(ActorId::from(&[actor; 16][..]));
    let mut out = Vec::new();
    for i in 0..n {
        d.put(ROOT, format!("k{i}"), i as i64).unwrap();
        d.commit();
        let c = d.get_last_local_change().unwrap();
        out.push(NewChange::from_change(doc(doc_id), &c, Some(origin)));
    }
    out
}

fn commit(store: &mut dyn RelayStore, changes: Vec<NewChange>) -> Vec<Option<u64>> {
    store
        .commit(&Batch {
            changes,
            peers: Vec::new(),
        })
        .unwrap()
        .offsets
}

/// Runs every check against stores made by `open` (each call: a new connection to one
/// fresh, empty database).
pub fn conformance(open: Factory<'_>) {
    identity_and_empty(open);
    append_read_and_skip(open);
    versions_missing_and_deps(open);
    peers(open);
    compaction(open);
    offsets_commit_in_order(open);
}

fn identity_and_empty(open: Factory<'_>) {
    let mut a = open();
    let mut b = open();
    let id = a.identity().unwrap();
    assert_eq!(
        b.identity().unwrap(),
        id,
        "every connection sees one identity"
    );
    assert_eq!(a.head().unwrap(), 0);
    assert!(a.read_log(0, 10, 1 << 20).unwrap().is_empty());
    assert_eq!(a.version(&doc("nothing")).unwrap(), VersionVector::new());
    assert!(
        a.missing(&doc("nothing"), &VersionVector::new())
            .unwrap()
            .entries
            .is_empty()
    );
    assert!(a.snapshot(&doc("nothing")).unwrap().is_none());
    assert!(a.load_doc(&doc("nothing")).unwrap().is_none());
    assert_eq!(a.doc_count().unwrap(), 0);
}

fn append_read_and_skip(open: Factory<'_>) {
    let mut s = open();
    let origin = DeviceId::random();
    let base = s.head().unwrap();
    let a = changes("t/a", 1, 5, origin);
    let offsets = commit(s.as_mut(), a.clone());
    let expect: Vec<Option<u64>> = (1..=5).map(|i| Some(base + i)).collect();
    assert_eq!(offsets, expect);
    assert_eq!(s.head().unwrap(), base + 5);
    // Committing the same changes again skips them.
    let again = commit(s.as_mut(), a.clone());
    assert_eq!(again, vec![None; 5]);
    let log = s.read_log(base, 100, 1 << 20).unwrap();
    assert_eq!(log.len(), 5);
    for (e, c) in log.iter().zip(&a) {
        assert_eq!(
            (&e.doc, &e.actor, e.seq, e.hash),
            (&c.doc, &c.actor, c.seq, c.hash)
        );
        assert_eq!(e.bytes, c.bytes);
        assert_eq!(e.origin, Some(origin));
    }
    assert!(log.windows(2).all(|w| w[0].offset < w[1].offset));
    // Limits: count, bytes (the first entry always comes).
    assert_eq!(s.read_log(base, 2, 1 << 20).unwrap().len(), 2);
    assert_eq!(s.read_log(base, 100, 1).unwrap().len(), 1);
    let b = changes("t/b", 2, 3, origin);
    commit(s.as_mut(), b);
    let only_b = s.read_doc_log(&doc("t/b"), 0, 100).unwrap();
    assert_eq!(only_b.len(), 3);
    assert!(only_b.iter().all(|e| e.doc == doc("t/b")));
    assert_eq!(
        s.read_doc_log(&doc("t/b"), only_b[0].offset, 1)
            .unwrap()
            .len(),
        1
    );
    // Another connection sees the committed log.
    let mut other = open();
    assert_eq!(other.head().unwrap(), s.head().unwrap());
    assert_eq!(other.read_log(base, 100, 1 << 20).unwrap().len(), 8);
}

fn versions_missing_and_deps(open: Factory<'_>) {
    let mut s = open();
    let origin = DeviceId::random();
    let c = changes("v/one", 3, 4, origin);
    commit(s.as_mut(), c.clone());
    commit(s.as_mut(), changes("w/other", 4, 1, origin));
    let vv = s.version(&doc("v/one")).unwrap();
    assert_eq!(vv.get(&c[0].actor), 4);
    let listed = s.versions("v/").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], (doc("v/one"), vv.clone()));
    assert!(s.versions("").unwrap().len() >= 2);
    let mut theirs = VersionVector::new();
    theirs.observe(&c[0].actor, 2);
    let missing = s.missing(&doc("v/one"), &theirs).unwrap();
    assert_eq!(
        missing.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert!(missing.snapshot.is_none());
    assert!(s.missing(&doc("v/one"), &vv).unwrap().entries.is_empty());
    // Two writers, interleaved: what the peer lacks of each, in log order.
    let a = changes("v/two", 5, 4, origin);
    let b = changes("v/two", 6, 4, origin);
    let both: Vec<NewChange> = a
        .iter()
        .zip(&b)
        .flat_map(|(x, y)| [x.clone(), y.clone()])
        .collect();
    commit(s.as_mut(), both.clone());
    let mut theirs = VersionVector::new();
    theirs.observe(&a[0].actor, 1);
    theirs.observe(&b[0].actor, 3);
    let lacking: Vec<_> = s
        .missing(&doc("v/two"), &theirs)
        .unwrap()
        .entries
        .iter()
        .map(|e| (e.actor.clone(), e.seq))
        .collect();
    let expected: Vec<_> = both
        .iter()
        .filter(|c| c.seq > theirs.get(&c.actor))
        .map(|c| (c.actor.clone(), c.seq))
        .collect();
    assert_eq!(lacking, expected);
    assert_eq!(lacking.len(), 4);
    assert!(s.has_change(&doc("v/one"), &c[2].hash).unwrap());
    assert!(!s.has_change(&doc("w/other"), &c[2].hash).unwrap());
    assert!(!s.has_change(&doc("unknown"), &c[2].hash).unwrap());
}

fn peers(open: Factory<'_>) {
    let mut s = open();
    let device = DeviceId::random();
    assert!(s.peer(&device).unwrap().is_none());
    let mut record = PeerRecord {
        peer: device,
        label: "laptop".into(),
        their_log: None,
        acked: 0,
        last_contact_ms: 5,
        interest: None,
    };
    s.commit(&Batch {
        changes: Vec::new(),
        peers: vec![record.clone()],
    })
    .unwrap();
    assert_eq!(s.peer(&device).unwrap(), Some(record.clone()));
    record.their_log = Some((Epoch::random(), 42));
    record.acked = 7;
    s.commit(&Batch {
        changes: changes("p/x", 5, 1, device),
        peers: vec![record.clone()],
    })
    .unwrap();
    assert_eq!(open().peer(&device).unwrap(), Some(record));
}

fn compaction(open: Factory<'_>) {
    let mut s = open();
    let origin = DeviceId::random();
    let all = changes("c/doc", 6, 10, origin);
    let offsets = commit(s.as_mut(), all.clone());
    let upto = offsets[5].unwrap(); // the first six changes
    let mut am = automerge::Automerge::new();
    am.apply_changes(
        all[..6]
            .iter()
            .map(|c| automerge::Change::from_bytes(c.bytes.clone()).unwrap()),
    )
    .unwrap();
    let mut version = VersionVector::new();
    version.observe(&all[0].actor, 6);
    let head = s.head().unwrap();
    assert!(matches!(
        s.compact(&doc("c/doc"), &am.save(), &version, head + 1),
        Err(RelayStoreError::OutOfRange { .. })
    ));
    s.compact(&doc("c/doc"), &am.save(), &version, upto)
        .unwrap();
    assert_eq!(s.tail_len(&doc("c/doc")).unwrap(), 4);
    let snap = s.snapshot(&doc("c/doc")).unwrap().unwrap();
    assert_eq!((snap.upto, &snap.version), (upto, &version));
    assert!(s.compacted_after(upto - 1).unwrap().contains(&doc("c/doc")));
    assert!(!s.compacted_after(upto).unwrap().contains(&doc("c/doc")));
    // A peer that lacks compacted changes gets the snapshot plus the tail.
    let missing = s.missing(&doc("c/doc"), &VersionVector::new()).unwrap();
    assert!(missing.snapshot.is_some());
    assert_eq!(missing.entries.len(), 4);
    // One that holds the snapshot's changes gets only the tail it lacks.
    let mut theirs = VersionVector::new();
    theirs.observe(&all[0].actor, 8);
    let missing = s.missing(&doc("c/doc"), &theirs).unwrap();
    assert!(missing.snapshot.is_none());
    assert_eq!(missing.entries.len(), 2);
    // Dependencies on compacted changes still resolve; the version is unchanged.
    assert!(s.has_change(&doc("c/doc"), &all[0].hash).unwrap());
    // And so do dependencies on the changes still logged, before and after the cut.
    for c in &all {
        assert!(s.has_change(&doc("c/doc"), &c.hash).unwrap());
    }
    assert!(!s.has_change(&doc("c/next"), &all[0].hash).unwrap());
    assert_eq!(s.version(&doc("c/doc")).unwrap().get(&all[0].actor), 10);
    let loaded = s.load_doc(&doc("c/doc")).unwrap().unwrap();
    assert_eq!(loaded.tail.len(), 4);
    assert!(loaded.snapshot.is_some());
    // Offsets are never reused after compaction.
    let next = commit(s.as_mut(), changes("c/next", 7, 1, origin));
    assert_eq!(next, vec![Some(head + 1)]);
}

/// Two writers commit concurrently through their own connections while a reader follows the
/// log by offsets: the reader must never skip an entry (an offset committing after a higher
/// one would be skipped), and no offset is handed out twice.
fn offsets_commit_in_order(open: Factory<'_>) {
    let start = open().head().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let per_writer = 60;
    std::thread::scope(|scope| {
        for w in 0..2u8 {
            scope.spawn(move || {
                let mut s = open();
                let origin = DeviceId::random();
                let all = changes(&format!("order/{w}"), 10 + w, per_writer, origin);
                for chunk in all.chunks(3) {
                    commit(s.as_mut(), chunk.to_vec());
                }
            });
        }
        let reader_done = done.clone();
        let reader = scope.spawn(move || {
            let mut s = open();
            let mut cursor = start;
            let mut seen = Vec::new();
            let mut finished = false;
            loop {
                let batch = s.read_log(cursor, 1000, 1 << 20).unwrap();
                if let Some(last) = batch.last() {
                    cursor = last.offset;
                }
                seen.extend(batch.into_iter().map(|e| e.offset));
                if finished {
                    break;
                }
                finished = reader_done.load(Ordering::Acquire);
            }
            seen
        });
        // Writers finish first (scope joins them in order of spawn only at its end).
        while open().head().unwrap() < start + 2 * per_writer as u64 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        done.store(true, Ordering::Release);
        let seen = reader.join().unwrap();
        let all: Vec<u64> = open()
            .read_log(start, 10_000, 1 << 30)
            .unwrap()
            .into_iter()
            .map(|e| e.offset)
            .collect();
        assert_eq!(all.len(), 2 * per_writer, "every change got an offset");
        let unique: HashSet<u64> = all.iter().copied().collect();
        assert_eq!(unique.len(), all.len(), "no offset handed out twice");
        assert_eq!(
            seen, all,
            "a reader following offsets saw every entry, in order"
        );
    });
}

#[test]
fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    conformance(&|| Box::new(SqliteStore::open(&path, false).unwrap()));
}

/// With automatic checkpoints off on the writing connection, a second connection's passive
/// checkpoints keep the write-ahead log from growing, and nothing committed is lost.
#[test]
fn sqlite_checkpoints_from_another_connection_keep_the_log_small() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let wal = dir.path().join("relay.db-wal");
    let mut writer = SqliteStore::open(&path, false).unwrap();
    writer.checkpoint_elsewhere().unwrap();
    let mut other = SqliteStore::open(&path, false).unwrap();
    let origin = DeviceId::random();
    let all = changes("big", 1, 3_000, origin);
    let mut largest_wal = 0;
    for (i, batch) in all.chunks(10).enumerate() {
        commit(&mut writer, batch.to_vec());
        if i % 10 == 9 {
            other.checkpoint().unwrap();
        }
        largest_wal = largest_wal.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // 300 commits of a few pages each would grow the log past 4 MB without checkpoints (the
    // writer's automatic ones are off); folded back every 10 commits it stays small.
    assert!(largest_wal < 1 << 20, "the log grew to {largest_wal} bytes");
    let mut fresh = SqliteStore::open(&path, false).unwrap();
    assert_eq!(fresh.head().unwrap(), 3_000);
    assert_eq!(fresh.version(&doc("big")).unwrap().total(), 3_000);
}

/// A database of schema version 1 (its log had an index on document, writer and sequence
/// number) is upgraded when opened: the index is gone, the log is whole, and a change it
/// already holds is still skipped.
#[test]
fn sqlite_upgrades_a_version_1_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let origin = DeviceId::random();
    let all = changes("t/a", 1, 10, origin);
    {
        let mut s = SqliteStore::open(&path, false).unwrap();
        assert_eq!(commit(&mut s, all[..5].to_vec()).len(), 5);
    }
    // Turn it into what version 1 wrote.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "BEGIN;
         CREATE TABLE log_v1 (
             offset INTEGER PRIMARY KEY,
             doc INTEGER NOT NULL REFERENCES docs (key),
             actor BLOB NOT NULL,
             seq INTEGER NOT NULL,
             hash BLOB NOT NULL,
             origin BLOB,
             bytes BLOB NOT NULL,
             UNIQUE (doc, actor, seq)
         ) STRICT;
         INSERT INTO log_v1 SELECT * FROM log;
         DROP TABLE log;
         ALTER TABLE log_v1 RENAME TO log;
         CREATE INDEX log_by_doc ON log (doc, offset);
         PRAGMA user_version = 1;
         COMMIT;",
    )
    .unwrap();
    drop(conn);
    let mut s = SqliteStore::open(&path, false).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, polyarch::relay::store::SCHEMA_VERSION);
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'log'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(indexes, vec!["log_by_doc".to_string()]);
    let log = s.read_log(0, 100, 1 << 20).unwrap();
    assert_eq!(log.len(), 5);
    for (e, c) in log.iter().zip(&all) {
        assert_eq!((e.seq, e.hash, &e.bytes), (c.seq, c.hash, &c.bytes));
    }
    assert_eq!(commit(&mut s, all[..5].to_vec()), vec![None; 5]);
    let rest = commit(&mut s, all.clone());
    assert_eq!(&rest[..5], &[None; 5]);
    assert_eq!(&rest[5..], &(6..=10).map(Some).collect::<Vec<_>>()[..]);
    assert_eq!(s.version(&doc("t/a")).unwrap().total(), 10);
}

#[test]
fn sqlite_refuses_a_foreign_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(conn);
    assert!(matches!(
        SqliteStore::open(&path, false),
        Err(RelayStoreError::NotARelayStore { .. })
    ));
}

#[test]
fn postgres_store_conforms() {
    let server = PgServer::start();
    let url = server.database("conformance");
    conformance(&|| Box::new(PgStore::connect(&url).unwrap()));
    // A database of schema version 1 opens, and records version 2 (which changed only
    // SQLite's schema).
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute("UPDATE relay_meta SET schema_version = 1")
        .unwrap();
    let mut store = PgStore::connect(&url).unwrap();
    assert!(store.head().unwrap() > 0);
    let version: i32 = client
        .query_one("SELECT schema_version FROM relay_meta", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        u32::try_from(version).unwrap(),
        polyarch::relay::store::SCHEMA_VERSION
    );
}
