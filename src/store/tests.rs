#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ChangeHash, ObjType, ROOT, ReadDoc};

use super::*;
use crate::sync::Interest;

mod fixture;

fn mem() -> Store {
    Store::open_in_memory(&StoreOptions::default()).unwrap()
}

fn doc(id: &str) -> DocId {
    DocId::new(id).unwrap()
}

fn actor(b: u8) -> ActorId {
    ActorId::from(&[b; 16][..])
}

/// A fake change: its hash is derived from its identity.
struct Fake {
    doc: DocId,
    actor: ActorId,
    seq: u64,
    bytes: Vec<u8>,
}

impl Fake {
    fn new(doc_id: &str, actor_byte: u8, seq: u64, len: usize) -> Self {
        Self {
            doc: doc(doc_id),
            actor: actor(actor_byte),
            seq,
            bytes: vec![actor_byte; len],
        }
    }

    fn entry(&self) -> NewEntry<'_> {
        let mut hash = [0u8; 32];
        hash[0] = self.actor.to_bytes()[0];
        hash[1..9].copy_from_slice(&self.seq.to_le_bytes());
        NewEntry {
            doc: &self.doc,
            actor: &self.actor,
            seq: self.seq,
            hash: ChangeHash(hash),
            origin: None,
            bytes: &self.bytes,
        }
    }
}

fn append(store: &mut Store, fakes: &[Fake]) -> Vec<Option<u64>> {
    let entries: Vec<_> = fakes.iter().map(Fake::entry).collect();
    store.append(&entries).unwrap()
}

fn temp_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("replica.db")
}

/// Single-character edits to one text, as automerge changes.
struct Typist {
    doc: AutoCommit,
    text: automerge::ObjId,
}

impl Typist {
    fn new(actor: ActorId) -> Self {
        let mut doc = AutoCommit::new().with_actor(actor);
        let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
        doc.commit();
        Self { doc, text }
    }

    /// Types one character, as one change.
    fn type_char(&mut self, c: char) {
        let len = self.doc.length(&self.text);
        self.doc
            .splice_text(&self.text, len, 0, &c.to_string())
            .unwrap();
        self.doc.commit();
    }

    /// Every change made so far, in order.
    fn changes(&mut self) -> Vec<automerge::Change> {
        self.doc.get_changes(&[])
    }
}

fn change_entry<'a>(id: &'a DocId, change: &'a automerge::Change) -> NewEntry<'a> {
    NewEntry {
        doc: id,
        actor: change.actor_id(),
        seq: change.seq(),
        hash: change.hash(),
        origin: None,
        bytes: change.raw_bytes(),
    }
}

#[test]
fn identity_is_stable_across_reopen_and_epochs_differ() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir);
    let first = Store::open(&path, &StoreOptions::default()).unwrap();
    let meta = first.meta().clone();
    assert_eq!(meta.schema_version, schema::SUPPORTED);
    drop(first);
    let again = Store::open(&path, &StoreOptions::default()).unwrap();
    assert_eq!(again.meta(), &meta);

    let other = Store::open(&dir.path().join("other.db"), &StoreOptions::default()).unwrap();
    assert_ne!(other.meta().epoch, meta.epoch);
    assert_ne!(other.meta().device, meta.device);
    assert_ne!(mem().meta().epoch, mem().meta().epoch);
}

#[test]
fn file_stores_are_configured_as_promised() {
    let dir = tempfile::tempdir().unwrap();
    let pragma = |store: &Store, name: &str| -> String {
        store
            .conn
            .pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| format!("{v:?}"))
            .unwrap()
    };
    let full = Store::open(&temp_path(&dir), &StoreOptions::default()).unwrap();
    assert_eq!(pragma(&full, "journal_mode"), r#"Text("wal")"#);
    assert_eq!(pragma(&full, "synchronous"), "Integer(2)", "FULL");
    assert_eq!(pragma(&full, "auto_vacuum"), "Integer(2)", "INCREMENTAL");
    assert_eq!(pragma(&full, "foreign_keys"), "Integer(1)");
    assert_eq!(pragma(&full, "locking_mode"), r#"Text("exclusive")"#);
    assert_eq!(
        pragma(&full, "application_id"),
        format!("Integer({})", schema::APPLICATION_ID)
    );
    let normal = Store::open(
        &dir.path().join("normal.db"),
        &StoreOptions { sync: Sync::Normal },
    )
    .unwrap();
    assert_eq!(pragma(&normal, "synchronous"), "Integer(1)", "NORMAL");
    assert_eq!(pragma(&mem(), "auto_vacuum"), "Integer(2)");
}

#[test]
fn rotated_actor_persists() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir);
    let mut store = Store::open(&path, &StoreOptions::default()).unwrap();
    let old = store.meta().actor.clone();
    let new = store.rotate_actor().unwrap();
    assert_ne!(old, new);
    assert_eq!(store.meta().actor, new);
    drop(store);
    let store = Store::open(&path, &StoreOptions::default()).unwrap();
    assert_eq!(store.meta().actor, new);
}

#[test]
fn a_second_instance_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir);
    let _first = Store::open(&path, &StoreOptions::default()).unwrap();
    let err = Store::open(&path, &StoreOptions::default()).err().unwrap();
    assert!(matches!(err, StoreError::Busy { .. }), "{err}");
    assert!(err.to_string().contains("close the other instance"));
}

#[test]
fn append_read_log_versions_and_duplicates() {
    let mut store = mem();
    assert_eq!(store.log_head(), 0);
    let batch = [
        Fake::new("a", 1, 1, 10),
        Fake::new("a", 1, 2, 10),
        Fake::new("b", 2, 1, 20),
        Fake::new("a", 1, 2, 10), // duplicate inside the batch
    ];
    assert_eq!(
        append(&mut store, &batch),
        [Some(1), Some(2), Some(3), None]
    );
    assert_eq!(store.log_head(), 3);
    assert_eq!(store.doc_ids().unwrap(), [doc("a"), doc("b")]);

    // A batch mixing old and new changes: only the new ones get offsets.
    let batch = [Fake::new("a", 1, 1, 10), Fake::new("a", 3, 1, 5)];
    assert_eq!(append(&mut store, &batch), [None, Some(4)]);
    assert!(store.append(&[]).unwrap().is_empty());

    let va = store.version(&doc("a")).unwrap();
    assert_eq!((va.get(&actor(1)), va.get(&actor(3)), va.len()), (2, 1, 2));
    assert!(store.version(&doc("nope")).unwrap().is_empty());

    let log = store.read_log(0, 100, usize::MAX).unwrap();
    assert_eq!(
        log.iter().map(|e| e.offset).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let e = &log[2];
    assert_eq!((&e.doc, &e.actor, e.seq), (&doc("b"), &actor(2), 1));
    assert_eq!(e.bytes, vec![2; 20]);
    assert_eq!(e.hash, Fake::new("b", 2, 1, 0).entry().hash);
    assert_eq!(e.origin, None);

    assert_eq!(store.read_log(2, 1, usize::MAX).unwrap()[0].offset, 3);
    assert!(store.read_log(4, 10, usize::MAX).unwrap().is_empty());
    assert!(store.read_log(0, 0, usize::MAX).unwrap().is_empty());
    // Byte bounds: 10 + 10 fit in 25, the third (20) does not; one entry always comes.
    assert_eq!(store.read_log(0, 100, 25).unwrap().len(), 2);
    assert_eq!(store.read_log(2, 100, 1).unwrap().len(), 1);

    let all = store.versions(&|_| true).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], (doc("a"), va));
    let only_b = store.versions(&|d| d.as_str() == "b").unwrap();
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0].1.get(&actor(2)), 1);
    // Looked up by id: the same vectors, in the order asked, unknown documents left out.
    let listed = store
        .versions_of(&[doc("b"), doc("nope"), doc("a")])
        .unwrap();
    assert_eq!(listed, vec![only_b[0].clone(), all[0].clone()]);

    assert_eq!(store.tail_stats(&doc("a")).unwrap(), (3, 25));
    assert_eq!(store.tail_stats(&doc("nope")).unwrap(), (0, 0));
}

#[test]
fn origin_is_kept() {
    let mut store = mem();
    let fake = Fake::new("a", 1, 1, 3);
    let from = DeviceId::random();
    let entry = NewEntry {
        origin: Some(from),
        ..fake.entry()
    };
    store.append(&[entry]).unwrap();
    assert_eq!(store.read_log(0, 1, 100).unwrap()[0].origin, Some(from));
}

#[test]
fn documents_are_created_once() {
    let mut store = mem();
    assert!(store.create_doc(&doc("x")).unwrap());
    assert!(!store.create_doc(&doc("x")).unwrap());
    let loaded = store.load_doc(&doc("x")).unwrap().unwrap();
    assert!(loaded.snapshot.is_none() && loaded.tail.is_empty() && loaded.version.is_empty());
    assert!(store.load_doc(&doc("y")).unwrap().is_none());
    assert_eq!(
        store.versions(&|_| true).unwrap(),
        [(doc("x"), VersionVector::new())]
    );
}

#[test]
fn offsets_are_never_reused_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir);
    let mut store = Store::open(&path, &StoreOptions::default()).unwrap();
    append(
        &mut store,
        &[Fake::new("a", 1, 1, 10), Fake::new("a", 1, 2, 10)],
    );
    let vv = store.version(&doc("a")).unwrap();
    // Compacting everything deletes the newest rows too.
    store.compact(&doc("a"), b"snapshot", &vv, 2).unwrap();
    assert!(store.read_log(0, 10, usize::MAX).unwrap().is_empty());
    assert_eq!(store.log_head(), 2);
    drop(store);

    let mut store = Store::open(&path, &StoreOptions::default()).unwrap();
    assert_eq!(store.log_head(), 2);
    assert_eq!(append(&mut store, &[Fake::new("a", 1, 3, 10)]), [Some(3)]);
    assert_eq!(store.version(&doc("a")).unwrap().get(&actor(1)), 3);
    // A change that now exists only in the snapshot is still a duplicate.
    assert_eq!(append(&mut store, &[Fake::new("a", 1, 2, 10)]), [None]);
    assert_eq!(store.log_head(), 3);
    assert!(matches!(
        store.compact(&doc("a"), b"s", &vv, 4),
        Err(StoreError::OutOfRange { .. })
    ));
}

#[test]
fn missing_without_and_with_snapshot() {
    let mut store = mem();
    let a = doc("a");
    append(
        &mut store,
        &[
            Fake::new("a", 1, 1, 1),
            Fake::new("a", 2, 1, 1),
            Fake::new("b", 1, 1, 1),
            Fake::new("a", 1, 2, 1),
            Fake::new("a", 2, 2, 1),
        ],
    );
    let theirs: VersionVector = [(actor(1), 1)].into_iter().collect();
    let m = store.missing(&a, &theirs).unwrap();
    assert!(m.snapshot.is_none());
    let got: Vec<_> = m.entries.iter().map(|e| (e.offset, e.seq)).collect();
    assert_eq!(
        got,
        [(2, 1), (4, 2), (5, 2)],
        "offset order, only what they lack"
    );
    assert!(
        store
            .missing(&doc("zz"), &theirs)
            .unwrap()
            .entries
            .is_empty()
    );
    let ours = store.version(&a).unwrap();
    assert!(store.missing(&a, &ours).unwrap().entries.is_empty());

    // Compact the first three offsets: actor 1 seq 1 and actor 2 seq 1 are in the snapshot.
    let snap_vv: VersionVector = [(actor(1), 1), (actor(2), 1)].into_iter().collect();
    store.compact(&a, b"snap", &snap_vv, 3).unwrap();
    assert_eq!(store.snapshot(&a).unwrap(), Some((b"snap".to_vec(), 3)));
    assert_eq!(store.compacted_after(2).unwrap(), std::slice::from_ref(&a));
    assert!(store.compacted_after(3).unwrap().is_empty());

    // A peer with nothing needs the snapshot and the tail.
    let m = store.missing(&a, &VersionVector::new()).unwrap();
    assert_eq!(m.snapshot.as_deref(), Some(&b"snap"[..]));
    assert_eq!(
        m.entries.iter().map(|e| e.offset).collect::<Vec<_>>(),
        [4, 5]
    );
    // A peer that has what the snapshot holds needs only the tail.
    let m = store.missing(&a, &snap_vv).unwrap();
    assert!(m.snapshot.is_none());
    assert_eq!(m.entries.len(), 2);

    let loaded = store.load_doc(&a).unwrap().unwrap();
    assert_eq!(loaded.snapshot.as_deref(), Some(&b"snap"[..]));
    assert_eq!(loaded.tail.len(), 2);
    assert_eq!(loaded.version, ours);
    assert_eq!(store.tail_stats(&a).unwrap(), (2, 2));
    // The other document was not touched.
    assert_eq!(store.tail_stats(&doc("b")).unwrap(), (1, 1));
}

#[test]
fn compaction_shrinks_the_file() {
    // Single-keystroke automerge changes; fewer than a real session so that the test stays
    // quick in unoptimised builds, enough that their log rows fill many pages.
    const CHANGES: u32 = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir);
    let options = StoreOptions { sync: Sync::Normal };
    let mut store = Store::open(&path, &options).unwrap();
    let id = doc("notes");
    let mut typist = Typist::new(ActorId::random());
    for i in 0..CHANGES {
        typist.type_char(char::from(b'a' + (i % 26) as u8));
    }
    let changes = typist.changes();
    for batch in changes.chunks(250) {
        let entries: Vec<_> = batch.iter().map(|c| change_entry(&id, c)).collect();
        assert!(store.append(&entries).unwrap().iter().all(Option::is_some));
    }
    let before = store.size_bytes().unwrap();
    let version: VersionVector = [(typist.doc.get_actor().clone(), u64::from(CHANGES) + 1)]
        .into_iter()
        .collect();
    assert_eq!(store.version(&id).unwrap(), version);
    let snapshot = typist.doc.save();
    store
        .compact(&id, &snapshot, &version, store.log_head())
        .unwrap();
    let after = store.size_bytes().unwrap();
    assert!(
        after * 4 < before,
        "compaction should give most of {before} bytes back, left {after}"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), after);
    store.integrity_check().unwrap();

    let loaded = store.load_doc(&id).unwrap().unwrap();
    assert!(loaded.tail.is_empty());
    let restored = AutoCommit::load(&loaded.snapshot.unwrap()).unwrap();
    assert_eq!(restored.text(&typist.text).unwrap().len(), CHANGES as usize);
}

#[test]
fn long_histories_are_measured_in_one_pass() {
    let mut store = mem();
    let a: Vec<Fake> = (1..=4).map(|seq| Fake::new("a", 1, seq, 10)).collect();
    let b: Vec<Fake> = (1..=2).map(|seq| Fake::new("b", 2, seq, 7)).collect();
    append(&mut store, &a);
    append(&mut store, &b);
    let all = store.long_histories(0, 0).unwrap();
    let sizes: Vec<_> = all
        .iter()
        .map(|h| {
            (
                h.doc.as_str(),
                h.logged_changes,
                h.logged_bytes,
                h.snapshot_bytes,
            )
        })
        .collect();
    assert_eq!(sizes, [("a", 4, 40, 0), ("b", 2, 14, 0)]);
    assert_eq!(
        store.long_histories(3, u64::MAX).unwrap().len(),
        1,
        "only a has 3 or more"
    );
    assert_eq!(
        store.long_histories(u64::MAX, 30).unwrap().len(),
        1,
        "only a has 30 bytes or more"
    );

    let vv: VersionVector = [(actor(1), 3)].into_iter().collect();
    store.compact(&doc("a"), b"snapshot", &vv, 3).unwrap();
    let a = &store.long_histories(0, 0).unwrap()[0];
    assert_eq!(
        (a.logged_changes, a.logged_bytes, a.snapshot_bytes),
        (1, 10, 8)
    );
}

#[test]
fn an_image_leaves_free_pages_out_even_without_auto_vacuum() {
    let mut store = mem();
    // As a database made without incremental auto-vacuum would be: deletions leave free pages.
    store
        .conn
        .execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;")
        .unwrap();
    let fakes: Vec<Fake> = (1..=200).map(|seq| Fake::new("a", 1, seq, 500)).collect();
    append(&mut store, &fakes);
    let vv: VersionVector = [(actor(1), 200)].into_iter().collect();
    store
        .compact(&doc("a"), b"snapshot", &vv, store.log_head())
        .unwrap();
    assert!(
        store.free_pages().unwrap() > 0,
        "the compaction left pages free"
    );

    let image = store.export_image().unwrap();
    assert_eq!(store.free_pages().unwrap(), 0);
    assert_eq!(image.len() as u64, store.size_bytes().unwrap());
    let copy = Store::open_image(&image, None, &StoreOptions::default()).unwrap();
    let auto_vacuum: i64 = copy
        .conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .unwrap();
    assert_eq!(auto_vacuum, 2, "rebuilt with incremental auto-vacuum");
    assert_eq!(
        copy.load_doc(&doc("a")).unwrap().unwrap().snapshot.unwrap(),
        b"snapshot"
    );
    copy.integrity_check().unwrap();
}

#[test]
fn peers_round_trip() {
    let mut store = mem();
    let relay = PeerRecord {
        peer: DeviceId::random(),
        label: "relay".into(),
        their_log: Some((Epoch::random(), 42)),
        acked: 7,
        last_contact_ms: 1_700_000_000_000,
        interest: Some(Interest::Prefixes(vec!["cal/".into()])),
    };
    let laptop = PeerRecord {
        peer: DeviceId::random(),
        label: String::new(),
        their_log: None,
        acked: 0,
        last_contact_ms: 0,
        interest: None,
    };
    store.save_peer(&relay).unwrap();
    store.save_peer(&laptop).unwrap();
    assert_eq!(store.peer(&relay.peer).unwrap(), Some(relay.clone()));
    assert_eq!(store.peer(&DeviceId::random()).unwrap(), None);
    let updated = PeerRecord {
        their_log: None,
        acked: 9,
        interest: Some(Interest::All),
        ..relay.clone()
    };
    store.save_peer(&updated).unwrap();
    let mut expected = vec![updated, laptop];
    expected.sort_by_key(|p| p.peer);
    assert_eq!(store.peers().unwrap(), expected);
}

/// Rewrites the raw database under a closed store.
fn tamper(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir);
    drop(Store::open(&path, &StoreOptions::default()).unwrap());
    tamper(&path, "PRAGMA user_version = 99");
    let err = Store::open(&path, &StoreOptions::default()).err().unwrap();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, supported } if supported == schema::SUPPORTED),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade Polyarch"));
}

#[test]
fn files_that_are_not_stores_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "these are not the droids you are looking for\n".repeat(100),
    )
    .unwrap();
    let err = Store::open(&text, &StoreOptions::default()).err().unwrap();
    assert!(
        matches!(&err, StoreError::NotAStore { path } if path == &text),
        "{err}"
    );
    assert!(err.to_string().contains("not a Polyarch store"));
    // The file was left alone.
    assert!(std::fs::read_to_string(&text).unwrap().starts_with("these"));

    let other = dir.path().join("other-app.db");
    tamper(&other, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    let err = Store::open(&other, &StoreOptions::default()).err().unwrap();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");

    let nowhere = dir.path().join("missing-dir").join("replica.db");
    let err = Store::open(&nowhere, &StoreOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::CannotOpen { .. }), "{err}");
    assert!(err.to_string().contains("directory exists"));

    // An empty file is simply a new store.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    Store::open(&empty, &StoreOptions::default()).unwrap();
}

#[test]
fn corrupt_values_on_disk_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir);
    let mut store = Store::open(&path, &StoreOptions::default()).unwrap();
    append(
        &mut store,
        &[Fake::new("a", 1, 1, 4), Fake::new("a", 1, 2, 4)],
    );
    let vv = store.version(&doc("a")).unwrap();
    store.compact(&doc("a"), b"snap", &vv, 1).unwrap();
    store
        .save_peer(&PeerRecord {
            peer: DeviceId::random(),
            label: "relay".into(),
            their_log: None,
            acked: 1,
            last_contact_ms: 1,
            interest: None,
        })
        .unwrap();
    drop(store);
    tamper(
        &path,
        "UPDATE log SET hash = x'0102'; UPDATE docs SET snapshot_version = x'01ff';
         UPDATE peers SET acked = -5;",
    );
    let store = Store::open(&path, &StoreOptions::default()).unwrap();
    let err = store.read_log(0, 10, usize::MAX).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corrupt {
                what: "change hash",
                ..
            }
        ),
        "{err}"
    );
    let err = store.missing(&doc("a"), &VersionVector::new()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(matches!(store.peers(), Err(StoreError::Corrupt { .. })));
    drop(store);

    tamper(
        &path,
        "UPDATE docs SET id = ''; UPDATE meta SET device = x'00';",
    );
    let err = Store::open(&path, &StoreOptions::default()).err().unwrap();
    assert!(matches!(err, StoreError::CorruptId { .. }), "{err}");
}

#[test]
fn integrity_check_passes_on_a_healthy_store() {
    let mut store = mem();
    append(&mut store, &[Fake::new("a", 1, 1, 4)]);
    store.integrity_check().unwrap();
    assert!(store.size_bytes().unwrap() > 0);
}

/// This thread's CPU time (Linux), to read timings on a busy machine where wall time swells.
fn thread_cpu() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_nanos(ns))
}

/// Appends 100,000 fake 80-byte changes in batches of 256 to a file store, with `Sync::Full`
/// then `Sync::Normal`, and prints wall and CPU time per entry:
/// `cargo test --release --lib store::tests::append_timing -- --ignored --nocapture`
#[test]
#[ignore = "timing, run by hand"]
fn append_timing() {
    for sync in [Sync::Full, Sync::Normal] {
        time_appends(sync);
    }
}

fn time_appends(sync: Sync) {
    const N: u64 = 100_000;
    const BATCH: usize = 256;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&temp_path(&dir), &StoreOptions { sync }).unwrap();
    let id = doc("bench");
    let writer = ActorId::random();
    let bytes = [7u8; 80];
    let hashes: Vec<ChangeHash> = (1..=N)
        .map(|seq| {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&seq.to_le_bytes());
            ChangeHash(h)
        })
        .collect();
    let (start, cpu_start) = (std::time::Instant::now(), thread_cpu());
    for (i, chunk) in hashes.chunks(BATCH).enumerate() {
        let entries: Vec<_> = chunk
            .iter()
            .zip(1u64..)
            .map(|(hash, j)| NewEntry {
                doc: &id,
                actor: &writer,
                seq: (i * BATCH) as u64 + j,
                hash: *hash,
                origin: None,
                bytes: &bytes,
            })
            .collect();
        store.append(&entries).unwrap();
    }
    let wall = start.elapsed();
    let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end - start);
    assert_eq!(store.log_head(), N);
    let per_entry = |d: std::time::Duration| d.as_secs_f64() * 1e6 / N as f64;
    println!(
        "append {N} x 80 B in batches of {BATCH}, {sync:?}: wall {:.2} µs/entry, CPU {} \
         ({} batches, {:.2} ms wall per commit)",
        per_entry(wall),
        cpu.map_or("n/a".into(), |c| format!("{:.2} µs/entry", per_entry(c))),
        N.div_ceil(BATCH as u64),
        wall.as_secs_f64() * 1e3 / N.div_ceil(BATCH as u64) as f64,
    );
}
