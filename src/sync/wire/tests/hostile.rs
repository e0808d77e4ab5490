//! Hostile input: truncations, bit flips, lying lengths and counts, unknown versions, types and
//! flags, deflate bombs, and the fuzz corpus and regressions.

use std::time::{Duration, Instant};

use super::*;

/// Generous, so that a slow CI machine passes; a hang or a quadratic blow-up does not.
const SLOW: Duration = Duration::from_secs(2);

/// Decodes `frame`; whatever decodes must encode and decode back to the same message. (Only
/// checked for uncompressed frames here, as compressing is slow in unoptimised builds; the fuzz
/// target checks every frame.)
fn decode_checked(frame: &[u8], limits: &Limits) -> Result<Message, WireError> {
    let start = Instant::now();
    let result = decode(frame, limits);
    assert!(
        start.elapsed() < SLOW,
        "decoding took {:?}",
        start.elapsed()
    );
    let compressed = frame
        .get(6)
        .is_some_and(|flags| flags & FLAG_COMPRESSED != 0);
    if let (Ok(msg), false) = (&result, compressed) {
        let again = encode(msg);
        let relaxed = Limits {
            max_frame_bytes: usize::MAX,
            ..*limits
        };
        assert_eq!(decode(&again, &relaxed).as_ref(), Ok(msg));
    }
    result
}

fn header(version: u8, kind: u8, flags: u8, len: u32) -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(&MAGIC).u8(version).u8(kind).u8(flags).u32_le(len);
    w.into_bytes()
}

fn raw_frame(kind: Kind, payload: &[u8]) -> Vec<u8> {
    let mut frame = header(FORMAT_VERSION, kind as u8, 0, payload.len() as u32);
    frame.extend_from_slice(payload);
    frame
}

fn compressed_frame(kind: Kind, payload: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(payload).unwrap();
    let body = enc.finish().unwrap();
    let mut frame = header(
        FORMAT_VERSION,
        kind as u8,
        FLAG_COMPRESSED,
        body.len() as u32,
    );
    frame.extend_from_slice(&body);
    frame
}

#[test]
fn every_truncation_and_bit_flip_is_handled() {
    let limits = Limits::default();
    let start = Instant::now();
    let mut decoded = 0usize;
    let mut rejected = 0usize;
    for (name, frame) in sample_frames() {
        for cut in 0..frame.len() {
            assert!(
                decode_checked(&frame[..cut], &limits).is_err(),
                "{name}: a frame cut at {cut} must be rejected"
            );
        }
        for byte in 0..frame.len() {
            for bit in 0..8 {
                let mut flipped = frame.clone();
                flipped[byte] ^= 1 << bit;
                match decode_checked(&flipped, &limits) {
                    Ok(_) => decoded += 1,
                    Err(_) => rejected += 1,
                }
            }
        }
    }
    assert!(
        decoded > 0 && rejected > 0,
        "{decoded} decoded, {rejected} rejected"
    );
    assert!(start.elapsed() < Duration::from_secs(120));
}

#[test]
fn mutated_payloads_inside_compressed_frames_are_handled() {
    // Flips in a compressed frame mostly break the DEFLATE stream; these reach the payload
    // decoder through a valid stream.
    let limits = Limits::default();
    let msg = Message::Changes {
        changes: real_changes(2, 6),
        stretch: Some(Stretch { from: 1, to: 2 }),
    };
    let mut w = Writer::new();
    payload::encode(&msg, &mut w);
    let payload = w.into_bytes();
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..400 {
        let mut mutated = payload.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..mutated.len());
            mutated[i] ^= 1 << rng.random_range(0..8);
        }
        let _ = decode_checked(&compressed_frame(Kind::Changes, &mutated), &limits);
        let cut = rng.random_range(0..mutated.len());
        let err = decode_checked(&compressed_frame(Kind::Changes, &mutated[..cut]), &limits);
        let _ = err;
    }
}

#[test]
fn lying_lengths_are_refused_before_reading_or_allocating() {
    let limits = Limits::default();
    let huge = header(FORMAT_VERSION, Kind::Changes as u8, 0, u32::MAX);
    assert!(matches!(
        decode(&huge, &limits),
        Err(WireError::TooLarge { what: "frame", .. })
    ));
    assert!(matches!(
        frame_len(&huge, &limits),
        Some(Err(WireError::TooLarge { .. }))
    ));
    // Even with no frame limit, a declared length that the bytes do not back is refused.
    let unlimited = Limits {
        max_frame_bytes: usize::MAX,
        ..limits
    };
    assert_eq!(
        decode(&huge, &unlimited),
        Err(WireError::Truncated {
            needed: u64::from(u32::MAX) + HEADER_LEN as u64,
            available: HEADER_LEN,
        })
    );
    // A frame longer than its header says.
    let mut ack = encode(&Message::Ack { upto: 1 });
    ack.push(0);
    assert_eq!(
        decode(&ack, &limits),
        Err(WireError::TrailingBytes { extra: 1 })
    );
    // A payload with a byte left over.
    let frame = raw_frame(Kind::Ack, &[5, 0]);
    assert!(matches!(
        decode(&frame, &limits),
        Err(WireError::Payload {
            source: DecodeError::TrailingBytes { count: 1 },
            ..
        })
    ));
    // An uncompressed payload over the decompressed limit.
    let small = Limits {
        max_decompressed_bytes: 4,
        ..limits
    };
    let frame = raw_frame(Kind::Ack, &[0x80, 0x80, 0x80, 0x80, 0x01]);
    assert!(matches!(
        decode(&frame, &small),
        Err(WireError::TooLarge {
            what: "payload",
            ..
        })
    ));
}

/// A `Changes` payload with the given table and change counts and nothing behind them.
fn changes_payload(docs: u64, actors: u64, changes: u64) -> Vec<u8> {
    let mut w = Writer::new();
    w.uint(docs).uint(actors).uint(changes);
    w.into_bytes()
}

#[test]
fn huge_counts_are_refused_without_allocating() {
    let limits = Limits::default();
    let started = Instant::now();
    let cases = [
        changes_payload(1 << 60, 0, 0),
        changes_payload(0, 1 << 60, 0),
        changes_payload(0, 0, 1 << 60),
        changes_payload(0, 0, u64::MAX),
        // Within the count limit, but the bytes cannot hold that many.
        changes_payload(0, 0, 99_999),
        changes_payload(99_999, 0, 0),
    ];
    for payload in &cases {
        for frame in [
            raw_frame(Kind::Changes, payload),
            compressed_frame(Kind::Changes, payload),
        ] {
            let err = decode(&frame, &limits).unwrap_err();
            assert!(
                matches!(
                    err,
                    WireError::Payload {
                        source: DecodeError::TooLarge { .. } | DecodeError::Truncated { .. },
                        ..
                    }
                ),
                "{err}"
            );
        }
    }
    let mut w = Writer::new();
    w.uint(1 << 60);
    let count_only = w.into_bytes();
    for kind in [Kind::Snapshots, Kind::Summary] {
        assert!(decode(&raw_frame(kind, &count_only), &limits).is_err());
    }
    // Summary: one actor, one document whose vector claims 2^60 entries.
    let mut w = Writer::new();
    w.uint(1).blob(&[1; 16]).uint(1).str("d").uint(1 << 60);
    assert!(decode(&raw_frame(Kind::Summary, &w.into_bytes()), &limits).is_err());
    // Hello listing 2^60 interesting documents.
    let mut w = Writer::new();
    w.u8(1)
        .u8(1)
        .bytes(&[0; 32])
        .uint(0)
        .str("")
        .u8(0)
        .u8(2)
        .uint(1 << 60);
    assert!(decode(&raw_frame(Kind::Hello, &w.into_bytes()), &limits).is_err());
    assert!(started.elapsed() < SLOW);
}

#[test]
fn the_actor_budget_covers_summary_entries() {
    // 3 documents of 2 entries each, with 2 actors: 2 + 6 = 8 actor entries in all.
    let vv: VersionVector = [(ActorId::from([1u8; 16]), 1), (ActorId::from([2u8; 16]), 2)]
        .into_iter()
        .collect();
    let msg = Message::Summary {
        docs: (0..3)
            .map(|i| (doc(&format!("d{i}")), vv.clone()))
            .collect(),
        last: true,
    };
    let frame = encode(&msg);
    let limits = |n| Limits {
        max_actors_per_frame: n,
        ..Limits::default()
    };
    assert_eq!(decode(&frame, &limits(8)).unwrap(), msg);
    assert!(decode(&frame, &limits(7)).is_err());
    // The splitter keeps to the same budget: each part holds one document (2 + 2 entries).
    let frames = encode_many(&[msg], &limits(5)).unwrap();
    assert_eq!(frames.len(), 3);
    for f in &frames {
        decode(f, &limits(5)).unwrap();
    }
}

#[test]
fn bad_indexes_ids_and_tags_are_corrupt() {
    let limits = Limits::default();
    // A change pointing at document 3 of a 1-entry table.
    let mut w = Writer::new();
    w.uint(1).str("d").uint(1).blob(&[1; 16]).uint(1);
    w.uint(3).uint(0).uint(1).uint(1).blob(b"").u8(0);
    assert!(matches!(
        decode(&raw_frame(Kind::Changes, &w.into_bytes()), &limits),
        Err(WireError::BadIndex {
            index: 3,
            len: 1,
            ..
        })
    ));
    // Document ids that break the rules.
    for bad in ["", "a\nb"] {
        let mut w = Writer::new();
        w.uint(1).str(bad).blob(b"snapshot");
        assert!(matches!(
            decode(&raw_frame(Kind::Snapshots, &w.into_bytes()), &limits),
            Err(WireError::BadDocId { .. })
        ));
    }
    // Invalid UTF-8 in a document id.
    let mut w = Writer::new();
    w.uint(1).blob(&[0xff, 0xfe]).blob(b"snapshot");
    assert!(decode(&raw_frame(Kind::Snapshots, &w.into_bytes()), &limits).is_err());
    // Option tags, flags and codes other than the defined ones.
    let mut w = Writer::new();
    w.uint(0).uint(0).uint(0).u8(2);
    assert!(matches!(
        decode(&raw_frame(Kind::Changes, &w.into_bytes()), &limits),
        Err(WireError::Payload {
            source: DecodeError::Unknown { .. },
            ..
        })
    ));
    for code in [0u8, 6, 255] {
        let mut w = Writer::new();
        w.u8(code).u8(0).str("no");
        let err = decode(&raw_frame(Kind::Refused, &w.into_bytes()), &limits).unwrap_err();
        assert!(err.to_string().contains("newer Polyarch"), "{err}");
    }
}

#[test]
fn unknown_versions_types_and_flags_are_named() {
    let limits = Limits::default();
    let ack = encode(&Message::Ack { upto: 1 });
    let with = |i: usize, v: u8| {
        let mut f = ack.clone();
        f[i] = v;
        f
    };
    let newer = decode(&with(4, 2), &limits).unwrap_err();
    assert_eq!(
        newer,
        WireError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    assert!(newer.to_string().contains("upgrade Polyarch"), "{newer}");
    let older = decode(&with(4, 0), &limits).unwrap_err();
    assert!(older.to_string().contains("corrupt"), "{older}");
    for code in [0u8, 9, 200, 255] {
        let err = decode(&with(5, code), &limits).unwrap_err();
        assert_eq!(err, WireError::UnknownMessageType { code });
        assert!(err.to_string().contains("newer Polyarch"));
    }
    for flags in [2u8, 0x80, 0xff] {
        assert_eq!(
            decode(&with(6, flags), &limits),
            Err(WireError::UnknownFlags { flags })
        );
    }
    assert_eq!(decode(&with(0, b'X'), &limits), Err(WireError::BadMagic));
    assert!(matches!(
        decode(b"", &limits),
        Err(WireError::Truncated { .. })
    ));
    assert!(matches!(
        decode(b"PLYA", &limits),
        Err(WireError::Truncated { .. })
    ));
}

/// A raw DEFLATE stream inflating to `mib` MiB of zeros, about 1 KiB per MiB: one block of a
/// MiB, repeated (a full flush ends each copy on a byte boundary with no back-reference to the
/// one before), then an empty final block.
fn deflate_bomb(mib: usize) -> Vec<u8> {
    let mut compressor = flate2::Compress::new(Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut block = Vec::with_capacity(8 << 10);
    compressor
        .compress_vec(&zeros, &mut block, flate2::FlushCompress::Full)
        .unwrap();
    assert_eq!(compressor.total_in(), zeros.len() as u64);
    let mut bomb = block.repeat(mib);
    // BFINAL = 1, fixed Huffman codes, end of block.
    bomb.extend_from_slice(&[0x03, 0x00]);
    bomb
}

#[test]
fn a_deflate_bomb_stops_at_the_cap() {
    let small = deflate_bomb(2);
    assert_eq!(inflate(&small, 4 << 20).unwrap(), vec![0u8; 2 << 20]);

    let bomb = deflate_bomb(100);
    assert!(bomb.len() < 200_000, "bomb is {} bytes", bomb.len());
    let mut frame = header(FORMAT_VERSION, Kind::Snapshots as u8, 1, bomb.len() as u32);
    frame.extend_from_slice(&bomb);
    let limits = Limits::default();
    let started = Instant::now();
    let err = decode(&frame, &limits).unwrap_err();
    let WireError::TooLarge { what, size, limit } = err else {
        panic!("{err}")
    };
    assert_eq!(what, "inflated payload");
    assert_eq!(limit, limits.max_decompressed_bytes as u64);
    // It stopped one byte past the cap: it never inflated (nor allocated for) the rest.
    assert_eq!(size, limit + 1);
    assert!(started.elapsed() < Duration::from_secs(30));
    // With a small cap it stops early, and quickly.
    let tight = Limits {
        max_decompressed_bytes: 1 << 20,
        ..limits
    };
    let started = Instant::now();
    assert!(matches!(
        inflate(&bomb, tight.max_decompressed_bytes),
        Err(WireError::TooLarge { size, .. }) if size == (1 << 20) + 1
    ));
    assert!(started.elapsed() < SLOW);
}

#[test]
fn broken_deflate_streams_are_corrupt() {
    let limits = Limits::default();
    let frames: std::collections::HashMap<_, _> = sample_frames().into_iter().collect();
    let good = &frames["changes_compressed"];
    // Cut inside the stream, with the header's length fixed up to match.
    let body = &good[HEADER_LEN..];
    for cut in [0, 1, body.len() / 2, body.len() - 1] {
        let mut frame = header(FORMAT_VERSION, Kind::Changes as u8, 1, cut as u32);
        frame.extend_from_slice(&body[..cut]);
        assert!(
            matches!(
                decode(&frame, &limits),
                Err(WireError::BadCompression { .. })
            ),
            "cut at {cut}"
        );
    }
    // Bytes after the end of the stream.
    let mut frame = header(
        FORMAT_VERSION,
        Kind::Changes as u8,
        1,
        body.len() as u32 + 1,
    );
    frame.extend_from_slice(body);
    frame.push(0);
    assert_eq!(
        decode(&frame, &limits),
        Err(WireError::BadCompression {
            reason: "bytes follow the end of the DEFLATE stream"
        })
    );
    // Garbage that is not DEFLATE at all.
    let mut frame = header(FORMAT_VERSION, Kind::Changes as u8, 1, 4);
    frame.extend_from_slice(&[0xff; 4]);
    assert!(matches!(
        decode(&frame, &limits),
        Err(WireError::BadCompression { .. })
    ));
}

fn fuzz_dir(sub: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(sub)
}

fn files_in(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn the_fuzz_seed_corpus_decodes() {
    let seeds = files_in(&fuzz_dir("seeds/decode_frame"));
    assert!(
        seeds.len() >= sample_frames().len(),
        "the seed corpus is missing: run `cargo test --lib sync::wire -- --ignored write_fuzz_seeds`"
    );
    for (path, frame) in seeds {
        decode(&frame, &Limits::default()).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

#[test]
fn fuzz_regressions_do_not_panic() {
    // Every crash the fuzzer finds is committed to fuzz/regressions/ and replayed here.
    for (_path, frame) in files_in(&fuzz_dir("regressions")) {
        let _ = decode_checked(&frame, &Limits::default());
        let _ = frame_len(&frame, &Limits::default());
    }
}

/// Writes the seed corpus from [`sample_frames`].
#[test]
#[ignore = "writes fuzz/seeds/decode_frame; run by hand after a format change"]
fn write_fuzz_seeds() {
    let dir = fuzz_dir("seeds/decode_frame");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, frame) in sample_frames() {
        std::fs::write(dir.join(name), frame).unwrap();
    }
}
