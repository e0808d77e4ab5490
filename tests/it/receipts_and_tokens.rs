//! What the application sees of replication: subscribers hear of local and remote changes,
//! a version token carried to another replica says when it has caught up, and receipts say
//! how far a local change has travelled (on disk after its group commit, acknowledged by
//! peers after a sync).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use polyarch::sync::SessionEvent;
use polyarch::{DocEvent, DocId, Durability, Origin, Repo, RepoConfig, VersionVector};

use super::resume_and_resync::{fast, sync};

/// Picking the winning value of a register in conflict resolves it without changing any value
/// (automerge emits no patch); subscribers on both sides must still hear of it, or a view
/// showing the conflict never refreshes (and a transport polling on local events never sends).
#[test]
fn resolving_a_conflict_with_the_winning_value_is_heard_on_both_sides() {
    let mut a = Repo::in_memory(fast()).expect("repo");
    let mut b = Repo::in_memory(fast()).expect("repo");
    a.change("cal", |tx| tx.register("title").set("from a"))
        .expect("change");
    b.change("cal", |tx| tx.register("title").set("from b"))
        .expect("change");
    sync(&mut a, &mut b);
    let conflicts = |r: &mut Repo| {
        r.view("cal", |d| d.register("title").conflicts())
            .expect("view")
            .expect("conflicts")
            .len()
    };
    assert_eq!(conflicts(&mut a), 2);
    let winner = a
        .view("cal", |d| d.register("title").get())
        .expect("view")
        .expect("get")
        .expect("a value");

    let heard: Arc<Mutex<Vec<DocEvent>>> = Arc::default();
    for repo in [&mut a, &mut b] {
        let heard = Arc::clone(&heard);
        repo.subscribe(None, move |e| heard.lock().expect("lock").push(e.clone()));
    }
    let committed = a
        .change("cal", |tx| tx.register("title").set(winner.clone()))
        .expect("change");
    assert!(committed.receipt.is_some(), "the resolution is a change");
    sync(&mut a, &mut b);
    assert_eq!(conflicts(&mut a), 1);
    assert_eq!(conflicts(&mut b), 1);
    let heard = heard.lock().expect("lock");
    let origins: Vec<bool> = heard.iter().map(|e| e.origin == Origin::Local).collect();
    assert_eq!(
        origins,
        [true, false],
        "one local and one remote event: {heard:?}"
    );
}

#[test]
fn subscribers_hear_of_local_and_remote_changes() {
    let mut a = Repo::in_memory(fast()).expect("repo");
    let mut b = Repo::in_memory(fast()).expect("repo");
    let heard: Arc<Mutex<Vec<DocEvent>>> = Arc::default();
    let all = Arc::clone(&heard);
    b.subscribe(None, move |e| all.lock().expect("lock").push(e.clone()));
    let only_cal: Arc<Mutex<Vec<DocEvent>>> = Arc::default();
    let cal = Arc::clone(&only_cal);
    let cal_id = DocId::new("cal").expect("id");
    b.subscribe(Some(&cal_id), move |e| {
        cal.lock().expect("lock").push(e.clone())
    });

    b.change("cal", |tx| tx.register("title").set("local"))
        .expect("change");
    b.change("other", |tx| tx.counter("n").increment(1))
        .expect("change");
    a.change("cal", |tx| tx.set("guests").add("ada"))
        .expect("change");
    sync(&mut a, &mut b);

    let heard = heard.lock().expect("lock");
    let local: Vec<&str> = heard
        .iter()
        .filter(|e| e.origin == Origin::Local)
        .map(|e| e.doc.as_str())
        .collect();
    assert_eq!(local, ["cal", "other"]);
    let remote: Vec<&DocEvent> = heard
        .iter()
        .filter(|e| {
            e.origin
                == Origin::Remote {
                    peer: a.device_id(),
                }
        })
        .collect();
    assert_eq!(remote.len(), 1, "{heard:?}");
    assert_eq!(remote[0].doc.as_str(), "cal");
    assert!(!remote[0].patches.is_empty());
    let only_cal = only_cal.lock().expect("lock");
    assert_eq!(only_cal.len(), 2);
    assert!(only_cal.iter().all(|e| e.doc == cal_id));
}

/// A watcher hears of every change, local and remote, without patches; beside a subscriber
/// that wants them, it still gets none (and the subscriber still gets them).
#[test]
fn watchers_hear_of_changes_without_patches() {
    let mut a = Repo::in_memory(fast()).expect("repo");
    let mut b = Repo::in_memory(fast()).expect("repo");
    let watched: Arc<Mutex<Vec<DocEvent>>> = Arc::default();
    let w = Arc::clone(&watched);
    b.watch(None, move |e| w.lock().expect("lock").push(e.clone()));

    b.change("cal", |tx| tx.register("title").set("local"))
        .expect("change");
    a.change("cal", |tx| tx.set("guests").add("ada"))
        .expect("change");
    sync(&mut a, &mut b);
    {
        let watched = watched.lock().expect("lock");
        let heard: Vec<(bool, usize)> = watched
            .iter()
            .map(|e| (e.origin == Origin::Local, e.patches.len()))
            .collect();
        assert_eq!(heard, [(true, 0), (false, 0)], "{watched:?}");
    }

    let subscribed: Arc<Mutex<Vec<DocEvent>>> = Arc::default();
    let s = Arc::clone(&subscribed);
    b.subscribe(None, move |e| s.lock().expect("lock").push(e.clone()));
    a.change("cal", |tx| tx.set("guests").add("grace"))
        .expect("change");
    sync(&mut a, &mut b);
    assert!(watched.lock().expect("lock")[2].patches.is_empty());
    assert!(!subscribed.lock().expect("lock")[0].patches.is_empty());
}

#[test]
fn a_version_token_tells_another_replica_when_it_has_caught_up() {
    let mut a = Repo::in_memory(fast()).expect("repo");
    let mut b = Repo::in_memory(fast()).expect("repo");
    a.change("cal", |tx| tx.register("title").set("v1"))
        .expect("change");
    sync(&mut a, &mut b);
    a.change("cal", |tx| tx.register("title").set("v2"))
        .expect("change");
    let token = a.version("cal").expect("version").to_token();

    let wanted = VersionVector::from_token(&token).expect("token");
    assert!(!b.has_caught_up("cal", &wanted).expect("check"));
    assert!(!b.has_caught_up("never-seen", &wanted).expect("check"));
    sync(&mut a, &mut b);
    assert!(b.has_caught_up("cal", &wanted).expect("check"));
    let title = b.to_json("cal").expect("cal")["title"].clone();
    assert_eq!(title, "v2", "read-your-writes on the other replica");
}

#[test]
fn group_commit_receipts_get_their_offset_at_the_flush() {
    let mut a = Repo::in_memory(RepoConfig {
        durability: Durability::Group {
            max_changes: 1_000,
            max_delay: Duration::from_secs(3600),
        },
        ..RepoConfig::default()
    })
    .expect("repo");
    let mut receipts = Vec::new();
    for i in 0..5 {
        let committed = a
            .change("cal", |tx| tx.counter("n").increment(i))
            .expect("change");
        let receipt = committed.receipt.expect("a change was made");
        assert_eq!(receipt.offset, None, "not committed before the flush");
        assert!(!a.receipt_status(&receipt).expect("status").on_disk);
        receipts.push(receipt);
    }
    assert_eq!(a.unflushed(), 5);
    let flushed = a.flush().expect("flush");
    assert_eq!(flushed.len(), 5);
    for (before, after) in receipts.iter().zip(&flushed) {
        assert_eq!(before.hash, after.hash);
        assert!(after.offset.is_some());
        assert!(a.receipt_status(after).expect("status").on_disk);
    }
    let offsets: Vec<u64> = flushed.iter().filter_map(|r| r.offset).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    // A change that makes no operation has no receipt.
    let nothing = a.change("cal", |_| Ok(())).expect("empty change");
    assert!(nothing.receipt.is_none());
}

#[test]
fn a_receipt_shows_the_peers_that_acknowledged_it() {
    let mut a = Repo::in_memory(RepoConfig::default()).expect("repo");
    let mut b = Repo::in_memory(RepoConfig::default()).expect("repo");
    let receipt = a
        .change("cal", |tx| tx.register("title").set("hi"))
        .expect("change")
        .receipt
        .expect("receipt");
    let status = a.receipt_status(&receipt).expect("status");
    assert!(status.on_disk);
    assert!(status.acked_by.is_empty());
    let synced = sync(&mut a, &mut b);
    assert!(
        synced
            .a_events
            .iter()
            .any(|e| matches!(e, SessionEvent::Acked { .. })),
        "{:?}",
        synced.a_events
    );
    let status = a.receipt_status(&receipt).expect("status");
    assert_eq!(status.acked_by, [b.device_id()]);
    let peer = &a.status().expect("status").peers[0];
    assert_eq!(peer.unacked, 0);
    assert!(peer.last_contact_ms > 0);
}
