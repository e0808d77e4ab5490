//! Round trips, compression and splitting; hostile input is in `hostile`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod elision;
mod hostile;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::sync::message::{
    Cursor, Hello, Interest, RefusalCode, Stretch, WireChange, WireSnapshot,
};
use crate::{DeviceId, Epoch, VersionVector};

fn doc(s: &str) -> DocId {
    DocId::new(s).unwrap()
}

fn random_doc(rng: &mut StdRng) -> DocId {
    const CHARS: &[char] = &['a', 'b', 'z', '0', '9', '/', '-', '_', ' ', 'é', '日', '🗓'];
    let len = if rng.random_bool(0.02) {
        64
    } else {
        rng.random_range(1..24)
    };
    let s: String = (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())])
        .collect();
    // Keep within MAX_DOC_ID_LEN bytes even with 4-byte characters.
    doc(&s)
}

fn random_actor(rng: &mut StdRng) -> ActorId {
    let len = if rng.random_bool(0.9) {
        16
    } else {
        rng.random_range(0..=64)
    };
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes[..]);
    ActorId::from(bytes)
}

fn random_uint(rng: &mut StdRng) -> u64 {
    match rng.random_range(0..4) {
        0 => 0,
        1 => rng.random_range(0..200),
        2 => u64::MAX,
        _ => rng.random(),
    }
}

fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; rng.random_range(0..=max)];
    rng.fill(&mut bytes[..]);
    bytes
}

fn random_text(rng: &mut StdRng, max: usize) -> String {
    let len = rng.random_range(0..=max / 4);
    (0..len)
        .map(|_| {
            let c = rng.random_range(0x20u32..0x3000);
            char::from_u32(c).unwrap_or('?')
        })
        .collect()
}

fn random_vv(rng: &mut StdRng, actors: &[ActorId]) -> VersionVector {
    let n = rng.random_range(0..5);
    (0..n)
        .map(|_| {
            let actor = actors[rng.random_range(0..actors.len())].clone();
            (actor, rng.random_range(1..1_000_000))
        })
        .collect()
}

fn random_message(rng: &mut StdRng, variant: usize) -> Message {
    let actors: Vec<ActorId> = (0..rng.random_range(1..6))
        .map(|_| random_actor(rng))
        .collect();
    let docs: Vec<DocId> = (0..rng.random_range(1..6))
        .map(|_| random_doc(rng))
        .collect();
    match variant {
        0 => Message::Hello(Hello {
            versions: (rng.random(), rng.random()),
            device: DeviceId::from_bytes(rng.random()),
            epoch: Epoch::from_bytes(rng.random()),
            head: random_uint(rng),
            label: random_text(rng, MAX_LABEL_BYTES),
            resume: rng.random_bool(0.5).then(|| Cursor {
                epoch: Epoch::from_bytes(rng.random()),
                offset: random_uint(rng),
            }),
            interest: match rng.random_range(0..3) {
                0 => Interest::All,
                1 => Interest::Prefixes(
                    (0..rng.random_range(0..4))
                        .map(|_| random_text(rng, 256))
                        .collect(),
                ),
                _ => Interest::Docs(docs),
            },
            token: random_text(rng, MAX_TOKEN_BYTES),
        }),
        1 => Message::Changes {
            changes: (0..rng.random_range(0..40))
                .map(|_| WireChange {
                    doc: docs[rng.random_range(0..docs.len())].clone(),
                    actor: actors[rng.random_range(0..actors.len())].clone(),
                    seq: random_uint(rng),
                    offset: random_uint(rng),
                    bytes: random_bytes(rng, 300),
                })
                .collect(),
            stretch: rng.random_bool(0.5).then(|| Stretch {
                from: random_uint(rng),
                to: random_uint(rng),
            }),
        },
        2 => Message::Snapshots(
            docs.iter()
                .map(|doc| WireSnapshot {
                    doc: doc.clone(),
                    bytes: random_bytes(rng, 2000),
                })
                .collect(),
        ),
        3 => Message::Summary {
            docs: docs
                .iter()
                .map(|doc| (doc.clone(), random_vv(rng, &actors)))
                .collect(),
            last: rng.random(),
        },
        4 => Message::Resume(Cursor {
            epoch: Epoch::from_bytes(rng.random()),
            offset: random_uint(rng),
        }),
        5 => Message::NeedSummary,
        6 => Message::Ack {
            upto: random_uint(rng),
        },
        _ => Message::Refused {
            code: [
                RefusalCode::Unauthorized,
                RefusalCode::Expired,
                RefusalCode::Forbidden,
                RefusalCode::BadRequest,
                RefusalCode::Unavailable,
            ][rng.random_range(0..5)],
            doc: rng.random_bool(0.5).then(|| docs[0].clone()),
            message: random_text(rng, MAX_REFUSAL_BYTES),
        },
    }
}

/// Real automerge changes: `edits` commits to each of `docs` documents, by two writers.
pub(super) fn real_changes(docs: usize, edits: usize) -> Vec<WireChange> {
    let mut out = Vec::new();
    for d in 0..docs {
        let id = doc(&format!("calendar/team-{d}"));
        let mut writers = [
            AutoCommit::new().with_actor(ActorId::from([1u8; 16])),
            AutoCommit::new().with_actor(ActorId::from([2u8; 16])),
        ];
        for (w, am) in writers.iter_mut().enumerate() {
            let notes = am.put_object(ROOT, "notes", ObjType::Text).unwrap();
            for e in 0..edits {
                am.put(
                    ROOT,
                    format!("event-{w}-{e}"),
                    format!("Standup {e} in room {w}"),
                )
                .unwrap();
                am.splice_text(&notes, 0, 0, &format!("edit {e} by {w}. "))
                    .unwrap();
                am.commit_with(CommitOptions::default().with_time(0));
            }
            for mut change in am.get_changes(&[]) {
                out.push(WireChange {
                    doc: id.clone(),
                    actor: change.actor_id().clone(),
                    seq: change.seq(),
                    offset: (out.len() + 1) as u64,
                    bytes: change.bytes().into_owned(),
                });
            }
        }
    }
    out
}

/// A real automerge snapshot (compact save).
pub(super) fn real_snapshot() -> Vec<u8> {
    let mut am = AutoCommit::new().with_actor(ActorId::from([3u8; 16]));
    let rsvps = am.put_object(ROOT, "rsvps", ObjType::Map).unwrap();
    am.put(&rsvps, "ana", true).unwrap();
    am.increment(ROOT, "count", 0).ok();
    am.put(ROOT, "title", "Offsite").unwrap();
    am.commit_with(CommitOptions::default().with_time(0));
    am.save()
}

fn payload_len(msg: &Message) -> usize {
    let mut w = Writer::new();
    payload::encode(msg, &mut w);
    w.len()
}

fn is_compressed(frame: &[u8]) -> bool {
    frame[6] & FLAG_COMPRESSED != 0
}

/// Deterministic frames of every message type, built from real automerge data: the seeds of
/// the fuzz corpus and the subjects of the hostile-input tests.
pub(super) fn sample_frames() -> Vec<(&'static str, Vec<u8>)> {
    let small = real_changes(1, 1);
    let big = real_changes(2, 12);
    let vv: VersionVector = [
        (ActorId::from([1u8; 16]), 12),
        (ActorId::from([2u8; 16]), 3),
    ]
    .into_iter()
    .collect();
    let messages = [
        (
            "hello",
            Message::Hello(Hello {
                versions: (1, 1),
                device: DeviceId::from_bytes([9; 16]),
                epoch: Epoch::from_bytes([8; 16]),
                head: 1234,
                label: "laptop".into(),
                resume: Some(Cursor {
                    epoch: Epoch::from_bytes([7; 16]),
                    offset: 99,
                }),
                interest: Interest::Docs(vec![doc("calendar/team-0"), doc("calendar/team-1")]),
                token: "token-abc".into(),
            }),
        ),
        (
            "hello_prefixes",
            Message::Hello(Hello {
                versions: (1, 2),
                device: DeviceId::from_bytes([1; 16]),
                epoch: Epoch::from_bytes([2; 16]),
                head: 0,
                label: String::new(),
                resume: None,
                interest: Interest::Prefixes(vec!["calendar/".into()]),
                token: String::new(),
            }),
        ),
        (
            "changes_raw",
            Message::Changes {
                changes: small,
                stretch: None,
            },
        ),
        (
            "changes_compressed",
            Message::Changes {
                changes: big,
                stretch: Some(Stretch { from: 10, to: 58 }),
            },
        ),
        (
            "snapshots",
            Message::Snapshots(vec![WireSnapshot {
                doc: doc("calendar/team-0"),
                bytes: real_snapshot(),
            }]),
        ),
        (
            "summary",
            Message::Summary {
                docs: vec![
                    (doc("calendar/team-0"), vv.clone()),
                    (doc("calendar/team-1"), vv),
                    (doc("empty"), VersionVector::new()),
                ],
                last: true,
            },
        ),
        (
            "resume",
            Message::Resume(Cursor {
                epoch: Epoch::from_bytes([5; 16]),
                offset: 77,
            }),
        ),
        ("need_summary", Message::NeedSummary),
        ("ack", Message::Ack { upto: 300 }),
        (
            "refused",
            Message::Refused {
                code: RefusalCode::Forbidden,
                doc: Some(doc("calendar/team-0")),
                message: "this token may only read calendar/team-0".into(),
            },
        ),
    ];
    messages
        .into_iter()
        .map(|(name, msg)| (name, encode(&msg)))
        .collect()
}

#[test]
fn every_variant_round_trips() {
    let limits = Limits::default();
    for seed in 0..200u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        for variant in 0..8 {
            let msg = random_message(&mut rng, variant);
            let frame = encode(&msg);
            let back = decode(&frame, &limits)
                .unwrap_or_else(|e| panic!("seed {seed} variant {variant}: {e}\n{msg:?}"));
            assert_eq!(back, msg, "seed {seed} variant {variant}");
            assert_eq!(frame_len(&frame, &limits), Some(Ok(frame.len())));
            if seed % 4 == 0 {
                let frames = encode_many(std::slice::from_ref(&msg), &limits).unwrap();
                assert_eq!(frames.len(), 1, "seed {seed}: small messages are not split");
                assert_eq!(decode(&frames[0], &limits).unwrap(), msg);
            }
        }
    }
}

#[test]
fn sample_frames_decode_and_real_changes_survive() {
    let limits = Limits::default();
    for (name, frame) in sample_frames() {
        let msg = decode(&frame, &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(encode(&msg), frame, "{name}: encoding is deterministic");
        if let Message::Changes { changes, .. } = msg {
            for change in changes {
                let am = automerge::Change::from_bytes(change.bytes).unwrap();
                assert_eq!(am.actor_id(), &change.actor);
                assert_eq!(am.seq(), change.seq);
            }
        }
    }
    let frames: std::collections::HashMap<_, _> = sample_frames().into_iter().collect();
    assert!(!is_compressed(&frames["changes_raw"]));
    assert!(is_compressed(&frames["changes_compressed"]));
}

#[test]
fn big_changes_are_compressed_and_smaller() {
    let msg = Message::Changes {
        changes: real_changes(4, 40),
        stretch: None,
    };
    let raw = payload_len(&msg);
    assert!(raw > COMPRESS_ABOVE);
    let frame = encode(&msg);
    assert!(is_compressed(&frame));
    assert!(
        frame.len() < HEADER_LEN + raw,
        "compressed frame {} vs raw payload {raw}",
        frame.len()
    );
    assert_eq!(decode(&frame, &Limits::default()).unwrap(), msg);
}

#[test]
fn small_and_incompressible_payloads_stay_raw() {
    let ack = encode(&Message::Ack { upto: 5 });
    assert!(!is_compressed(&ack));
    assert_eq!(ack.len(), HEADER_LEN + 1);
    let mut rng = StdRng::seed_from_u64(1);
    let mut noise = vec![0u8; 50_000];
    rng.fill(&mut noise[..]);
    let msg = Message::Snapshots(vec![WireSnapshot {
        doc: doc("noise"),
        bytes: noise,
    }]);
    let frame = encode(&msg);
    assert!(
        !is_compressed(&frame),
        "compression that does not pay is skipped"
    );
    assert_eq!(frame.len(), HEADER_LEN + payload_len(&msg));
}

/// Synthetic changes with incompressible bytes, `size` bytes each.
fn noise_changes(n: usize, size: usize, seed: u64) -> Vec<WireChange> {
    let mut rng = StdRng::seed_from_u64(seed);
    let actors: Vec<ActorId> = (0..50).map(|_| random_actor(&mut rng)).collect();
    (0..n)
        .map(|i| {
            let mut bytes = vec![0u8; size];
            rng.fill(&mut bytes[..]);
            WireChange {
                doc: doc(&format!("doc-{}", i % 300)),
                actor: actors[i % actors.len()].clone(),
                seq: (i / actors.len() + 1) as u64,
                offset: i as u64 + 1,
                bytes,
            }
        })
        .collect()
}

/// Decodes frames and checks each against `limits`.
fn decode_all(frames: &[Vec<u8>], limits: &Limits) -> Vec<Message> {
    frames
        .iter()
        .map(|frame| {
            assert!(frame.len() <= limits.max_frame_bytes);
            decode(frame, limits).unwrap()
        })
        .collect()
}

#[test]
fn long_histories_become_a_few_large_frames() {
    let changes = noise_changes(12_000, 250, 7);
    let total: usize = changes.iter().map(|c| c.bytes.len()).sum();
    let stretch = Some(Stretch {
        from: 0,
        to: 12_000,
    });
    let msg = Message::Changes {
        changes: changes.clone(),
        stretch,
    };
    let limits = Limits::default();
    let frames = encode_many(&[msg], &limits).unwrap();
    let most = total / TARGET_PAYLOAD_BYTES + 2;
    assert!(
        frames.len() >= 2 && frames.len() <= most,
        "{} frames for {total} bytes",
        frames.len()
    );
    for frame in &frames {
        assert!(frame.len() <= HEADER_LEN + TARGET_PAYLOAD_BYTES);
    }
    // Full frames are nearly full: a few large frames, not many small ones.
    assert!(frames[0].len() > TARGET_PAYLOAD_BYTES * 9 / 10);
    let parts = decode_all(&frames, &limits);
    let mut joined = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let Message::Changes {
            changes,
            stretch: part_stretch,
        } = part
        else {
            panic!("part {i} is not Changes");
        };
        let is_last = i == frames.len() - 1;
        assert_eq!(part_stretch, if is_last { stretch } else { None });
        joined.extend(changes);
    }
    assert_eq!(joined, changes, "order and content are kept");
}

#[test]
fn splitting_respects_count_limits() {
    let limits = Limits {
        max_changes_per_frame: 1000,
        max_docs_per_frame: 50,
        max_actors_per_frame: 20,
        ..Limits::default()
    };
    let changes = noise_changes(5000, 10, 3);
    let frames = encode_many(
        &[Message::Changes {
            changes: changes.clone(),
            stretch: None,
        }],
        &limits,
    )
    .unwrap();
    let mut joined = Vec::new();
    for part in decode_all(&frames, &limits) {
        let Message::Changes { changes, .. } = part else {
            panic!("not Changes")
        };
        assert!(changes.len() <= 1000);
        joined.extend(changes);
    }
    assert_eq!(joined, changes);
    // The same frames are refused by a receiver with smaller limits than the sender assumed.
    let stricter = Limits {
        max_actors_per_frame: 10,
        ..limits
    };
    assert!(frames.iter().any(|f| decode(f, &stricter).is_err()));
}

#[test]
fn summaries_and_snapshots_split_with_last_on_the_last_part() {
    let mut rng = StdRng::seed_from_u64(11);
    let actors: Vec<ActorId> = (0..100).map(|_| random_actor(&mut rng)).collect();
    let docs: Vec<(DocId, VersionVector)> = (0..15_000)
        .map(|i| {
            (
                doc(&format!("calendar/{i:08}")),
                random_vv(&mut rng, &actors),
            )
        })
        .collect();
    let limits = Limits {
        max_docs_per_frame: 5_000,
        ..Limits::default()
    };
    for last in [true, false] {
        let msg = Message::Summary {
            docs: docs.clone(),
            last,
        };
        let frames = encode_many(&[msg], &limits).unwrap();
        assert!(frames.len() >= 3);
        let parts = decode_all(&frames, &limits);
        let mut joined = Vec::new();
        for (i, part) in parts.into_iter().enumerate() {
            let Message::Summary {
                docs,
                last: part_last,
            } = part
            else {
                panic!("not Summary")
            };
            assert_eq!(part_last, last && i == frames.len() - 1);
            joined.extend(docs);
        }
        assert_eq!(joined, docs);
    }

    let snapshots: Vec<WireSnapshot> = (0..5)
        .map(|i| WireSnapshot {
            doc: doc(&format!("big-{i}")),
            bytes: random_bytes(&mut rng, 700_000),
        })
        .collect();
    let frames = encode_many(&[Message::Snapshots(snapshots.clone())], &limits).unwrap();
    assert!(frames.len() >= 2);
    let joined: Vec<WireSnapshot> = decode_all(&frames, &limits)
        .into_iter()
        .flat_map(|m| match m {
            Message::Snapshots(s) => s,
            other => panic!("not Snapshots: {other:?}"),
        })
        .collect();
    assert_eq!(joined, snapshots);
}

#[test]
fn empty_messages_still_make_one_frame() {
    let limits = Limits::default();
    let msgs = [
        Message::Changes {
            changes: Vec::new(),
            stretch: Some(Stretch { from: 3, to: 9 }),
        },
        Message::Summary {
            docs: Vec::new(),
            last: true,
        },
        Message::Snapshots(Vec::new()),
        Message::NeedSummary,
    ];
    let frames = encode_many(&msgs, &limits).unwrap();
    assert_eq!(decode_all(&frames, &limits), msgs);
}

#[test]
fn the_encoder_refuses_what_no_receiver_would_accept() {
    let limits = Limits {
        max_frame_bytes: 1 << 20,
        ..Limits::default()
    };
    let mut rng = StdRng::seed_from_u64(5);
    let mut huge = vec![0u8; 2 << 20];
    rng.fill(&mut huge[..]);
    let err = encode_many(
        &[Message::Snapshots(vec![WireSnapshot {
            doc: doc("huge"),
            bytes: huge.clone(),
        }])],
        &limits,
    )
    .unwrap_err();
    assert!(
        matches!(&err, EncodeError::TooLarge { doc: Some(d), .. } if d.as_str() == "huge"),
        "{err}"
    );
    // One change larger than the target (but within the limits) goes alone in its frame.
    let mut changes = noise_changes(3, 10, 1);
    changes[1].bytes = huge[..(1 << 20) + 10].to_vec();
    let err = encode_many(
        &[Message::Changes {
            changes: changes.clone(),
            stretch: None,
        }],
        &limits,
    )
    .unwrap_err();
    assert!(matches!(err, EncodeError::TooLarge { .. }), "{err}");
    let frames = encode_many(
        &[Message::Changes {
            changes,
            stretch: None,
        }],
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(frames.len(), 3);

    let hello = Message::Hello(Hello {
        versions: (1, 1),
        device: DeviceId::from_bytes([0; 16]),
        epoch: Epoch::from_bytes([0; 16]),
        head: 0,
        label: "x".repeat(MAX_LABEL_BYTES + 1),
        resume: None,
        interest: Interest::All,
        token: String::new(),
    });
    assert!(matches!(
        encode_many(std::slice::from_ref(&hello), &limits),
        Err(EncodeError::FieldTooLong {
            what: "hello label",
            ..
        })
    ));
    // `encode` writes it anyway; the receiver names the problem.
    let err = decode(&encode(&hello), &limits).unwrap_err();
    assert!(err.to_string().contains("hello label"), "{err}");

    let long_actor = Message::Changes {
        changes: vec![WireChange {
            doc: doc("d"),
            actor: ActorId::from(vec![1u8; 65]),
            seq: 1,
            offset: 1,
            bytes: Vec::new(),
        }],
        stretch: None,
    };
    assert!(matches!(
        encode_many(&[long_actor], &limits),
        Err(EncodeError::FieldTooLong {
            what: "actor id",
            ..
        })
    ));
}

#[test]
fn frame_len_cuts_a_byte_stream_into_frames() {
    let limits = Limits::default();
    let frames: Vec<Vec<u8>> = sample_frames().into_iter().map(|(_, f)| f).collect();
    let stream: Vec<u8> = frames.concat();
    // Feed the stream in awkward pieces, as a socket would.
    let mut buffer = Vec::new();
    let mut got = Vec::new();
    for piece in stream.chunks(7) {
        buffer.extend_from_slice(piece);
        while let Some(len) = frame_len(&buffer, &limits) {
            let len = len.unwrap();
            if buffer.len() < len {
                break;
            }
            got.push(buffer.drain(..len).collect::<Vec<u8>>());
        }
    }
    assert!(buffer.is_empty());
    assert_eq!(got, frames);
    assert_eq!(frame_len(b"", &limits), None);
    assert_eq!(frame_len(b"PLY", &limits), None);
    assert_eq!(frame_len(b"PLYA\x01\x02\x00\x00\x00", &limits), None);
    assert_eq!(
        frame_len(b"GET / HTTP/1.1", &limits),
        Some(Err(WireError::BadMagic))
    );
    assert_eq!(frame_len(b"PX", &limits), Some(Err(WireError::BadMagic)));
}
