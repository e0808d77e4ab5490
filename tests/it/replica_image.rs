//! A replica exported as one byte string opens elsewhere (in memory or as a new file) with the
//! same documents, as a new device that writes as a new actor; bytes that are not an image are
//! refused with a clear error and nothing is written.

use polyarch::sync::{Session, SessionConfig, run_until_quiet};
use polyarch::{Error, Repo, RepoConfig, StoreError};

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
