//! Fixture databases: one per released schema version, committed under `tests/fixtures/`,
//! opened by every later build to prove it still reads them.
//!
//! `tests/fixtures/store-v1.db` was written by [`make_fixture_v1`]
//! (`cargo test --lib store::tests::fixture::make_fixture_v1 -- --ignored`). Never regenerate
//! a released fixture: add a new one for a new schema version instead.

use super::*;

const FIXTURE_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-v1.db");

/// The fixed actors of the fixture, so that its change hashes are known.
fn fixture_actor(b: u8) -> ActorId {
    ActorId::from(&[b; 16][..])
}

/// The peer saved in the fixture.
fn fixture_peer() -> PeerRecord {
    PeerRecord {
        peer: DeviceId::from_bytes([0xAA; 16]),
        label: "relay".into(),
        their_log: Some((Epoch::from_bytes([0xBB; 16]), 12)),
        acked: 3,
        last_contact_ms: 1_750_000_000_000,
        // Schema version 1 has no interest column.
        interest: None,
    }
}

/// Writes the schema-v1 fixture: document `calendar/team-7` (text "abc" typed by actor 0x01,
/// compacted up to offset 3, so 2 changes in the snapshot and 2 in the tail), document
/// `notes` (text "hi" typed by actor 0x02, received from device 0xCC..), and one peer.
#[test]
#[ignore = "writes the committed fixture; run only to create a fixture for a new schema"]
fn make_fixture_v1() {
    assert_eq!(
        schema::SUPPORTED,
        1,
        "this helper writes schema version 1 only"
    );
    let path = Path::new(FIXTURE_V1);
    let _ = std::fs::remove_file(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut store = Store::open(path, &StoreOptions::default()).unwrap();

    let calendar = doc("calendar/team-7");
    let mut typist = Typist::new(fixture_actor(1));
    "abc".chars().for_each(|c| typist.type_char(c));
    let changes = typist.changes();
    let notes = doc("notes");
    let mut other = Typist::new(fixture_actor(2));
    "hi".chars().for_each(|c| other.type_char(c));
    let received = other.changes();

    let mut entries: Vec<_> = changes[..2]
        .iter()
        .map(|c| change_entry(&calendar, c))
        .collect();
    entries.extend(received.iter().map(|c| NewEntry {
        origin: Some(DeviceId::from_bytes([0xCC; 16])),
        ..change_entry(&notes, c)
    }));
    entries.extend(changes[2..].iter().map(|c| change_entry(&calendar, c)));
    assert!(store.append(&entries).unwrap().iter().all(Option::is_some));

    // Snapshot of the first two calendar changes (offsets 1 and 2).
    let mut early = AutoCommit::new();
    early.apply_changes(changes[..2].iter().cloned()).unwrap();
    let version: VersionVector = [(fixture_actor(1), 2)].into_iter().collect();
    store
        .compact(&calendar, &early.save(), &version, 3)
        .unwrap();
    store.save_peer(&fixture_peer()).unwrap();
    store.integrity_check().unwrap();
}

#[test]
fn the_schema_v1_fixture_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("store-v1.db");
    std::fs::copy(FIXTURE_V1, &copy).expect("tests/fixtures/store-v1.db is committed");
    let mut store = Store::open(&copy, &StoreOptions::default()).unwrap();
    store.integrity_check().unwrap();
    assert_eq!(store.meta().schema_version, schema::SUPPORTED);
    assert_eq!(store.log_head(), 7);
    let calendar = doc("calendar/team-7");
    let notes = doc("notes");
    assert_eq!(store.doc_ids().unwrap(), [calendar.clone(), notes.clone()]);

    // The calendar: snapshot plus tail give back the text.
    let stored = store.load_doc(&calendar).unwrap().unwrap();
    assert_eq!(stored.tail.len(), 2);
    let mut restored = AutoCommit::load(&stored.snapshot.unwrap()).unwrap();
    for bytes in stored.tail {
        let change = automerge::Change::from_bytes(bytes).unwrap();
        restored.apply_changes([change]).unwrap();
    }
    let (_, text) = restored.get(ROOT, "text").unwrap().unwrap();
    assert_eq!(restored.text(&text).unwrap(), "abc");
    assert_eq!(stored.version.get(&fixture_actor(1)), 4);
    assert_eq!(store.snapshot(&calendar).unwrap().unwrap().1, 3);
    assert_eq!(
        store.compacted_after(0).unwrap(),
        std::slice::from_ref(&calendar)
    );

    // The log as a peer reading from offset 0 sees it.
    let log = store.read_log(0, 100, usize::MAX).unwrap();
    let shape: Vec<_> = log
        .iter()
        .map(|e| (e.offset, e.doc.as_str(), e.seq))
        .collect();
    assert_eq!(
        shape,
        [
            (3, "notes", 1),
            (4, "notes", 2),
            (5, "notes", 3),
            (6, "calendar/team-7", 3),
            (7, "calendar/team-7", 4),
        ]
    );
    assert_eq!(log[0].origin, Some(DeviceId::from_bytes([0xCC; 16])));
    for e in &log {
        let change = automerge::Change::from_bytes(e.bytes.clone()).unwrap();
        assert_eq!((change.hash(), change.seq()), (e.hash, e.seq));
    }
    let m = store.missing(&calendar, &VersionVector::new()).unwrap();
    assert!(m.snapshot.is_some());
    assert_eq!(m.entries.len(), 2);
    assert_eq!(store.peers().unwrap(), [fixture_peer()]);

    // And it takes new writes.
    let mut typist = Typist::new(ActorId::random());
    let change = typist.changes().remove(0);
    assert_eq!(
        store.append(&[change_entry(&notes, &change)]).unwrap(),
        [Some(8)]
    );
}
