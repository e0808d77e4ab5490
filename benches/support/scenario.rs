//! The sync scenarios, as plain data, so that the baseline and Polyarch replay exactly the same
//! edits.

use super::trace::{CharString, Patch, Trace};

/// Keystrokes per change in the divergence scenario.
pub const KEYSTROKES_PER_CHANGE: usize = 100;
/// Small changes replica B makes while A types the second half.
pub const B_EDITS: usize = 50;

/// B4: two replicas share the first half of a trace, then diverge.
///
/// Replay: both replicas start from one document holding `start` in a text object and apply
/// `shared` (one change per inner `Vec`, [`KEYSTROKES_PER_CHANGE`] keystrokes each) — or one
/// replica does and the other receives it, as long as both end with the same history and no sync
/// state about each other. Then, offline, replica A applies `a_changes` (again one change per
/// inner `Vec`) and replica B applies each patch of `b_changes` as its own change. Then they
/// sync, and both must end with the same text of [`Divergence::merged_chars`] characters.
#[derive(Clone, Debug)]
pub struct Divergence {
    /// Initial text of the document.
    pub start: String,
    /// Changes both replicas have before they diverge.
    pub shared: Vec<Vec<Patch>>,
    /// Replica A's offline changes (the second half of the trace).
    pub a_changes: Vec<Vec<Patch>>,
    /// Replica B's offline changes: one single-character insert each.
    pub b_changes: Vec<Patch>,
    /// Length in characters of the text after the sync.
    pub merged_chars: usize,
}

/// Build the divergence scenario from a trace.
pub fn divergence(trace: &Trace) -> Divergence {
    let half = trace.keystrokes() / 2;
    let chunks = |txns: &[Vec<Patch>]| -> Vec<Vec<Patch>> {
        txns.chunks(KEYSTROKES_PER_CHANGE)
            .map(|c| c.concat())
            .collect()
    };
    let shared = chunks(&trace.txns[..half]);
    let a_changes = chunks(&trace.txns[half..]);

    // B inserts one letter at each of 50 places spread evenly over the half-way text. Earlier
    // inserts shift later positions by one each, so `+ i` keeps every insert at the spot chosen
    // in the half-way text.
    let mut half_text = CharString::new(&trace.start);
    trace.txns[..half]
        .iter()
        .flatten()
        .for_each(|p| half_text.apply(p));
    let len = half_text.char_len();
    let b_changes = (0..B_EDITS)
        .map(|i| Patch {
            pos: (i + 1) * len / (B_EDITS + 1) + i,
            del: 0,
            ins: char::from(b'a' + (i % 26) as u8).to_string(),
        })
        .collect();

    Divergence {
        start: trace.start.clone(),
        shared,
        a_changes,
        b_changes,
        merged_chars: trace.end.chars().count() + B_EDITS,
    }
}

/// A small document: one calendar event, a map `{ title: str, start: int, minutes: int }`.
#[derive(Clone, Debug)]
pub struct Event {
    /// Map key `title`.
    pub title: String,
    /// Map key `start`: minutes since the Unix epoch.
    pub start: i64,
    /// Map key `minutes`: duration.
    pub minutes: i64,
}

/// B5: two replicas share `docs.len()` small documents; replica A then edits some of them offline
/// (`edits`: document index and new title, one change each, nothing else changes) and they
/// reconnect.
#[derive(Clone, Debug)]
pub struct ManyDocs {
    /// The shared documents, each created in its own single change on replica A.
    pub docs: Vec<Event>,
    /// A's offline edits: put `title` in document `index`, one change per edit.
    pub edits: Vec<(usize, String)>,
}

/// Build the many-documents scenario, deterministically.
pub fn many_docs(n_docs: usize, n_edits: usize) -> ManyDocs {
    let mut rng = SplitMix(0x5EED_0B5E);
    let words = [
        "standup", "review", "lunch", "1:1", "planning", "dentist", "gym", "retro",
    ];
    let pick = |rng: &mut SplitMix| words[(rng.next() % words.len() as u64) as usize];
    let docs = (0..n_docs)
        .map(|i| Event {
            title: format!("{} {}", pick(&mut rng), i),
            start: 29_000_000 + (rng.next() % 500_000) as i64,
            minutes: [15, 30, 45, 60, 90][(rng.next() % 5) as usize],
        })
        .collect();
    // Distinct documents, spread over the whole set.
    let mut indices: Vec<usize> = (0..n_docs).collect();
    for i in 0..n_edits.min(n_docs) {
        let j = i + (rng.next() % (n_docs - i) as u64) as usize;
        indices.swap(i, j);
    }
    let edits = indices[..n_edits.min(n_docs)]
        .iter()
        .map(|&i| (i, format!("{} (moved)", pick(&mut rng))))
        .collect();
    ManyDocs { docs, edits }
}

/// A tiny deterministic generator (SplitMix64), so the scenarios never change with a crate
/// version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// What one sync run cost on the wire.
#[derive(Clone, Debug, Default)]
pub struct SyncOutcome {
    /// Bytes of every message, both directions, as framed for the wire.
    pub bytes: u64,
    /// Messages sent, both directions.
    pub messages: u64,
    /// Round trips: legs (sequential flights, each of which may carry messages both ways at
    /// once) halved, rounded up — as `polyarch::sync::run_until_quiet` counts them.
    pub round_trips: u64,
    /// Text of each replica afterwards (B4), for the harness to check; empty for B5.
    pub texts: Vec<String>,
}
