//! How replicas find each other again: incremental resume from a log cursor, full resync for
//! wiped, restored or compacted histories, idempotent delivery, and a triangle of peers. What
//! the application sees of it (subscriptions, version tokens, receipts) is in
//! `receipts_and_tokens.rs`.

use std::time::{Duration, Instant};

use polyarch::sync::{Session, SessionConfig, SessionEvent, SessionStats, run_until_quiet};
use polyarch::{DocId, Durability, Repo, RepoConfig, VersionVector};

pub(crate) fn fast() -> RepoConfig {
    RepoConfig {
        durability: Durability::group(),
        ..RepoConfig::default()
    }
}

pub(crate) fn session_for(peer: &Repo) -> Session {
    Session::new(SessionConfig {
        peer_hint: Some(peer.device_id()),
        ..SessionConfig::default()
    })
}

/// What one sync between two replicas cost, seen from each side.
pub(crate) struct Synced {
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    pub(crate) a: SessionStats,
    pub(crate) b: SessionStats,
    pub(crate) a_events: Vec<SessionEvent>,
    pub(crate) b_events: Vec<SessionEvent>,
}

/// Connects `a` and `b` as peers that remember each other, until both are quiet. Commits
/// changes waiting for their group commit first, so that what travels does not depend on
/// timing (whether a sync commits them itself is checked on its own, in
/// `changes_waiting_for_their_group_commit_go_out_with_the_next_sync`).
pub(crate) fn sync(a: &mut Repo, b: &mut Repo) -> Synced {
    a.flush().expect("flush");
    b.flush().expect("flush");
    let mut sa = session_for(b);
    let mut sb = session_for(a);
    let exchange = run_until_quiet(&mut sa, a, &mut sb, b).expect("sync");
    Synced {
        frames: exchange.frames,
        bytes: exchange.bytes,
        a: sa.stats().clone(),
        b: sb.stats().clone(),
        a_events: sa.take_events(),
        b_events: sb.take_events(),
    }
}

fn docs_json(repo: &mut Repo) -> Vec<(DocId, serde_json::Value)> {
    let ids = repo.doc_ids().expect("doc ids");
    ids.into_iter()
        .map(|id| {
            let json = repo.to_json(&id).expect("to_json");
            (id, json)
        })
        .collect()
}

fn versions(repo: &mut Repo) -> Vec<(DocId, VersionVector)> {
    let ids = repo.doc_ids().expect("doc ids");
    ids.into_iter()
        .map(|id| {
            let v = repo.version(&id).expect("version");
            (id, v)
        })
        .collect()
}

/// Every change the replica holds got exactly one log offset: none was stored twice.
fn assert_no_change_stored_twice(repo: &mut Repo, who: &str) {
    let held: u64 = versions(repo).iter().map(|(_, v)| v.total()).sum();
    assert_eq!(
        repo.status().expect("status").log_head,
        held,
        "{who}: log head vs changes held"
    );
}

fn assert_converged(a: &mut Repo, b: &mut Repo) {
    assert_eq!(docs_json(a), docs_json(b));
    assert_eq!(versions(a), versions(b));
}

fn small_doc(i: usize) -> String {
    format!("doc-{i:04}")
}

/// Two replicas that share `n` small documents, fully synced.
fn shared_pair(n: usize) -> (Repo, Repo) {
    let mut a = Repo::in_memory(fast()).expect("repo");
    let mut b = Repo::in_memory(fast()).expect("repo");
    for i in 0..n {
        a.change(small_doc(i), |tx| tx.counter("n").increment(1))
            .expect("change");
    }
    a.flush().expect("flush");
    let first = sync(&mut a, &mut b);
    // B, a stranger, compares summaries; A needs none of B's: an empty log is held in full.
    assert!(
        !first.a.full_resync && first.b.full_resync,
        "only the side with something to learn compares summaries"
    );
    assert_eq!(b.doc_ids().expect("ids").len(), n);
    (a, b)
}

#[test]
fn reconnecting_after_offline_edits_costs_what_changed() {
    let started = Instant::now();
    let (mut a, mut b) = shared_pair(1_000);
    let setup = started.elapsed();

    // B edits 10 documents offline.
    let head_before = b.status().expect("status").log_head;
    for i in (0..1_000).step_by(100) {
        b.change(small_doc(i), |tx| tx.counter("n").increment(1))
            .expect("change");
    }
    b.flush().expect("flush");
    let edits = b
        .store()
        .read_log(head_before, 100, usize::MAX)
        .expect("log");
    assert_eq!(edits.len(), 10);
    let edit_bytes: u64 = edits.iter().map(|e| e.bytes.len() as u64).sum();

    let resumed = sync(&mut a, &mut b);
    assert!(!resumed.a.full_resync, "A fell back to a full resync");
    assert!(!resumed.b.full_resync, "B fell back to a full resync");
    assert_eq!(resumed.b.changes_out, 10);
    assert_eq!(resumed.a.changes_in, 10);
    assert_eq!(resumed.a.changes_out, 0, "A has nothing new for B");
    // Two hellos, the changes, an empty stretch and acks: a handful of frames whose size is
    // the changes' plus a small overhead, whatever the number of documents.
    assert!(resumed.frames <= 8, "{} frames", resumed.frames);
    assert!(
        resumed.bytes <= 2 * edit_bytes + 1_024,
        "{} bytes on the wire for {edit_bytes} bytes of changes",
        resumed.bytes
    );
    for i in (0..1_000).step_by(100) {
        assert_eq!(a.to_json(small_doc(i)).expect("json")["n"], 2);
    }
    assert_no_change_stored_twice(&mut a, "A");
    assert_no_change_stored_twice(&mut b, "B");
    eprintln!(
        "1,000 docs: setup {setup:?}; resume of 10 edits: {} frames, {} bytes ({edit_bytes} bytes of changes)",
        resumed.frames, resumed.bytes
    );
}

#[test]
fn a_wiped_peer_gets_a_full_resync_and_converges() {
    let (mut a, b) = shared_pair(100);
    a.change("after", |tx| tx.text("t").splice(0, 0, "written later"))
        .expect("change");
    drop(b);
    // The device is wiped: a new, empty store (a new device and epoch).
    let mut wiped = Repo::in_memory(fast()).expect("repo");
    let resync = sync(&mut a, &mut wiped);
    // The wiped store compares summaries; its empty log needs no resync the other way.
    assert!(!resync.a.full_resync && resync.b.full_resync);
    assert_eq!(resync.a.changes_out, 101);
    assert_converged(&mut a, &mut wiped);
    assert_no_change_stored_twice(&mut wiped, "wiped");
}

/// A device that only reads (its own log is empty) still has its cursor remembered: its next
/// connection resumes, in both directions, instead of comparing every document again.
#[test]
fn a_peer_with_an_empty_log_resumes_on_its_next_connection() {
    let mut a = Repo::in_memory(fast()).expect("repo");
    for i in 0..20 {
        a.change(format!("doc{i}").as_str(), |tx| {
            tx.counter("n").increment(1)
        })
        .expect("change");
    }
    let mut reader = Repo::in_memory(fast()).expect("repo");
    let first = sync(&mut a, &mut reader);
    assert!(
        first.a.full_resync || first.b.full_resync,
        "first contact compares versions"
    );
    a.change("doc0", |tx| tx.counter("n").increment(1))
        .expect("change");
    let again = sync(&mut a, &mut reader);
    assert!(
        !again.a.full_resync && !again.b.full_resync,
        "the reader's empty log was never given a cursor: every reconnect compares versions"
    );
    assert_eq!(again.a.changes_out, 1);
    assert_converged(&mut a, &mut reader);
}

/// Copies a closed store file (and its write-ahead log, if any) to `to`.
fn copy_store(from: &std::path::Path, to: &std::path::Path) {
    std::fs::copy(from, to).expect("copy");
    let wal = |p: &std::path::Path| p.with_extension("db-wal");
    let _ = std::fs::remove_file(wal(to));
    if wal(from).exists() {
        std::fs::copy(wal(from), wal(to)).expect("copy wal");
    }
}

/// A replica file synced with a peer, backed up, then more changes synced away, then the backup
/// copied back in place (the application closed all along). Returns the directory, the
/// restored file and the peer.
fn restored_setup() -> (tempfile::TempDir, std::path::PathBuf, Repo) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("phone.db");
    let backup = dir.path().join("backup.db");
    let mut a = Repo::in_memory(fast()).expect("repo");
    {
        let mut b = Repo::open(&path, fast()).expect("open");
        b.change("cal", |tx| tx.register("title").set("before the backup"))
            .expect("change");
        b.change("cal", |tx| tx.counter("n").increment(1))
            .expect("change");
        sync(&mut a, &mut b);
    }
    copy_store(&path, &backup);
    {
        let mut b = Repo::open(&path, fast()).expect("open");
        for i in 0..3 {
            b.change("cal", |tx| tx.counter("n").increment(10))
                .expect("change");
            b.change("notes", |tx| tx.set("after").add(format!("item {i}")))
                .expect("change");
        }
        sync(&mut a, &mut b);
    }
    copy_store(&backup, &path);
    (dir, path, a)
}

#[test]
fn a_store_restored_from_a_backup_rotates_its_actor_and_converges() {
    let (_dir, path, mut a) = restored_setup();
    let mut b = Repo::open(&path, fast()).expect("open the restored store");
    let old_actor = b.actor().clone();
    let synced = sync(&mut a, &mut b);
    assert!(
        synced.b_events.contains(&SessionEvent::RestoredFromBackup),
        "the restored side was told: {:?}",
        synced.b_events
    );
    assert_ne!(
        b.actor(),
        &old_actor,
        "the restored store must stop writing as its old actor"
    );
    // The changes made after the backup come back from the peer.
    assert_converged(&mut a, &mut b);
    assert_eq!(b.to_json("cal").expect("cal")["n"], 31);
    assert_eq!(
        b.to_json("notes").expect("notes")["after"]
            .as_object()
            .map(|m| m.len()),
        Some(3)
    );
    // New writes use the new actor, and travel without clashing with the lost ones.
    b.change("cal", |tx| tx.counter("n").increment(100))
        .expect("change");
    sync(&mut a, &mut b);
    assert_converged(&mut a, &mut b);
    assert_eq!(a.to_json("cal").expect("cal")["n"], 131);
    assert!(a.version("cal").expect("version").get(b.actor()) >= 1);
    drop(b);
    let b = Repo::open(&path, fast()).expect("reopen");
    b.integrity_check().expect("integrity");
    assert_ne!(b.actor(), &old_actor, "the new actor is persisted");
}

#[test]
fn a_store_restored_from_a_backup_that_writes_before_reconnecting_still_converges() {
    let (_dir, path, mut a) = restored_setup();
    let mut b = Repo::open(&path, fast()).expect("open the restored store");
    // The user types before the device reconnects: this write reuses a sequence number that
    // the lost changes already used.
    b.change("cal", |tx| tx.counter("n").increment(1000))
        .expect("change");
    b.flush().expect("flush");
    let mut sa = session_for(&b);
    let mut sb = session_for(&a);
    let result = run_until_quiet(&mut sa, &mut a, &mut sb, &mut b);
    let result = result.and_then(|_| {
        let mut sa = session_for(&b);
        let mut sb = session_for(&a);
        run_until_quiet(&mut sa, &mut a, &mut sb, &mut b)
    });
    result.expect("syncing a restored store that wrote before reconnecting");
    assert_converged(&mut a, &mut b);
    assert_eq!(
        a.to_json("cal").expect("cal")["n"],
        1031,
        "no write may be lost"
    );
}

#[test]
fn a_doc_compacted_after_the_peers_cursor_travels_as_a_snapshot() {
    let mut a = Repo::in_memory(fast()).expect("repo");
    let mut b = Repo::in_memory(fast()).expect("repo");
    a.change("d", |tx| tx.text("t").splice(0, 0, "hello"))
        .expect("change");
    a.change("other", |tx| tx.counter("n").increment(1))
        .expect("change");
    sync(&mut a, &mut b);
    for i in 0..5 {
        a.change("d", |tx| tx.text("t").splice(5 + i, 0, "!"))
            .expect("change");
    }
    a.compact("d").expect("compact");
    a.change("d", |tx| tx.counter("after").increment(1))
        .expect("change");
    assert_eq!(a.doc_status("d").expect("status").logged_changes, 1);
    let resumed = sync(&mut a, &mut b);
    assert!(
        !resumed.a.full_resync,
        "a compaction does not force a full resync"
    );
    assert_eq!(resumed.a.snapshots_out, 1);
    assert_converged(&mut a, &mut b);
    assert_eq!(b.to_json("d").expect("d")["t"], "hello!!!!!");
    assert_no_change_stored_twice(&mut b, "B");
}

/// Runs an exchange where every frame is delivered twice (the hello, which a session accepts
/// once, excepted). Returns every frame each side sent.
fn sync_delivering_twice(a: &mut Repo, b: &mut Repo) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut sa, mut sb) = (session_for(b), session_for(a));
    let (mut sent_a, mut sent_b) = (Vec::new(), Vec::new());
    let mut to_b = sa.start(a).expect("start");
    let mut to_a = sb.start(b).expect("start");
    let mut legs = 0;
    while !to_a.is_empty() || !to_b.is_empty() {
        legs += 1;
        assert!(legs < 100, "duplicated frames keep the exchange going");
        let mut next_to_a = Vec::new();
        for (i, frame) in to_b.drain(..).enumerate() {
            next_to_a.extend(sb.receive(b, &frame).expect("frame"));
            if legs > 1 || i > 0 {
                next_to_a.extend(sb.receive(b, &frame).expect("the same frame again"));
            }
            sent_a.push(frame);
        }
        let mut next_to_b = Vec::new();
        for (i, frame) in to_a.drain(..).enumerate() {
            next_to_b.extend(sa.receive(a, &frame).expect("frame"));
            if legs > 1 || i > 0 {
                next_to_b.extend(sa.receive(a, &frame).expect("the same frame again"));
            }
            sent_b.push(frame);
        }
        to_a = next_to_a;
        to_b = next_to_b;
    }
    (sent_a, sent_b)
}

#[test]
fn delivering_the_same_frames_twice_changes_nothing() {
    let mut a = Repo::in_memory(fast()).expect("repo");
    let mut b = Repo::in_memory(fast()).expect("repo");
    a.change("cal", |tx| {
        tx.counter("n").increment(1)?;
        tx.set("tags").add("a")
    })
    .expect("change");
    b.change("cal", |tx| {
        tx.counter("n").increment(2)?;
        tx.text("notes").splice(0, 0, "from b")
    })
    .expect("change");
    let (from_a, from_b) = sync_delivering_twice(&mut a, &mut b);
    assert_converged(&mut a, &mut b);
    assert_eq!(a.to_json("cal").expect("cal")["n"], 3);
    assert_no_change_stored_twice(&mut a, "A");
    assert_no_change_stored_twice(&mut b, "B");

    // Replaying the whole exchange to fresh sessions changes nothing either.
    let (json_a, json_b) = (docs_json(&mut a), docs_json(&mut b));
    let (head_a, head_b) = (
        a.status().expect("status").log_head,
        b.status().expect("status").log_head,
    );
    let mut sb = Session::new(SessionConfig::default());
    for frame in &from_a {
        sb.receive(&mut b, frame).expect("replayed frame");
    }
    let mut sa = Session::new(SessionConfig::default());
    for frame in &from_b {
        sa.receive(&mut a, frame).expect("replayed frame");
    }
    assert_eq!(docs_json(&mut a), json_a);
    assert_eq!(docs_json(&mut b), json_b);
    assert_eq!(a.status().expect("status").log_head, head_a);
    assert_eq!(b.status().expect("status").log_head, head_b);
}

/// A stretch can reach its receiver twice: a `Resume` the receiver sent crosses the stream it
/// asked for, and the sender sends the stretch again. If the acknowledgement of the first copy
/// was lost (the connection dropped), the second copy must be acknowledged too, or the sender
/// waits for it forever (seen as `polyarch sync` stalling right after a relay restart).
#[test]
fn a_stretch_received_again_is_acknowledged_again() {
    let mut a = Repo::in_memory(fast()).expect("repo");
    let mut b = Repo::in_memory(fast()).expect("repo");
    a.change("cal", |tx| tx.counter("n").increment(1))
        .expect("change");
    let (mut sa, mut sb) = (session_for(&b), session_for(&a));
    a.flush().expect("flush");
    run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).expect("sync");
    assert_eq!(sa.acked(), a.status().expect("status").log_head);

    a.change("cal", |tx| tx.counter("n").increment(1))
        .expect("change");
    let stream = sa.poll(&mut a).expect("poll");
    assert!(!stream.is_empty(), "the new change is streamed");
    for frame in &stream {
        // The first acknowledgement is lost.
        sb.receive(&mut b, frame).expect("frame");
    }
    let mut again = Vec::new();
    for frame in &stream {
        again.extend(sb.receive(&mut b, frame).expect("the same frame again"));
    }
    assert!(
        !again.is_empty(),
        "the stretch received again is acknowledged"
    );
    for frame in &again {
        sa.receive(&mut a, frame).expect("acknowledgement");
    }
    assert_eq!(sa.acked(), a.status().expect("status").log_head);
    assert_eq!(b.to_json("cal").expect("cal")["n"], 2);
}

#[test]
fn three_replicas_in_a_triangle_converge_without_storing_a_change_twice() {
    let mut r: Vec<Repo> = (0..3)
        .map(|_| Repo::in_memory(fast()).expect("repo"))
        .collect();
    // The shared containers exist everywhere before anyone writes to them: containers created
    // concurrently have their own tests (`concurrent_containers.rs`).
    r[0].change("shared", |tx| {
        tx.text("log").splice(0, 0, "start;")?;
        tx.set("seen").add("start")
    })
    .expect("change");
    for y in [1, 2] {
        let (p, q) = pair(&mut r, 0, y);
        sync(p, q);
    }
    for round in 0..3 {
        for (i, repo) in r.iter_mut().enumerate() {
            repo.change("shared", |tx| {
                tx.text("log").splice(0, 0, &format!("{i}-{round};"))?;
                tx.set("seen").add(format!("{i}-{round}"))
            })
            .expect("change");
            repo.change(format!("own-{i}"), |tx| tx.counter("n").increment(1))
                .expect("change");
        }
        // A-B, B-C, C-A.
        for (x, y) in [(0, 1), (1, 2), (2, 0)] {
            let (p, q) = pair(&mut r, x, y);
            sync(p, q);
        }
    }
    for (x, y) in [(0, 1), (1, 2), (2, 0)] {
        let (p, q) = pair(&mut r, x, y);
        sync(p, q);
    }
    for (x, y) in [(0, 1), (1, 2)] {
        let (p, q) = pair(&mut r, x, y);
        assert_converged(p, q);
    }
    let shared = r[0].to_json("shared").expect("shared");
    assert_eq!(shared["seen"].as_object().map(|m| m.len()), Some(10));
    assert_eq!(
        shared["log"].as_str().map(|t| t.matches(';').count()),
        Some(10)
    );
    for (i, repo) in r.iter_mut().enumerate() {
        assert_no_change_stored_twice(repo, &format!("replica {i}"));
        assert_eq!(repo.status().expect("status").log_head, 19);
    }
}

/// Two distinct replicas of a slice, mutably.
fn pair(r: &mut [Repo], x: usize, y: usize) -> (&mut Repo, &mut Repo) {
    assert_ne!(x, y);
    if x < y {
        let (left, right) = r.split_at_mut(y);
        (&mut left[x], &mut right[0])
    } else {
        let (left, right) = r.split_at_mut(x);
        (&mut right[0], &mut left[y])
    }
}

#[test]
fn changes_waiting_for_their_group_commit_go_out_with_the_next_sync() {
    let lazy = || RepoConfig {
        durability: Durability::Group {
            max_changes: 1_000,
            max_delay: Duration::from_secs(3600),
        },
        ..RepoConfig::default()
    };
    let mut a = Repo::in_memory(lazy()).expect("repo");
    let mut b = Repo::in_memory(lazy()).expect("repo");
    a.change("cal", |tx| tx.register("title").set("v1"))
        .expect("change");
    sync(&mut a, &mut b);
    // Now the peers know each other: the next sync resumes from cursors.
    a.change("cal", |tx| tx.register("title").set("v2"))
        .expect("change");
    assert_eq!(a.unflushed(), 1);
    let (mut sa, mut sb) = (session_for(&b), session_for(&a));
    run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).expect("sync");
    assert_eq!(a.unflushed(), 0, "a sync commits what it sends");
    assert_eq!(b.to_json("cal").expect("cal")["title"], "v2");
}

#[test]
fn a_new_replica_gets_everything_in_the_first_round_trip() {
    let mut a = Repo::in_memory(fast()).expect("repo");
    for i in 0..20 {
        a.change(small_doc(i), |tx| tx.counter("n").increment(1))
            .expect("change");
    }
    a.flush().expect("flush");
    a.compact(small_doc(0)).expect("compact");
    let mut b = Repo::in_memory(fast()).expect("repo");
    // A answers as a server does (a relay, a browser tab's Worker): it starts when B's first
    // frames arrive. B holds nothing, so its summary goes out with its hello, and A's answer
    // to that first flight already carries every document.
    let (mut sa, mut sb) = (Session::new(SessionConfig::default()), session_for(&a));
    let first = sb.start(&mut b).expect("start");
    let mut answer = Vec::new();
    for frame in &first {
        answer.extend(sa.receive(&mut a, frame).expect("B's first flight"));
    }
    for frame in &answer {
        sb.receive(&mut b, frame).expect("A's answer");
    }
    assert_eq!(docs_json(&mut b), docs_json(&mut a));
    assert_no_change_stored_twice(&mut b, "B");
}

#[test]
fn a_reconnection_after_offline_edits_on_both_sides_takes_one_round_trip() {
    let (mut a, mut b) = shared_pair(20);
    // Both acknowledged each other's logs in the first sync; now both edit offline.
    for i in 0..5 {
        a.change(small_doc(i), |tx| tx.counter("n").increment(1))
            .expect("change");
        b.change(small_doc(10 + i), |tx| tx.counter("n").increment(1))
            .expect("change");
    }
    a.flush().expect("flush");
    b.flush().expect("flush");
    let mut sa = session_for(&b);
    let mut sb = session_for(&a);
    let exchange = run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).expect("sync");
    // Each side streams what the other last acknowledged right behind its hello; the second
    // leg carries only the acknowledgements.
    assert_eq!(exchange.round_trips, 1, "{exchange:?}");
    assert!(!sa.stats().full_resync && !sb.stats().full_resync);
    assert_eq!((sa.stats().changes_out, sb.stats().changes_out), (5, 5));
    assert_converged(&mut a, &mut b);
    assert_no_change_stored_twice(&mut a, "A");
    assert_no_change_stored_twice(&mut b, "B");
    // And the acknowledgements arrived: the next reconnection has nothing to send.
    let again = sync(&mut a, &mut b);
    assert_eq!((again.a.changes_out, again.b.changes_out), (0, 0));
}

#[test]
fn a_peer_that_narrowed_what_it_asks_for_gets_only_that() {
    let (mut a, mut b) = shared_pair(20);
    for i in 0..20 {
        a.change(small_doc(i), |tx| tx.counter("n").increment(1))
            .expect("change");
    }
    a.flush().expect("flush");
    // A streams all 20 changes before B's hello, as B wanted everything last time; B now
    // asks for two documents only.
    let wanted = vec![
        DocId::new(small_doc(3)).expect("id"),
        DocId::new(small_doc(4)).expect("id"),
    ];
    let mut sa = session_for(&b);
    let mut sb = Session::new(SessionConfig {
        peer_hint: Some(a.device_id()),
        interest: polyarch::sync::Interest::Docs(wanted.clone()),
        ..SessionConfig::default()
    });
    run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).expect("sync");
    for i in 0..20 {
        let n = b.to_json(small_doc(i)).expect("json")["n"].clone();
        let expected = if wanted.iter().any(|d| d.as_str() == small_doc(i)) {
            2
        } else {
            1
        };
        assert_eq!(n, expected, "{}", small_doc(i));
    }
    assert_no_change_stored_twice(&mut b, "B");
}

#[test]
fn following_more_documents_later_gets_their_whole_history() {
    let (mut a, mut b) = shared_pair(2);
    // While B follows one document, A edits it and two others.
    for i in [0, 5, 6] {
        a.change(small_doc(i), |tx| tx.counter("n").increment(1))
            .expect("change");
    }
    a.flush().expect("flush");
    let a_device = a.device_id();
    let following = |docs: &[usize]| {
        let ids = docs.iter().map(|&i| DocId::new(small_doc(i)).expect("id"));
        Session::new(SessionConfig {
            peer_hint: Some(a_device),
            interest: polyarch::sync::Interest::Docs(ids.collect()),
            ..SessionConfig::default()
        })
    };
    let (mut sa, mut sb) = (session_for(&b), following(&[0]));
    run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).expect("sync");
    assert_eq!(b.to_json(small_doc(0)).expect("json")["n"], 2);
    assert!(!b.contains(small_doc(5)).expect("contains"));

    // B follows one more document: it gets that document's history, made before.
    let (mut sa, mut sb) = (session_for(&b), following(&[0, 5]));
    run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).expect("sync");
    assert_eq!(b.to_json(small_doc(5)).expect("json")["n"], 1);
    assert!(!b.contains(small_doc(6)).expect("contains"));

    // And following everything again brings the rest.
    let (mut sa, mut sb) = (session_for(&b), session_for(&a));
    run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).expect("sync");
    assert_converged(&mut a, &mut b);
    assert_no_change_stored_twice(&mut b, "B");
}

/// A long-lived session whose events nobody takes (a binding that never asks) stays bounded:
/// acknowledgements in a row merge into the latest, and at most `MAX_EVENTS` are kept.
#[test]
fn a_session_whose_events_nobody_takes_stays_bounded() {
    let mut a = Repo::in_memory(RepoConfig::default()).unwrap();
    let mut b = Repo::in_memory(RepoConfig::default()).unwrap();
    let mut sa = session_for(&b);
    let mut sb = session_for(&a);
    run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).unwrap();
    for i in 0..2 * polyarch::sync::MAX_EVENTS {
        a.change("doc", |tx| tx.counter(["n"]).increment(1))
            .unwrap();
        let mut to_b = sa.poll(&mut a).unwrap();
        while !to_b.is_empty() {
            let mut to_a = Vec::new();
            for f in &to_b {
                to_a.extend(sb.receive(&mut b, f).unwrap());
            }
            to_b = Vec::new();
            for f in &to_a {
                to_b.extend(sa.receive(&mut a, f).unwrap());
            }
        }
        assert!(sa.acked() > i as u64, "b acknowledged change {i}");
    }
    let events = sa.take_events();
    let acks: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Acked { upto } => Some(*upto),
            _ => None,
        })
        .collect();
    assert!(
        events.len() <= polyarch::sync::MAX_EVENTS,
        "{}",
        events.len()
    );
    assert_eq!(
        acks,
        [sa.acked()],
        "acknowledgements in a row merge into the latest"
    );
    assert_eq!(
        b.to_json("doc").unwrap()["n"],
        2 * polyarch::sync::MAX_EVENTS as i64
    );
}
