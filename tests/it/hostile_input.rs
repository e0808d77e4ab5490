//! Nothing received from the network or read from disk can panic, hang or allocate without
//! bound: it is rejected with an error, and the replica is left unchanged.
//!
//! The frames come from a real exchange between two replicas; every truncation of every frame,
//! and every single-bit flip of a sample of them, is delivered to a fresh session on a replica
//! that already holds data of its own. Frames a peer would have to forge are here too (a hello
//! from a future protocol, oversized lengths, a compression bomb); forged changes are in
//! `forged_changes.rs`, damaged store files in `corrupt_store.rs`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use polyarch::sync::{Limits, Message, Session, SessionConfig, SyncError, WireError, wire};
use polyarch::{DocId, Repo, RepoConfig, VersionVector};

/// What a test can observe of a replica: every document's JSON and version, the log head, and
/// the number of changes waiting for dependencies.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct State {
    pub(crate) docs: Vec<(DocId, serde_json::Value, VersionVector)>,
    pub(crate) log_head: u64,
    pub(crate) pending: usize,
}

pub(crate) fn state(repo: &mut Repo) -> State {
    let ids = repo.doc_ids().expect("doc ids");
    let docs = ids
        .into_iter()
        .map(|id| {
            let json = repo.to_json(&id).expect("to_json");
            let version = repo.version(&id).expect("version");
            (id, json, version)
        })
        .collect();
    let status = repo.status().expect("status");
    State {
        docs,
        log_head: status.log_head,
        pending: status.pending,
    }
}

/// The sender: a few documents of each kind, one of them compacted (so a snapshot travels).
pub(crate) fn sender() -> Repo {
    let mut a = Repo::in_memory(RepoConfig {
        label: "sender".into(),
        ..RepoConfig::default()
    })
    .expect("repo");
    // Long enough that the frame carrying these changes is compressed.
    for i in 0..6 {
        a.change("notes", |tx| {
            let line = format!("n{i:02} {}\n", "lorem ipsum ".repeat(4));
            tx.text("body").splice(i * line.len(), 0, &line)
        })
        .expect("change");
    }
    a.change("cal", |tx| {
        tx.register(["events", "e1", "title"])
            .set("Design review")?;
        tx.set(["events", "e1", "attendees"]).add("ada")?;
        tx.counter(["events", "e1", "rsvp"]).increment(2)
    })
    .expect("change");
    for i in 0..4 {
        a.change("archive", |tx| tx.counter("visits").increment(i))
            .expect("change");
    }
    a.compact("archive").expect("compact");
    a.change("archive", |tx| {
        tx.register("last").set("after the snapshot")
    })
    .expect("change");
    a
}

/// A replica with data of its own, which will receive the frames.
pub(crate) fn receiver() -> Repo {
    let mut r = Repo::in_memory(RepoConfig::default()).expect("repo");
    r.change("mine", |tx| {
        tx.text("draft").splice(0, 0, "receiver's own words")?;
        tx.set("tags").add("local")
    })
    .expect("change");
    r.change("cal", |tx| {
        tx.register(["events", "e2", "title"]).set("Lunch")
    })
    .expect("change");
    r
}

/// Syncs `a` with a fresh replica and returns every frame `a` sent, in order.
fn capture(a: &mut Repo) -> Vec<Vec<u8>> {
    let mut b = receiver();
    let mut sa = Session::new(SessionConfig::default());
    let mut sb = Session::new(SessionConfig::default());
    let mut sent = Vec::new();
    let mut to_b = sa.start(a).expect("start");
    let mut to_a = sb.start(&mut b).expect("start");
    while !to_a.is_empty() || !to_b.is_empty() {
        let mut next_to_a = Vec::new();
        for frame in to_b.drain(..) {
            next_to_a.extend(sb.receive(&mut b, &frame).expect("real frame"));
            sent.push(frame);
        }
        let mut next_to_b = Vec::new();
        for frame in to_a.drain(..) {
            next_to_b.extend(sa.receive(a, &frame).expect("real frame"));
        }
        to_a = next_to_a;
        to_b = next_to_b;
    }
    assert_eq!(a.to_json("notes").ok(), b.to_json("notes").ok());
    sent
}

fn kind(frame: &[u8]) -> &'static str {
    match wire::decode(frame, &Limits::default()) {
        Ok(Message::Hello(_)) => "hello",
        Ok(Message::Changes { changes, .. }) if changes.is_empty() => "changes(empty)",
        Ok(Message::Changes { .. }) => "changes",
        Ok(Message::Snapshots(_)) => "snapshots",
        Ok(Message::Summary { .. }) => "summary",
        Ok(Message::Ack { .. }) => "ack",
        Ok(_) => "other",
        Err(_) => "undecodable",
    }
}

#[derive(Debug, Default)]
struct Tally {
    accepted: usize,
    rejected: usize,
    /// Cases whose delivery panicked.
    panicked: Vec<String>,
}

impl Tally {
    /// Fails the test if any delivery panicked, naming the first few cases.
    fn assert_no_panic(&self) {
        assert!(
            self.panicked.is_empty(),
            "{} deliveries panicked ({} accepted, {} rejected cleanly), first: {:#?}",
            self.panicked.len(),
            self.accepted,
            self.rejected,
            &self.panicked[..self.panicked.len().min(5)]
        );
    }
}

/// Delivers `frame` to a fresh session on `r` and checks the outcome: it must be accepted, or
/// rejected with an error leaving the replica as it was; a panic is recorded in `tally`.
///
/// The session first gets the sender's real `hello` when the frame decodes (a frame that does
/// not decode is refused before the session looks at anything, with or without a hello).
/// `baseline` is the replica's state before the delivery. A frame rejected while decoding
/// never reaches the replica: for those the log head, queue and document list are compared
/// (the full state costs too much to take thousands of times in a debug build); for any other
/// rejection, the full state is. After a panic, or an accepted frame that changed what the
/// replica holds (a document under a mutated id, say), `r` is replaced by a fresh replica.
fn deliver(
    r: &mut Repo,
    hello: Option<&[u8]>,
    frame: &[u8],
    case: &str,
    baseline: &mut State,
    tally: &mut Tally,
) {
    let mut session = Session::new(SessionConfig::default());
    if let Some(hello) = hello
        && wire::decode(frame, &Limits::default()).is_ok()
    {
        session.receive(r, hello).expect("the real hello");
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| session.receive(r, frame)));
    match outcome {
        Err(_) => {
            tally.panicked.push(case.to_owned());
            *r = receiver();
            *baseline = state(r);
        }
        Ok(Ok(_)) => {
            tally.accepted += 1;
            let status = r.status().expect("status");
            if (status.log_head, status.pending, status.documents)
                != (baseline.log_head, baseline.pending, baseline.docs.len())
            {
                *r = receiver();
                *baseline = state(r);
            }
        }
        Ok(Err(SyncError::Wire(e))) => {
            assert!(!e.to_string().is_empty(), "{case}: empty error message");
            let status = r.status().expect("status");
            assert_eq!(
                (status.log_head, status.pending, status.documents),
                (baseline.log_head, baseline.pending, baseline.docs.len()),
                "{case}: rejected ({e}) but the replica changed"
            );
            tally.rejected += 1;
        }
        Ok(Err(e)) => {
            assert!(!e.to_string().is_empty(), "{case}: empty error message");
            assert_eq!(
                &state(r),
                baseline,
                "{case}: rejected ({e}) but the replica changed"
            );
            tally.rejected += 1;
        }
    }
}

#[test]
fn every_truncation_of_every_frame_is_rejected_cleanly() {
    let mut a = sender();
    let frames = capture(&mut a);
    assert!(frames.len() >= 4, "a real exchange has several frames");
    let mut r = receiver();
    let mut baseline = state(&mut r);
    let mut tally = Tally::default();
    for (k, frame) in frames.iter().enumerate() {
        let hello = (k > 0).then_some(frames[0].as_slice());
        for len in 0..frame.len() {
            let case = format!("frame {k} ({}) cut to {len} bytes", kind(frame));
            deliver(
                &mut r,
                hello,
                &frame[..len],
                &case,
                &mut baseline,
                &mut tally,
            );
        }
        let mut longer = frame.clone();
        longer.push(0);
        let case = format!("frame {k} ({}) with a byte too many", kind(frame));
        deliver(&mut r, hello, &longer, &case, &mut baseline, &mut tally);
    }
    tally.assert_no_panic();
    assert_eq!(tally.accepted, 0, "a truncated frame was accepted");
}

/// Whether a frame's payload is compressed (flag bit 0 of its header).
fn compressed(frame: &[u8]) -> bool {
    frame.get(6).is_some_and(|flags| flags & 1 == 1)
}

#[test]
fn every_bit_flip_of_sampled_frames_is_accepted_or_rejected_cleanly() {
    let mut a = sender();
    let frames = capture(&mut a);
    // Every bit of the hello, the summary, the snapshot and the smallest uncompressed changes
    // frame; every fifth bit of the compressed changes frame (a flip there inflates to
    // arbitrary payloads, often valid ones, and each costs a whole apply in a debug build).
    let mut sample: Vec<(usize, usize)> = Vec::new();
    for wanted in ["hello", "summary", "snapshots"] {
        if let Some(k) = frames.iter().position(|f| kind(f) == wanted) {
            sample.push((k, 1));
        }
    }
    let changes = |k: &usize| kind(&frames[*k]) == "changes";
    let plain = (0..frames.len())
        .filter(|k| changes(k) && !compressed(&frames[*k]))
        .min_by_key(|k| frames[*k].len());
    let packed = (0..frames.len()).find(|k| changes(k) && compressed(&frames[*k]));
    sample.extend(plain.map(|k| (k, 1)));
    sample.extend(packed.map(|k| (k, 5)));
    assert_eq!(sample.len(), 5, "sampled frames: {sample:?}");
    let mut r = receiver();
    let mut baseline = state(&mut r);
    let mut tally = Tally::default();
    for &(k, step) in &sample {
        let frame = &frames[k];
        let hello = (k > 0).then_some(frames[0].as_slice());
        for bit in (0..frame.len() * 8).step_by(step) {
            let mut flipped = frame.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let case = format!("frame {k} ({}) with bit {bit} flipped", kind(frame));
            deliver(&mut r, hello, &flipped, &case, &mut baseline, &mut tally);
        }
    }
    tally.assert_no_panic();
    assert!(tally.rejected > 0);
    // The replica that saw the last cases still takes the real exchange.
    let mut session = Session::new(SessionConfig::default());
    for frame in &frames {
        session.receive(&mut r, frame).expect("real frame");
    }
    assert_eq!(
        r.to_json("notes").expect("notes"),
        a.to_json("notes").expect("notes")
    );
    r.integrity_check().expect("integrity");
}

/// One frame holding `message`.
pub(crate) fn frame_of(message: &Message) -> Vec<u8> {
    wire::encode(message)
}

/// The sender's hello frame, as a session on `a` would send it.
pub(crate) fn hello_of(a: &mut Repo) -> Vec<u8> {
    let mut s = Session::new(SessionConfig::default());
    s.start(a).expect("start").remove(0)
}

#[test]
fn a_hello_with_an_unknown_protocol_version_is_refused() {
    let mut a = sender();
    let mut r = receiver();
    let Ok(Message::Hello(hello)) = wire::decode(&hello_of(&mut a), &Limits::default()) else {
        panic!("not a hello");
    };
    for versions in [(2, 9), (0, 0), (200, 255)] {
        let mut newer = hello.clone();
        newer.versions = versions;
        let before = state(&mut r);
        let mut s = Session::new(SessionConfig::default());
        let err = s
            .receive(&mut r, &frame_of(&Message::Hello(newer)))
            .expect_err("unknown protocol version");
        assert!(
            matches!(err, SyncError::Incompatible { theirs_min, theirs_max, .. }
                if (theirs_min, theirs_max) == versions),
            "{err:?}"
        );
        assert!(err.to_string().contains("upgrade"), "{err}");
        assert_eq!(state(&mut r), before);
    }
    // A frame format version from the future says so, too.
    let mut frame = hello_of(&mut a);
    frame[4] = 2;
    let mut s = Session::new(SessionConfig::default());
    let err = s.receive(&mut r, &frame).expect_err("newer format");
    assert!(
        matches!(
            err,
            SyncError::Wire(WireError::UnsupportedVersion { found: 2, .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade"), "{err}");
}

/// A frame with the given type and payload, written by hand.
fn raw_frame(kind: u8, flags: u8, declared_len: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = b"PLYA".to_vec();
    f.extend([1, kind, flags]);
    f.extend(declared_len.to_le_bytes());
    f.extend(payload);
    f
}

fn leb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[test]
fn oversized_declared_lengths_are_refused_without_allocating() {
    let mut a = sender();
    let mut r = receiver();
    let hello = hello_of(&mut a);
    let huge = 1u64 << 62;
    // A changes payload: one document, one actor, one change whose byte length is huge.
    let mut change_bytes = vec![1, 1, b'd', 1, 16];
    change_bytes.extend([7u8; 16]);
    change_bytes.extend([1, 0, 0, 1, 0]);
    leb(huge, &mut change_bytes);
    // A document table that claims 2^62 entries.
    let mut doc_table = Vec::new();
    leb(huge, &mut doc_table);
    // A summary whose version vector claims 2^62 entries.
    let mut summary = vec![0, 1, 1, b'd'];
    leb(huge, &mut summary);
    let mut snapshot = vec![1, 1, b'd'];
    leb(huge, &mut snapshot);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "declared frame length of 4 GiB",
            raw_frame(2, 0, u32::MAX, &[]),
        ),
        (
            "declared frame length of 4 GiB with some bytes",
            raw_frame(2, 0, u32::MAX, &[0; 64]),
        ),
        (
            "change bytes of 2^62",
            raw_frame(2, 0, change_bytes.len() as u32, &change_bytes),
        ),
        (
            "document table of 2^62",
            raw_frame(2, 0, doc_table.len() as u32, &doc_table),
        ),
        (
            "version vector of 2^62",
            raw_frame(4, 0, summary.len() as u32, &summary),
        ),
        (
            "snapshot of 2^62 bytes",
            raw_frame(3, 0, snapshot.len() as u32, &snapshot),
        ),
    ];
    for (what, frame) in cases {
        let before = state(&mut r);
        let mut s = Session::new(SessionConfig::default());
        s.receive(&mut r, &hello).expect("hello");
        let err = s.receive(&mut r, &frame).expect_err(what);
        assert!(matches!(err, SyncError::Wire(_)), "{what}: {err:?}");
        assert_eq!(state(&mut r), before, "{what}");
    }

    // A compression bomb: 4 MiB of zeros in a few KiB, against a 1 MiB inflate limit.
    use std::io::Write as _;
    let mut bomb = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![0u8; 4 << 20]).expect("deflate");
    let bomb = bomb.finish().expect("deflate");
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    let mut s = Session::new(SessionConfig {
        limits,
        ..SessionConfig::default()
    });
    s.receive(&mut r, &hello).expect("hello");
    let err = s
        .receive(&mut r, &raw_frame(2, 1, bomb.len() as u32, &bomb))
        .expect_err("bomb");
    assert!(
        matches!(err, SyncError::Wire(WireError::TooLarge { .. })),
        "{err:?}"
    );
}
