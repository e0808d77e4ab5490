//! Changes a peer forges: a flood that depends on a change never sent, envelopes (writer,
//! sequence number) that disagree with the bytes, and bytes altered in transit. Each is refused
//! with a typed error, memory stays bounded, and the replica is left unchanged.

use std::num::NonZeroU64;

use polyarch::automerge::{ActorId, Change, ExpandedChange};
use polyarch::sync::{Message, Session, SessionConfig, SyncError, WireChange};
use polyarch::{DocId, Repo, RepoConfig};

use super::hostile_input::{frame_of, hello_of, receiver, sender, state};

/// `n` changes that all depend on a change of a private fork that is never sent, as they
/// would travel. They are encoded directly (automerge's expanded form), which costs far less
/// than making 20,000 changes through a document in a debug build.
fn orphans(n: usize) -> (Repo, Vec<WireChange>) {
    let mut fork = Repo::in_memory(RepoConfig::default()).expect("repo");
    let never_sent = fork
        .change("flood", |tx| tx.register("base").set("never sent"))
        .expect("change")
        .receipt
        .expect("receipt")
        .hash;
    let actor = ActorId::random();
    let doc = DocId::new("flood").expect("id");
    let changes = (1..=n as u64)
        .map(|seq| {
            let change = Change::from(ExpandedChange {
                operations: Vec::new(),
                actor_id: actor.clone(),
                hash: None,
                seq,
                start_op: NonZeroU64::MIN,
                time: 0,
                message: Some(format!("orphan {seq}")),
                deps: vec![never_sent],
                extra_bytes: Vec::new(),
                author: None,
            });
            WireChange {
                doc: doc.clone(),
                actor: actor.clone(),
                seq,
                offset: 0,
                bytes: change.raw_bytes().to_vec(),
            }
        })
        .collect();
    (fork, changes)
}

fn changes_frame(changes: Vec<WireChange>) -> Vec<u8> {
    frame_of(&Message::Changes {
        changes,
        stretch: None,
    })
}

const PENDING_LIMIT: usize = 500;

fn small_queue_receiver() -> Repo {
    let mut r = Repo::in_memory(RepoConfig {
        max_pending_changes: PENDING_LIMIT,
        ..RepoConfig::default()
    })
    .expect("repo");
    r.change("mine", |tx| tx.set("tags").add("local"))
        .expect("change");
    r
}

#[test]
fn a_flood_of_changes_with_missing_dependencies_overflows_with_a_typed_error() {
    let (mut f, flood) = orphans(20_000);
    let mut r = small_queue_receiver();
    let before = state(&mut r);
    let mut s = Session::new(SessionConfig::default());
    s.receive(&mut r, &hello_of(&mut f)).expect("hello");
    let mut overflows = 0;
    for chunk in flood.chunks(1_000) {
        match s.receive(&mut r, &changes_frame(chunk.to_vec())) {
            Ok(_) => {}
            Err(SyncError::PendingOverflow { limit, .. }) => {
                assert_eq!(limit, PENDING_LIMIT);
                overflows += 1;
            }
            Err(e) => panic!("expected PendingOverflow, got {e:?}"),
        }
        assert!(
            r.pending_changes() <= PENDING_LIMIT,
            "the queue grew past its limit"
        );
    }
    assert!(overflows >= 19, "{overflows} of 20 frames overflowed");
    let after = state(&mut r);
    assert_eq!(
        after.docs, before.docs,
        "waiting changes must not be visible"
    );
    assert_eq!(
        after.log_head, before.log_head,
        "waiting changes must not be logged"
    );
}

#[test]
fn a_frame_refused_for_overflow_leaves_the_queue_as_it_was() {
    let (mut f, flood) = orphans(PENDING_LIMIT + 100);
    let mut r = small_queue_receiver();
    let mut s = Session::new(SessionConfig::default());
    s.receive(&mut r, &hello_of(&mut f)).expect("hello");
    let before = state(&mut r);
    let err = s
        .receive(&mut r, &changes_frame(flood))
        .expect_err("overflow");
    assert!(matches!(err, SyncError::PendingOverflow { .. }), "{err:?}");
    assert_eq!(
        state(&mut r),
        before,
        "a refused frame must leave the replica, its queue included, unchanged"
    );
    // An honest peer's out-of-order changes still find room afterwards.
    let mut g = Repo::in_memory(RepoConfig::default()).expect("repo");
    g.change("other", |tx| tx.counter("n").increment(1))
        .expect("change");
    g.change("other", |tx| tx.counter("n").increment(1))
        .expect("change");
    let log = g.store().read_log(0, 10, usize::MAX).expect("log");
    let wire: Vec<WireChange> = log
        .into_iter()
        .map(|e| WireChange {
            doc: e.doc,
            actor: e.actor,
            seq: e.seq,
            offset: 0,
            bytes: e.bytes,
        })
        .collect();
    let mut s = Session::new(SessionConfig::default());
    s.receive(&mut r, &hello_of(&mut g)).expect("hello");
    s.receive(&mut r, &changes_frame(vec![wire[1].clone()]))
        .expect("the second change waits for the first");
    s.receive(&mut r, &changes_frame(vec![wire[0].clone()]))
        .expect("the first change releases the second");
    assert_eq!(r.to_json("other").expect("other")["n"], 2);
}

#[test]
fn a_change_whose_envelope_disagrees_with_its_bytes_is_invalid() {
    let mut a = sender();
    let mut r = receiver();
    let log = a.store().read_log(0, 100, usize::MAX).expect("log");
    let real = log
        .into_iter()
        .find(|e| e.doc.as_str() == "notes")
        .expect("a notes change");
    let good = WireChange {
        doc: real.doc.clone(),
        actor: real.actor.clone(),
        seq: real.seq,
        offset: 0,
        bytes: real.bytes.clone(),
    };
    let cases = [
        (
            "another sequence number",
            WireChange {
                seq: real.seq + 1,
                ..good.clone()
            },
        ),
        (
            "another writer",
            WireChange {
                actor: ActorId::random(),
                ..good.clone()
            },
        ),
        (
            "bytes that are no change",
            WireChange {
                bytes: b"definitely not an automerge change".to_vec(),
                ..good.clone()
            },
        ),
        (
            "no bytes",
            WireChange {
                bytes: Vec::new(),
                ..good.clone()
            },
        ),
    ];
    let hello = hello_of(&mut a);
    for (what, bad) in cases {
        let before = state(&mut r);
        let mut s = Session::new(SessionConfig::default());
        s.receive(&mut r, &hello).expect("hello");
        // The good change travels with the bad one: the whole frame is refused.
        let err = s
            .receive(&mut r, &changes_frame(vec![good.clone(), bad]))
            .expect_err(what);
        assert!(
            matches!(&err, SyncError::InvalidChange { doc, .. } if doc.as_str() == "notes"),
            "{what}: {err:?}"
        );
        assert_eq!(state(&mut r), before, "{what}");
    }
}

#[test]
fn a_change_altered_in_transit_is_invalid() {
    // Automerge parses a change without checking its checksum: the receiver must, or a change
    // altered in transit would be taken for the real one and poison the document.
    let mut a = sender();
    let mut r = receiver();
    let log = a.store().read_log(0, 100, usize::MAX).expect("log");
    let real = log
        .into_iter()
        .find(|e| e.doc.as_str() == "notes")
        .expect("a notes change");
    let at = real
        .bytes
        .windows(4)
        .position(|w| w == b"n00 ")
        .expect("the inserted text is stored as is");
    let mut bytes = real.bytes.clone();
    bytes[at] = b'N';
    let altered = WireChange {
        doc: real.doc.clone(),
        actor: real.actor.clone(),
        seq: real.seq,
        offset: 0,
        bytes,
    };
    let before = state(&mut r);
    let mut s = Session::new(SessionConfig::default());
    s.receive(&mut r, &hello_of(&mut a)).expect("hello");
    let err = s
        .receive(&mut r, &changes_frame(vec![altered]))
        .expect_err("an altered change");
    assert!(matches!(err, SyncError::InvalidChange { .. }), "{err:?}");
    assert_eq!(state(&mut r), before);
}

/// A change that had to wait for its dependency holds the cursor into the sender's log back only
/// while it waits: once the dependency arrives and both apply, the next stretch moves the
/// cursor and is acknowledged (before, one wait held the cursor for the rest of the connection).
#[test]
fn a_change_that_waited_holds_the_cursor_back_only_while_it_waits() {
    let mut a = Repo::in_memory(RepoConfig::default()).expect("repo");
    for n in 1..=3 {
        a.change("doc", |tx| tx.counter("n").increment(n))
            .expect("change");
    }
    let log = a.store().read_log(0, 10, usize::MAX).expect("log");
    let wire = |i: usize| WireChange {
        doc: log[i].doc.clone(),
        actor: log[i].actor.clone(),
        seq: log[i].seq,
        offset: log[i].offset,
        bytes: log[i].bytes.clone(),
    };
    let stretch = |from, to| Some(polyarch::sync::Stretch { from, to });
    let acks = |frames: Vec<Vec<u8>>| -> Vec<u64> {
        frames
            .iter()
            .filter_map(
                |f| match polyarch::sync::wire::decode(f, &Default::default()) {
                    Ok(Message::Ack { upto }) => Some(upto),
                    _ => None,
                },
            )
            .collect()
    };
    let mut r = Repo::in_memory(RepoConfig::default()).expect("repo");
    let mut s = Session::new(SessionConfig::default());
    s.receive(&mut r, &hello_of(&mut a)).expect("hello");
    // The second change arrives without the first: it waits, and the cursor stays.
    let out = s
        .receive(
            &mut r,
            &frame_of(&Message::Changes {
                changes: vec![wire(1)],
                stretch: stretch(0, log[1].offset),
            }),
        )
        .expect("a change that must wait");
    assert_eq!(r.pending_changes(), 1);
    assert!(
        acks(out).is_empty(),
        "acknowledged a stretch it does not hold"
    );
    // The first arrives (as a full resync would send it): both apply.
    s.receive(&mut r, &changes_frame(vec![wire(0)]))
        .expect("the missing dependency");
    assert_eq!(r.pending_changes(), 0);
    // The next stretch starts where the receiver's cursor stands, and is acknowledged.
    let out = s
        .receive(
            &mut r,
            &frame_of(&Message::Changes {
                changes: vec![wire(0), wire(1), wire(2)],
                stretch: stretch(0, log[2].offset),
            }),
        )
        .expect("the rest");
    assert_eq!(acks(out), [log[2].offset]);
    assert_eq!(
        r.view("doc", |v| v.counter("n").value())
            .expect("view")
            .expect("read"),
        6
    );
}
