//! Feeds arbitrary bytes to the frame decoder. It must never panic, and whatever it accepts
//! must encode and decode back to the same message, with `frame_len` agreeing on its length.
//!
//! Run: `cargo +nightly fuzz run decode_frame fuzz/seeds/decode_frame` from the repository root.
//! A crash goes in `fuzz/regressions/`, where a unit test replays it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use polyarch::sync::wire::{Limits, decode, encode, frame_len};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let decoded = decode(data, &limits);
    let len = frame_len(data, &limits);
    if let Ok(msg) = decoded {
        assert_eq!(len, Some(Ok(data.len())), "frame_len disagrees with decode");
        let again = encode(&msg);
        let relaxed = Limits {
            max_frame_bytes: usize::MAX,
            ..limits
        };
        assert_eq!(
            decode(&again, &relaxed).as_ref(),
            Ok(&msg),
            "re-encoding changed the message"
        );
    }
});
