//! Dependency elision in `Changes` payloads: what it saves, that it restores the exact bytes,
//! and that every way of lying in a back-reference is rejected.

use super::*;

/// The `Changes` payload of `changes`, uncompressed.
fn payload_of(changes: &[WireChange]) -> Vec<u8> {
    let mut w = Writer::new();
    payload::encode_changes(changes, None, &mut w);
    w.into_bytes()
}

fn frame_of(payload: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(&MAGIC)
        .u8(FORMAT_VERSION)
        .u8(Kind::Changes as u8)
        .u8(0)
        .u32_le(payload.len() as u32);
    let mut frame = w.into_bytes();
    frame.extend_from_slice(payload);
    frame
}

/// One change whose only dependency is the change before it, `n` times (a typist's changes).
fn typing(n: usize) -> Vec<WireChange> {
    let mut am = AutoCommit::new().with_actor(ActorId::from([7u8; 16]));
    let text = am.put_object(ROOT, "text", ObjType::Text).unwrap();
    am.commit_with(CommitOptions::default().with_time(0));
    for i in 0..n {
        am.splice_text(&text, i, 0, "x").unwrap();
        am.commit_with(CommitOptions::default().with_time(0));
    }
    am.get_changes(&[])
        .into_iter()
        .map(|mut c| WireChange {
            doc: doc("notes"),
            actor: c.actor_id().clone(),
            seq: c.seq(),
            offset: c.seq(),
            bytes: c.bytes().into_owned(),
        })
        .collect()
}

#[test]
fn a_typists_changes_leave_out_the_hashes_of_their_predecessors() {
    let changes = typing(50);
    let raw: usize = changes.iter().map(|c| c.bytes.len()).sum();
    let payload = payload_of(&changes);
    // 49 of the 50 dependencies name a change of the same frame: 32 bytes each, minus the
    // 2-byte back-reference.
    assert!(
        payload.len() + 49 * 30 <= raw + 50 * 8,
        "payload {} for {} bytes of changes",
        payload.len(),
        raw
    );
    let msg = decode(&frame_of(&payload), &Limits::default()).unwrap();
    assert_eq!(
        msg,
        Message::Changes {
            changes,
            stretch: None
        }
    );
}

#[test]
fn changes_of_several_documents_and_writers_restore_exactly() {
    let changes = real_changes(3, 5);
    let msg = Message::Changes {
        changes,
        stretch: None,
    };
    let frames = encode_many(std::slice::from_ref(&msg), &Limits::default()).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(decode(&frames[0], &Limits::default()).unwrap(), msg);
}

/// A payload with one change of `typing(2)` as given and a second whose elision is `pairs`
/// over `bytes`.
fn lying_payload(pairs: &[(u64, u64)], bytes: &[u8]) -> Vec<u8> {
    let first = &typing(0)[0];
    let mut w = Writer::new();
    w.uint(1).str("notes").uint(1).blob(&[7u8; 16]).uint(2);
    w.uint(0).uint(0).uint(1).uint(1).uint(0).blob(&first.bytes);
    w.uint(0).uint(0).uint(2).uint(2).uint(pairs.len() as u64);
    for (position, distance) in pairs {
        w.uint(*position).uint(*distance);
    }
    w.blob(bytes).u8(0);
    w.into_bytes()
}

#[test]
fn back_references_that_cannot_be_restored_are_rejected() {
    let changes = typing(1);
    let second = &changes[1].bytes;
    // The second change with its one dependency taken out, as an encoder would send it.
    let stripped = {
        let mut elider = elide::Elider::default();
        let _ = elider.next(&changes[0].bytes);
        elider.next(second).1.into_owned()
    };
    assert_eq!(stripped.len() + 32, second.len());
    // The honest payload decodes.
    let honest = lying_payload(&[(0, 1)], &stripped);
    assert!(decode(&frame_of(&honest), &Limits::default()).is_ok());

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("distance 0", lying_payload(&[(0, 0)], &stripped)),
        (
            "before the first change",
            lying_payload(&[(0, 2)], &stripped),
        ),
        ("huge distance", lying_payload(&[(0, u64::MAX)], &stripped)),
        (
            "position past the list",
            lying_payload(&[(1, 1)], &stripped),
        ),
        ("two for one", lying_payload(&[(0, 1), (1, 1)], &stripped)),
        (
            "not increasing",
            lying_payload(&[(0, 1), (0, 1)], &stripped),
        ),
        ("not a change", lying_payload(&[(0, 1)], b"hello, world")),
        (
            "cut inside the header",
            lying_payload(&[(0, 1)], &stripped[..9]),
        ),
    ];
    for (what, payload) in cases {
        let result = decode(&frame_of(&payload), &Limits::default());
        assert!(
            matches!(
                result,
                Err(WireError::BadElision { .. }) | Err(WireError::Payload { .. })
            ),
            "{what}: {result:?}"
        );
    }
}

#[test]
fn a_back_reference_to_the_wrong_change_fails_the_checksum() {
    // Three changes; the third claims its dependency is the first (it is the second).
    let changes = typing(2);
    let mut elider = elide::Elider::default();
    let _ = elider.next(&changes[0].bytes);
    let _ = elider.next(&changes[1].bytes);
    let (elided, stripped) = elider.next(&changes[2].bytes);
    assert_eq!(elided.len(), 1);
    let mut w = Writer::new();
    w.uint(1).str("notes").uint(1).blob(&[7u8; 16]).uint(3);
    for (i, c) in changes.iter().take(2).enumerate() {
        w.uint(0)
            .uint(0)
            .uint(i as u64 + 1)
            .uint(0)
            .uint(0)
            .blob(&c.bytes);
    }
    w.uint(0)
        .uint(0)
        .uint(3)
        .uint(0)
        .uint(1)
        .uint(0)
        .uint(2)
        .blob(&stripped);
    w.u8(0);
    let Message::Changes { changes: got, .. } =
        decode(&frame_of(&w.into_bytes()), &Limits::default()).unwrap()
    else {
        panic!("not a Changes message");
    };
    // The wire format hands the bytes on; the checksum inside them catches the lie.
    assert_ne!(got[2].bytes, changes[2].bytes);
    assert!(crate::model::Doc::decode_change(&got[2].bytes).is_err());
}

#[test]
fn restoring_stops_at_the_inflated_payload_limit() {
    let changes = typing(40);
    let payload = payload_of(&changes);
    let tight = Limits {
        max_decompressed_bytes: payload.len() + 10 * 32,
        ..Limits::default()
    };
    assert!(matches!(
        decode(&frame_of(&payload), &tight),
        Err(WireError::BadElision { .. })
    ));
}
