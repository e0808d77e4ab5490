//! The rebuilt [`LocalChange`] of a text splice must be exactly automerge's change.

use automerge::ReadDoc;

use super::{actor, fork, sync, write};
use crate::model::local::stats;
use crate::model::{Doc, LocalChange, TextUnits};

/// Checks `c` against the change automerge stored.
fn check(d: &Doc, c: &LocalChange) {
    let stored = d.inner.get_change_by_hash(&c.hash).unwrap();
    assert_eq!(stored.raw_bytes(), c.bytes.as_slice());
    assert_eq!(
        (stored.seq(), stored.actor_id(), stored.deps()),
        (c.seq, &c.actor, c.deps.as_slice())
    );
    assert_eq!(Doc::decode_change(&c.bytes).unwrap().hash(), c.hash);
}

fn splice(d: &mut Doc, pos: usize, del: usize, ins: &str, patches: bool) -> LocalChange {
    let ((), c, _) = d
        .transact(patches, |tx| tx.text(["doc", "text"]).splice(pos, del, ins))
        .unwrap();
    let c = c.unwrap();
    check(d, &c);
    c
}

#[test]
fn typing_is_rebuilt_without_reading_it_back() {
    let mut d = Doc::new(actor(1), TextUnits::CodePoints);
    write(&mut d, |tx| tx.text(["doc", "text"]).splice(0, 0, "start"));
    stats::take();
    for (i, c) in "hello, world".chars().enumerate() {
        splice(&mut d, 5 + i, 0, &c.to_string(), i % 3 == 0);
    }
    for i in 0..5 {
        splice(&mut d, 16 - i, 1, "", false); // backspace
    }
    splice(&mut d, 2, 0, "XY", false); // jump and paste
    splice(&mut d, 4, 0, "Z", false);
    splice(&mut d, 1, 3, "", false); // delete a selection
    splice(&mut d, 1, 1, "replaced", false);
    splice(&mut d, 0, 0, "^", false);
    assert_eq!(
        d.view().text(["doc", "text"]).to_string().unwrap(),
        "^sreplacedarthello, "
    );
    let (rebuilt, read_back) = stats::take();
    assert_eq!((rebuilt, read_back), (22, 0));
}

#[test]
fn anything_else_is_read_back() {
    let mut d = Doc::new(actor(1), TextUnits::CodePoints);
    stats::take();
    // The text is created in this transaction: not a lone splice.
    let c = write(&mut d, |tx| tx.text(["t"]).splice(0, 0, "ab")).unwrap();
    check(&d, &c);
    let c = write(&mut d, |tx| {
        tx.text(["t"]).splice(0, 0, "x")?;
        tx.text(["t"]).splice(0, 0, "y")
    })
    .unwrap();
    check(&d, &c);
    let c = write(&mut d, |tx| {
        tx.text(["t"]).splice(0, 0, "x")?;
        tx.register(["r"]).set(1)
    })
    .unwrap();
    check(&d, &c);
    assert_eq!(stats::take(), (0, 3));
}

/// A tiny deterministic PRNG.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// The position of char `i` of `s` in `units`.
fn units_at(s: &str, i: usize, units: TextUnits) -> usize {
    s.chars()
        .take(i)
        .map(|c| match units {
            TextUnits::CodePoints => 1,
            TextUnits::Utf16 => c.len_utf16(),
            TextUnits::Utf8 => c.len_utf8(),
        })
        .sum()
}

#[test]
fn random_edits_with_remote_changes_in_every_unit() {
    let alphabet: Vec<char> = "abc é😀\n".chars().collect();
    for units in [TextUnits::CodePoints, TextUnits::Utf16, TextUnits::Utf8] {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ units as u64);
        let mut d = Doc::new(actor(1), units);
        write(&mut d, |tx| tx.text(["doc", "text"]).splice(0, 0, "seed"));
        let mut remote = fork(&d, 2);
        let mut mirror: Vec<char> = "seed".chars().collect();
        stats::take();
        for step in 0..300 {
            let text: String = mirror.iter().collect();
            let len = mirror.len();
            // Mostly type near the end of the last edit, sometimes jump or select.
            let at = if rng.below(10) == 0 {
                rng.below(len + 1)
            } else {
                len - rng.below(3).min(len)
            };
            let del = if rng.below(4) == 0 {
                rng.below(3).min(len - at)
            } else {
                0
            };
            let ins: String = (0..[1, 1, 1, 2, 5][rng.below(5)] * usize::from(rng.below(5) != 0))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            if del == 0 && ins.is_empty() {
                continue;
            }
            let pos = units_at(&text, at, units);
            let del_units = units_at(&text, at + del, units) - pos;
            splice(&mut d, pos, del_units, &ins, step % 7 == 0);
            mirror.splice(at..at + del, ins.chars());
            if step % 61 == 0 {
                write(&mut remote, |tx| tx.text(["doc", "text"]).splice(0, 0, "R"));
                sync(&mut d, &mut remote);
                mirror = d
                    .view()
                    .text(["doc", "text"])
                    .to_string()
                    .unwrap()
                    .chars()
                    .collect();
            }
            let expected: String = mirror.iter().collect();
            assert_eq!(
                d.view().text(["doc", "text"]).to_string().unwrap(),
                expected,
                "step {step}"
            );
        }
        let (rebuilt, read_back) = stats::take();
        assert!(
            rebuilt > 20 * read_back,
            "{units:?}: {rebuilt} rebuilt, {read_back} read back"
        );
    }
}
