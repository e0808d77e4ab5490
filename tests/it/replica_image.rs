//! A replica exported as one byte string opens elsewhere (in memory or as a new file) with the
//! same documents, as a new device that writes as a new actor; bytes that are not an image are
//! refused with a clear error and nothing is written. An image is compact: long histories are
//! folded into snapshots first, loaded documents or not, and nothing a peer needs is lost.

use polyarch::sync::{Session, SessionConfig, run_until_quiet};
use polyarch::{Durability, Error, Repo, RepoConfig, StoreError};

/// A file replica with a register, a set and a counter, still open (its WAL not checkpointed).
fn replica(dir: &tempfile::TempDir) -> Repo {
    let mut repo = Repo::open(dir.path().join("origin.db"), RepoConfig::default()).expect("open");
    repo.change("cal", |tx| {
        tx.register(["events", "e1", "title"]).set("Standup")?;
        tx.set(["events", "e1", "guests"]).add("ada")?;
        tx.counter(["events", "e1", "rsvp"]).increment(2)
    })
    .expect("change");
    repo
}

fn sync(a: &mut Repo, b: &mut Repo) {
    let (mut sa, mut sb) = (
        Session::new(SessionConfig::default()),
        Session::new(SessionConfig::default()),
    );
    run_until_quiet(&mut sa, a, &mut sb, b).expect("sync");
}

#[test]
fn an_image_opens_in_memory_and_as_a_file_with_the_same_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = replica(&dir);
    let image = origin.export_image().expect("export");
    assert!(image.starts_with(b"SQLite format 3\0"));

    let mut in_memory = Repo::from_image(&image, None, RepoConfig::default()).expect("memory");
    let path = dir.path().join("copy.db");
    let mut on_disk =
        Repo::from_image(&image, Some(&path), RepoConfig::default()).expect("file copy");
    let expected = origin.to_json("cal").expect("json");
    assert_eq!(in_memory.to_json("cal").expect("json"), expected);
    assert_eq!(on_disk.to_json("cal").expect("json"), expected);

    // The file copy is an ordinary replica: it reopens with the same identity.
    let device = on_disk.device_id();
    drop(on_disk);
    let mut reopened = Repo::open(&path, RepoConfig::default()).expect("reopen");
    assert_eq!(reopened.device_id(), device);
    assert_eq!(reopened.to_json("cal").expect("json"), expected);
    reopened.integrity_check().expect("intact");
}

#[test]
fn a_copy_is_a_new_device_and_both_keep_writing_and_converge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = replica(&dir);
    let image = origin.export_image().expect("export");
    let mut copy = Repo::from_image(&image, None, RepoConfig::default()).expect("copy");
    assert_ne!(copy.device_id(), origin.device_id());
    assert_ne!(copy.epoch(), origin.epoch());
    assert_ne!(copy.actor(), origin.actor());

    origin
        .change("cal", |tx| {
            tx.register(["events", "e1", "title"])
                .set("Standup (moved)")
        })
        .expect("origin edit");
    copy.change("cal", |tx| {
        tx.register(["events", "e1", "title"]).set("Daily")?;
        tx.counter(["events", "e1", "rsvp"]).increment(1)
    })
    .expect("copy edit");
    // Had both written as the same actor, the two edits would share a sequence number and one
    // of them would be dropped by the other side.
    sync(&mut origin, &mut copy);
    assert_eq!(
        origin.to_json("cal").expect("json"),
        copy.to_json("cal").expect("json")
    );
    let titles = copy
        .view("cal", |doc| {
            doc.register(["events", "e1", "title"]).conflicts()
        })
        .expect("view")
        .expect("conflicts");
    assert_eq!(
        titles.len(),
        2,
        "both concurrent titles are kept: {titles:?}"
    );
}

#[test]
fn bytes_that_are_not_an_image_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("plain.db");
    {
        let conn = rusqlite::Connection::open(&plain).expect("sqlite");
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .expect("sql");
    }
    let mut image = replica(&dir).export_image().expect("export");
    let truncated = image.get(..image.len() / 2).expect("half").to_vec();
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 31 % 251) as u8).collect();
    let not_images = [
        Vec::new(),
        b"SQLite format 3\0".to_vec(),
        garbage,
        std::fs::read(&plain).expect("read"),
    ];
    for bytes in &not_images {
        let err = Repo::from_image(bytes, None, RepoConfig::default()).expect_err("refused");
        assert!(
            matches!(err, Error::Store(StoreError::NotAnImage { .. })),
            "{} bytes: {err:?}",
            bytes.len()
        );
        let path = dir.path().join("never.db");
        Repo::from_image(bytes, Some(&path), RepoConfig::default()).expect_err("refused");
        assert!(!path.exists(), "nothing is left behind");
    }
    // A damaged image fails with an error (which one depends on where it is cut), never a panic.
    Repo::from_image(&truncated, None, RepoConfig::default())
        .and_then(|mut r| r.to_json("cal"))
        .expect_err("a truncated image does not open");
    // Pages overwritten after the header: refused or reported, never a panic.
    for b in image.iter_mut().skip(4096) {
        *b = 0xA5;
    }
    if let Ok(mut damaged) = Repo::from_image(&image, None, RepoConfig::default()) {
        assert!(damaged.to_json("cal").is_err() || damaged.integrity_check().is_err());
    }
}

#[test]
fn an_existing_file_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = replica(&dir).export_image().expect("export");
    let path = dir.path().join("taken.db");
    std::fs::write(&path, b"precious").expect("write");
    let err = Repo::from_image(&image, Some(&path), RepoConfig::default()).expect_err("refused");
    assert!(
        matches!(err, Error::Store(StoreError::CannotOpen { .. })),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), b"precious");
}

#[test]
fn a_closed_replica_file_read_as_bytes_is_an_image() {
    // What the npm package's tests do with a file the native CLI wrote: read it and open it.
    // The file's header says WAL (bytes 18 and 19 are 2); a copy in memory has no WAL.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = replica(&dir);
    let expected = origin.to_json("cal").expect("json");
    origin.close().expect("close");
    let bytes = std::fs::read(dir.path().join("origin.db")).expect("read");
    assert_eq!(
        bytes.get(18..20),
        Some([2, 2].as_slice()),
        "a WAL-mode file"
    );

    let mut copy = Repo::from_image(&bytes, None, RepoConfig::default()).expect("from file bytes");
    assert_eq!(copy.to_json("cal").expect("json"), expected);
    copy.change("cal", |tx| {
        tx.counter(["events", "e1", "rsvp"]).increment(1)
    })
    .expect("the copy takes writes");
    copy.integrity_check().expect("intact");
}

/// Group commit: typing thousands of keystrokes stays quick in unoptimised builds.
fn grouped() -> RepoConfig {
    RepoConfig {
        durability: Durability::group(),
        ..RepoConfig::default()
    }
}

/// Types `n` characters at the end of `notes`'s `body`, one change per keystroke.
fn type_chars(repo: &mut Repo, n: usize) {
    let start = repo
        .view("notes", |doc| doc.text("body").len())
        .map_or(0, |len| len.unwrap_or(0));
    for i in 0..n {
        let c = char::from(b'a' + (i % 26) as u8).to_string();
        repo.change("notes", |tx| tx.text("body").splice(start + i, 0, &c))
            .expect("keystroke");
    }
    repo.flush().expect("flush");
}

/// Keystrokes in the tests below: past `Repo::LONG_HISTORY`, so that the history is long.
const KEYSTROKES: usize = 1_500;

/// A replica file in `dir` with a long history typed into `notes` (and whatever `more` does),
/// dropped without closing, so nothing compacted it (as when a browser tab is killed). Returns
/// its path and `notes` as JSON.
fn typed_file_replica(
    dir: &tempfile::TempDir,
    more: impl FnOnce(&mut Repo),
) -> (std::path::PathBuf, serde_json::Value) {
    let path = dir.path().join("origin.db");
    let mut origin = Repo::open(&path, grouped()).expect("open");
    type_chars(&mut origin, KEYSTROKES);
    more(&mut origin);
    let notes = origin.to_json("notes").expect("json");
    drop(origin);
    (path, notes)
}

#[test]
fn an_image_of_a_long_history_is_compact_and_opens_to_the_same_document() {
    let mut origin = Repo::in_memory(grouped()).expect("repo");
    type_chars(&mut origin, KEYSTROKES);
    origin
        .change("cal", |tx| tx.register("title").set("Standup"))
        .expect("small doc");
    let logged = origin.store().size_bytes().expect("size");
    let saved = origin.doc("notes").expect("notes").save().len();

    let image = origin.export_image().expect("export");
    let notes = origin.doc_status("notes").expect("status");
    assert_eq!(notes.logged_changes, 0, "the long history was compacted");
    assert_eq!(
        origin.doc_status("cal").expect("status").logged_changes,
        1,
        "a short history is left as it is"
    );
    // What is left besides the snapshot is SQLite's fixed cost: a page or two per table and
    // index (12 pages of 4 KiB when this was written).
    let page = 4096;
    assert!(
        image.len() <= saved + 16 * page,
        "an image of {} bytes for a {saved}-byte snapshot",
        image.len()
    );
    assert!(
        image.len() * 4 < logged as usize,
        "an image of {} bytes, the history took {logged}",
        image.len()
    );

    let mut copy = Repo::from_image(&image, None, grouped()).expect("open the image");
    assert_eq!(copy.doc_status("notes").expect("status").logged_changes, 0);
    for doc in ["notes", "cal"] {
        assert_eq!(
            copy.to_json(doc).expect("copy"),
            origin.to_json(doc).expect("origin")
        );
    }
    copy.integrity_check().expect("intact");
}

#[test]
fn nothing_is_lost_to_the_compaction_an_export_makes() {
    let mut origin = Repo::in_memory(grouped()).expect("repo");
    let mut peer = Repo::in_memory(grouped()).expect("repo");
    type_chars(&mut origin, 10);
    sync(&mut origin, &mut peer);
    // The peer falls behind by a long history, and writes on its own meanwhile.
    type_chars(&mut origin, KEYSTROKES);
    peer.change("notes", |tx| tx.counter("edits").increment(1))
        .expect("peer edit");

    let image = origin.export_image().expect("export");
    assert_eq!(
        origin.doc_status("notes").expect("status").logged_changes,
        0
    );
    // Changes after the compaction, on the replica and on its copy.
    origin
        .change("notes", |tx| tx.register("title").set("Draft"))
        .expect("after compaction");
    let mut copy = Repo::from_image(&image, None, grouped()).expect("copy");
    copy.change("notes", |tx| tx.counter("edits").increment(10))
        .expect("copy edit");

    // The peer behind the snapshot gets it, and every replica ends with every change.
    sync(&mut origin, &mut peer);
    sync(&mut copy, &mut peer);
    sync(&mut origin, &mut copy);
    let expected = origin.to_json("notes").expect("json");
    assert_eq!(peer.to_json("notes").expect("json"), expected);
    assert_eq!(copy.to_json("notes").expect("json"), expected);
    assert_eq!(expected["edits"], 11);
    assert_eq!(expected["title"], "Draft");
    let body = expected["body"].as_str().expect("text");
    assert_eq!(body.len(), 10 + KEYSTROKES);
}

#[test]
fn an_export_and_maintain_all_compact_documents_that_are_not_loaded_and_maintain_leaves_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, expected) = typed_file_replica(&dir, |_| {});

    let mut reopened = Repo::open(&path, grouped()).expect("reopen");
    assert_eq!(
        reopened.maintain().expect("maintain"),
        0,
        "nothing is loaded"
    );
    assert_eq!(
        reopened.doc_status("notes").expect("status").logged_changes,
        KEYSTROKES as u64
    );
    let image = reopened.export_image().expect("export");
    assert_eq!(reopened.loaded_docs(), 0, "loaded for the compaction only");
    assert_eq!(
        reopened.doc_status("notes").expect("status").logged_changes,
        0
    );
    let mut copy = Repo::from_image(&image, None, grouped()).expect("copy");
    assert_eq!(copy.to_json("notes").expect("json"), expected);

    // What hosts call once after opening such a replica, without exporting it.
    type_chars(&mut reopened, KEYSTROKES);
    reopened.unload("notes").expect("unload");
    assert_eq!(reopened.maintain().expect("maintain"), 0);
    assert_eq!(reopened.maintain_all().expect("maintain all"), 1);
    assert_eq!(reopened.loaded_docs(), 0);
    assert_eq!(
        reopened.doc_status("notes").expect("status").logged_changes,
        0
    );
}

#[test]
fn maintain_compacts_loaded_long_histories_and_says_how_many() {
    let mut repo = Repo::in_memory(grouped()).expect("repo");
    type_chars(&mut repo, KEYSTROKES);
    repo.change("cal", |tx| tx.register("title").set("Standup"))
        .expect("small doc");
    assert_eq!(repo.maintain().expect("maintain"), 1);
    assert_eq!(repo.doc_status("notes").expect("status").logged_changes, 0);
    assert_eq!(
        repo.maintain().expect("again"),
        0,
        "nothing left to compact"
    );
}

#[test]
fn a_few_large_changes_make_a_long_history_too() {
    let mut repo = Repo::in_memory(grouped()).expect("repo");
    // Ten pastes of 10,000 characters: far fewer changes than LONG_HISTORY, but more bytes
    // than LONG_HISTORY_BYTES.
    for i in 0..10 {
        let paste: String = (0..10_000)
            .map(|k| char::from(b'a' + ((i + k) % 26) as u8))
            .collect();
        repo.change("import", |tx| tx.text("body").splice(0, 0, &paste))
            .expect("paste");
    }
    repo.change("small", |tx| tx.text("body").splice(0, 0, "a few words"))
        .expect("small doc");
    repo.flush().expect("flush");
    let logged = repo.doc_status("import").expect("status").logged_bytes;
    assert!(logged >= Repo::LONG_HISTORY_BYTES, "{logged} bytes logged");
    let text = repo.to_json("import").expect("json");
    assert_eq!(repo.maintain().expect("maintain"), 1, "only the import");
    assert_eq!(repo.doc_status("import").expect("status").logged_changes, 0);
    assert_eq!(repo.doc_status("small").expect("status").logged_changes, 1);
    assert_eq!(repo.to_json("import").expect("json"), text);
}

#[test]
fn a_document_too_damaged_to_compact_does_not_stop_an_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, expected) = typed_file_replica(&dir, |origin| {
        for _ in 0..KEYSTROKES {
            origin
                .change("victim", |tx| tx.counter("n").increment(1))
                .expect("change");
        }
    });
    {
        let conn = rusqlite::Connection::open(&path).expect("sqlite");
        conn.execute(
            "UPDATE log SET bytes = x'00' WHERE offset = (SELECT min(offset) FROM log
             WHERE doc = (SELECT key FROM docs WHERE id = 'victim'))",
            [],
        )
        .expect("damage a change");
    }

    let mut reopened = Repo::open(&path, grouped()).expect("reopen");
    assert!(
        reopened.maintain_all().is_err(),
        "maintain says what failed"
    );
    let image = reopened.export_image().expect("the export goes on");
    assert_eq!(
        reopened.doc_status("notes").expect("status").logged_changes,
        0
    );
    assert_eq!(
        reopened
            .doc_status("victim")
            .expect("status")
            .logged_changes,
        KEYSTROKES as u64,
        "the damaged document is carried as it is"
    );
    let mut copy = Repo::from_image(&image, None, grouped()).expect("copy");
    assert_eq!(copy.to_json("notes").expect("json"), expected);
    assert!(
        copy.to_json("victim").is_err(),
        "still damaged, and an error"
    );
}
