//! Group commits on the background thread: nothing acknowledged is lost, reads see every
//! change at once, and a failed commit undoes exactly the changes that build on it.

use std::time::Duration;

use super::{Durability, Repo, RepoConfig};
use crate::Error;

/// Groups of `max_changes`, never due by time: the tests decide when groups go.
fn grouped(max_changes: usize) -> RepoConfig {
    RepoConfig {
        durability: Durability::Group {
            max_changes,
            max_delay: Duration::from_secs(3600),
        },
        ..RepoConfig::default()
    }
}

fn count(repo: &mut Repo, doc: &str) -> i64 {
    repo.to_json(doc).expect("read")["n"]
        .as_i64()
        .expect("a counter")
}

#[test]
fn background_group_commits_keep_every_change_and_reads_see_them_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replica.db");
    let docs = ["a", "b", "c"];
    let mut expected = [0i64; 3];
    {
        let mut repo = Repo::open(&path, grouped(8)).expect("open");
        for i in 0..500i64 {
            let d = (i % 3) as usize;
            repo.change(docs[d], |tx| tx.counter("n").increment(i))
                .expect("change");
            expected[d] += i;
            assert_eq!(count(&mut repo, docs[d]), expected[d], "read-your-writes");
            // Up to that many groups wait while a batch as large commits.
            let bound = 2 * 8 * super::MAX_GROUPS_WAITING;
            assert!(
                repo.unflushed() <= bound,
                "{} changes wait",
                repo.unflushed()
            );
        }
        assert!(
            repo.commits.started(),
            "due groups went to the background thread"
        );
        // Dropped without a flush: the group in flight and the waiting one are committed.
    }
    let mut repo = Repo::open(&path, grouped(8)).expect("reopen");
    for (d, doc) in docs.iter().enumerate() {
        assert_eq!(count(&mut repo, doc), expected[d]);
    }
    let log = repo
        .store()
        .read_log(0, usize::MAX, usize::MAX)
        .expect("log");
    assert_eq!(log.len(), 500);
    let offsets: Vec<u64> = log.iter().map(|e| e.offset).collect();
    assert_eq!(
        offsets,
        (1..=500).collect::<Vec<u64>>(),
        "one offset each, in order"
    );
}

#[test]
fn flush_returns_the_receipts_of_the_group_in_flight_too() {
    let mut repo = Repo::in_memory(grouped(4)).expect("open");
    let mut hashes = Vec::new();
    for i in 0..6 {
        let committed = repo
            .change("doc", |tx| tx.counter("n").increment(i))
            .expect("change");
        hashes.push(committed.receipt.expect("a change").hash);
    }
    // The first four went to the background as a group; two wait.
    assert_eq!(repo.unflushed(), 6);
    let flushed = repo.flush().expect("flush");
    let got: Vec<_> = flushed.iter().map(|r| r.hash).collect();
    assert_eq!(got, hashes, "every receipt, in the order made");
    assert!(flushed.iter().all(|r| r.offset.is_some()));
    assert_eq!(repo.unflushed(), 0);
}

#[test]
fn a_failed_background_commit_undoes_its_changes_and_those_built_on_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replica.db");
    let mut repo = Repo::open(&path, grouped(10)).expect("open");
    repo.change("other", |tx| tx.counter("n").increment(1))
        .expect("a first change, alone in the log");
    repo.flush().expect("flush");
    // From the 22nd change to "x" on, the store refuses every insert.
    repo.store()
        .execute_batch_for_test(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON log
         WHEN NEW.seq > 21 BEGIN SELECT RAISE(ABORT, 'disk refused the write'); END;",
        )
        .expect("make a trigger");
    let mut failed_at = None;
    for i in 1..=100 {
        match repo.change("x", |tx| tx.counter("n").increment(1)) {
            Ok(_) => {}
            Err(Error::Store(e)) => {
                assert!(e.to_string().contains("disk refused"), "{e}");
                failed_at = Some(i);
                break;
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    // The group holding change 22 fails in the background, its transaction rolled back
    // whole; a later due group hears of it (how much later depends on when that commit ends).
    let failed_at = failed_at.expect("the failure surfaces within 100 changes");
    assert!(failed_at > 22, "surfaced at change {failed_at}");
    assert_eq!(
        repo.unflushed(),
        0,
        "what built on the failed group is gone too"
    );
    let log = repo
        .store()
        .read_log(0, usize::MAX, usize::MAX)
        .expect("log");
    let logged = log.iter().filter(|e| e.doc.as_str() == "x").count() as i64;
    assert!((10..=21).contains(&logged), "{logged} changes committed");
    assert_eq!(
        count(&mut repo, "x"),
        logged,
        "the document as the store holds it"
    );
    // The replica goes on once the store accepts writes again.
    repo.store()
        .execute_batch_for_test("DROP TRIGGER temp.refuse;")
        .expect("drop the trigger");
    repo.change("x", |tx| tx.counter("n").increment(100))
        .expect("change");
    repo.flush().expect("flush");
    drop(repo);
    let mut repo = Repo::open(&path, grouped(10)).expect("reopen");
    assert_eq!(count(&mut repo, "x"), logged + 100);
    assert_eq!(count(&mut repo, "other"), 1);
}

#[test]
fn a_receipt_made_before_its_group_commit_shows_on_disk_once_committed() {
    let mut repo = Repo::in_memory(grouped(4)).expect("open");
    let receipts: Vec<_> = (0..6)
        .map(|i| {
            let committed = repo
                .change("doc", |tx| tx.counter("n").increment(i))
                .expect("change");
            committed.receipt.expect("a change")
        })
        .collect();
    assert!(receipts.iter().all(|r| r.offset.is_none()));
    let on_disk = |repo: &Repo, r| repo.receipt_status(r).expect("status").on_disk;
    // Changes 5 and 6 wait for their group; 1-4 went to the background thread.
    assert!(!on_disk(&repo, &receipts[5]));
    repo.flush().expect("flush");
    for r in &receipts {
        assert!(
            on_disk(&repo, r),
            "the receipt of seq {} as it was made",
            r.seq
        );
    }
    // A receipt this replica never made is not on disk.
    let mut forged = receipts[0].clone();
    forged.hash = receipts[1].hash;
    assert!(!on_disk(&repo, &forged));
}
