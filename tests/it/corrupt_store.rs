//! A damaged store file gives a clear error, never a panic: a corrupt change, corrupt stored
//! values (identity, versions, snapshots, ids, schema markers) and overwritten pages. The file
//! is damaged with SQLite itself (through `rusqlite`) or byte by byte while the replica is
//! closed.

use std::panic::{AssertUnwindSafe, catch_unwind};

use polyarch::{Error, Repo, RepoConfig, StoreError};

/// A store file with three documents, closed; returns the directory and the path.
fn stored_replica() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("replica.db");
    let mut repo = Repo::open(&path, RepoConfig::default()).expect("open");
    for i in 0..5 {
        repo.change("victim", |tx| tx.counter("n").increment(i))
            .expect("change");
    }
    repo.change("bystander", |tx| tx.register("x").set("intact"))
        .expect("change");
    for i in 0..3 {
        repo.change("compacted", |tx| tx.counter("n").increment(i))
            .expect("change");
    }
    repo.compact("compacted").expect("compact");
    drop(repo);
    (dir, path)
}

fn sql(path: &std::path::Path, statement: &str) {
    let conn = rusqlite::Connection::open(path).expect("rusqlite open");
    conn.execute_batch(statement).expect("sql");
}

#[test]
fn a_corrupt_change_on_disk_gives_a_clear_error() {
    let (_dir, path) = stored_replica();
    {
        let conn = rusqlite::Connection::open(&path).expect("rusqlite open");
        let (offset, mut bytes): (i64, Vec<u8>) = conn
            .query_row(
                "SELECT offset, bytes FROM log WHERE doc = (SELECT key FROM docs WHERE id = 'victim')
                 ORDER BY offset LIMIT 1 OFFSET 2",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .expect("a logged change");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        conn.execute(
            "UPDATE log SET bytes = ?1 WHERE offset = ?2",
            rusqlite::params![bytes, offset],
        )
        .expect("corrupt");
    }
    let mut repo = Repo::open(&path, RepoConfig::default()).expect("the store itself is fine");
    let loaded = catch_unwind(AssertUnwindSafe(|| repo.to_json("victim")))
        .unwrap_or_else(|_| panic!("loading a document with a corrupt change panicked"));
    let err = loaded.expect_err("a corrupt change must not load");
    assert!(!err.to_string().is_empty());
    eprintln!("corrupt change: {err}");
    assert_eq!(
        repo.to_json("bystander")
            .expect("other documents still load")["x"],
        "intact"
    );
}

#[test]
fn corrupt_stored_values_give_clear_errors() {
    let cases = [
        ("a short epoch", "UPDATE meta SET epoch = x'0102'"),
        ("a short device id", "UPDATE meta SET device = x''"),
        ("a negative log head", "UPDATE meta SET log_head = -5"),
        ("a negative sequence number", "UPDATE versions SET seq = -1"),
        (
            "a garbage snapshot",
            "UPDATE docs SET snapshot = x'deadbeef' WHERE id = 'compacted'",
        ),
        (
            "a garbage snapshot version",
            "UPDATE docs SET snapshot_version = x'ff00' WHERE id = 'compacted'",
        ),
        (
            "an invalid document id",
            "UPDATE docs SET id = '' WHERE id = 'victim'",
        ),
        ("a schema from the future", "PRAGMA user_version = 99"),
        ("another program's database", "PRAGMA application_id = 7"),
    ];
    for (what, statement) in cases {
        let (_dir, path) = stored_replica();
        sql(&path, statement);
        let outcome = catch_unwind(AssertUnwindSafe(|| touch_everything(&path)));
        match outcome {
            Err(_) => panic!("{what}: panicked"),
            Ok(Ok(())) => panic!("{what}: went unnoticed"),
            Ok(Err(e)) => {
                assert!(!e.to_string().is_empty());
                eprintln!("{what}: {e}");
            }
        }
    }
}

/// Opens the store, reads everything in it and writes to every document, through the public
/// API.
fn touch_everything(path: &std::path::Path) -> Result<(), Error> {
    let mut repo = Repo::open(path, RepoConfig::default())?;
    repo.integrity_check()?;
    repo.status()?;
    for id in repo.doc_ids()? {
        repo.to_json(&id)?;
        repo.doc_status(&id)?;
        repo.change(&id, |tx| tx.counter("touched").increment(1))?;
    }
    Ok(())
}

#[test]
fn damaged_pages_and_foreign_files_give_clear_errors() {
    // Not a database at all.
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is a text file, not a replica\n".repeat(200)).expect("write");
    let err = Repo::open(&junk, RepoConfig::default()).expect_err("not a store");
    assert!(
        matches!(err, Error::Store(StoreError::NotAStore { .. })),
        "{err:?}"
    );

    // Bytes overwritten in the middle of the file, at several places.
    let (_dir, path) = stored_replica();
    let original = std::fs::read(&path).expect("read");
    let page = 4096;
    let mut noticed = 0;
    for at in (page..original.len()).step_by(page / 2) {
        let mut bytes = original.clone();
        for b in &mut bytes[at..(at + 64).min(original.len())] {
            *b ^= 0xa5;
        }
        std::fs::write(&path, &bytes).expect("write");
        match catch_unwind(AssertUnwindSafe(|| touch_everything(&path))) {
            Err(_) => panic!("damage at byte {at}: panicked"),
            Ok(Ok(())) => {}
            Ok(Err(_)) => noticed += 1,
        }
    }
    assert!(noticed > 0, "no damage was noticed");
}
