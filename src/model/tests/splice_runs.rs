//! A [`SpliceRun`]'s merged splices must leave a text exactly as its transactions would have
//! one by one, and it must refuse what the text would refuse.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{actor, write};
use crate::model::{Doc, SpliceRun, TextUnits};

type Tx = Vec<(usize, usize, String)>;

/// Applies one transaction's splices to `text` (as chars), or returns `None`, leaving `text`
/// as it was, when one is out of range.
fn apply(text: &[char], tx: &Tx) -> Option<Vec<char>> {
    let mut out = text.to_vec();
    for (pos, del, ins) in tx {
        if pos.checked_add(*del)? > out.len() {
            return None;
        }
        out.splice(*pos..pos + del, ins.chars());
    }
    Some(out)
}

/// Editing as a person does: mostly typing at a cursor, backspaces and forward deletes, with
/// jumps, pastes, replacements, and now and then a splice past the end.
fn random_tx(rng: &mut StdRng, len: usize, cursor: &mut usize, alphabet: &[char]) -> Tx {
    let mut splices = Vec::new();
    for _ in 0..rng.random_range(1..=2) {
        let roll = rng.random_range(0..100);
        *cursor = (*cursor).min(len);
        let letter = alphabet[rng.random_range(0..alphabet.len())].to_string();
        let splice = match roll {
            0..55 => (*cursor, 0, String::new()),
            55..75 if *cursor > 0 => (*cursor - 1, 1, String::new()),
            75..82 => (*cursor, 1, String::new()),
            82..90 => {
                *cursor = rng.random_range(0..=len);
                (*cursor, 0, String::new())
            }
            90..95 => (*cursor, rng.random_range(0..3), "pasted".to_owned()),
            95..97 => (len + rng.random_range(0..3), 0, "x".to_owned()),
            _ => (*cursor, len + 1, String::new()),
        };
        let (pos, del, mut ins) = splice;
        if roll < 55 || (82..90).contains(&roll) {
            ins = letter;
        }
        splices.push((pos, del, ins));
        // The cursor follows the edit, as an editor's does.
        *cursor = pos
            + splices
                .last()
                .map_or(0, |s: &(usize, usize, String)| s.2.chars().count());
    }
    splices
}

fn borrowed(tx: &Tx) -> Vec<(usize, usize, &str)> {
    tx.iter().map(|(p, d, s)| (*p, *d, s.as_str())).collect()
}

#[test]
fn merged_splices_leave_the_text_as_the_transactions_did() {
    for (seed, units, alphabet) in [
        (1, TextUnits::Utf16, &['a', 'b', ' ', 'é', '中'][..]),
        (2, TextUnits::CodePoints, &['a', 'b', '😀', '\n'][..]),
        (3, TextUnits::Utf8, &['a', 'b', 'c', ' '][..]),
    ] {
        let mut rng = StdRng::seed_from_u64(seed);
        let start: Vec<char> = "Some text to edit.".chars().collect();
        let mut text = start.clone();
        let mut run = SpliceRun::new(text.len(), units);
        let (mut cursor, mut taken, mut refused) = (0, 0, 0);
        for _ in 0..5_000 {
            let tx = random_tx(&mut rng, text.len(), &mut cursor, alphabet);
            let expected = apply(&text, &tx).filter(|t| *t != text || !no_op(&tx));
            assert_eq!(run.push(&borrowed(&tx)), expected.is_some(), "{tx:?}");
            match expected {
                Some(t) => {
                    text = t;
                    taken += 1;
                }
                None => refused += 1,
            }
            assert_eq!(run.len(), text.len());
        }
        let merged: Tx = run
            .splices()
            .iter()
            .map(|s| (s.pos, s.delete, s.insert.clone()))
            .collect();
        assert_eq!(apply(&start, &merged), Some(text));
        assert_eq!(run.transactions(), taken);
        assert!(refused > 50, "the refusals were exercised: {refused}");
        assert!(
            run.splices().len() * 3 < taken * 2,
            "typing merges: {} splices for {taken} transactions",
            run.splices().len()
        );
    }
}

/// A transaction whose splices delete and insert nothing.
fn no_op(tx: &Tx) -> bool {
    tx.iter().all(|(_, d, s)| *d == 0 && s.is_empty())
}

#[test]
fn merged_splices_make_the_same_document_as_one_change_each() {
    let mut rng = StdRng::seed_from_u64(7);
    let path = ["doc", "text"];
    let mut each = Doc::new(actor(1), TextUnits::Utf16);
    write(&mut each, |tx| tx.text(path).splice(0, 0, "héllo"));
    let mut merged = each.clone();
    let mut run = SpliceRun::new(5, TextUnits::Utf16);
    let mut cursor = 5;
    for _ in 0..2_000 {
        let len = each.view().text(path).len().unwrap();
        let tx = random_tx(&mut rng, len, &mut cursor, &['x', 'y', 'ü', ' ']);
        let one_by_one = each.transact(false, |t| {
            tx.iter()
                .try_for_each(|(p, d, s)| t.text(path).splice(*p, *d, s))
        });
        let changed = one_by_one.as_ref().is_ok_and(|(_, c, _)| c.is_some());
        assert_eq!(run.push(&borrowed(&tx)), changed, "{tx:?}: {one_by_one:?}");
    }
    let ((), change, _) = merged
        .transact(false, |t| {
            run.splices()
                .iter()
                .try_for_each(|s| t.text(path).splice(s.pos, s.delete, &s.insert))
        })
        .unwrap();
    assert!(change.is_some());
    let text = |d: &Doc| d.view().text(path).to_string().unwrap();
    assert_eq!(text(&merged), text(&each));
    assert_eq!(merged.view().text(path).len().unwrap(), run.len());
}

#[test]
fn characters_wider_than_a_unit_are_refused() {
    let mut utf16 = SpliceRun::new(0, TextUnits::Utf16);
    assert!(!utf16.push(&[(0, 0, "ok"), (2, 0, "😀")]));
    assert_eq!((utf16.len(), utf16.transactions()), (0, 0));
    assert!(utf16.push(&[(0, 0, "中文")]));
    let mut utf8 = SpliceRun::new(0, TextUnits::Utf8);
    assert!(!utf8.push(&[(0, 0, "é")]));
    let mut chars = SpliceRun::new(0, TextUnits::CodePoints);
    assert!(chars.push(&[(0, 0, "😀")]));
    assert_eq!(chars.len(), 1);
}

#[test]
fn a_transaction_that_changes_nothing_is_refused() {
    let mut run = SpliceRun::new(3, TextUnits::Utf16);
    assert!(!run.push(&[(1, 0, "")]));
    assert!(!run.push(&[]));
    assert!(!run.is_empty() && run.transactions() == 0);
}
