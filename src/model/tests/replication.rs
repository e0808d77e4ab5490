use automerge::{Change, ReadDoc};

use super::{actor, doc, fork, write};
use crate::model::{Doc, LocalChange, ModelError, PatchAction, TextUnits};

/// Three changes on one device.
fn history() -> (Doc, Vec<LocalChange>) {
    let mut d = doc(1);
    let changes = vec![
        write(&mut d, |tx| tx.text(["t"]).splice(0, 0, "ab")).unwrap(),
        write(&mut d, |tx| tx.set(["s"]).add("x")).unwrap(),
        write(&mut d, |tx| tx.text(["t"]).splice(1, 1, "c")).unwrap(),
    ];
    (d, changes)
}

fn decoded(changes: &[LocalChange]) -> Vec<Change> {
    changes
        .iter()
        .map(|c| Doc::decode_change(&c.bytes).unwrap())
        .collect()
}

#[test]
fn local_changes_describe_themselves() {
    let (d, changes) = history();
    for (i, c) in changes.iter().enumerate() {
        assert_eq!(c.seq, i as u64 + 1);
        assert_eq!(&c.actor, d.actor());
        let change = Doc::decode_change(&c.bytes).unwrap();
        assert_eq!(change.hash(), c.hash);
        assert_eq!(change.deps(), c.deps);
        assert_eq!(
            change.raw_bytes(),
            d.inner.get_change_by_hash(&c.hash).unwrap().raw_bytes()
        );
    }
    assert_eq!(changes[1].deps, [changes[0].hash]);
    assert_eq!(d.heads(), [changes[2].hash]);
    let mut d = d;
    assert!(
        write(&mut d, |_| Ok(())).is_none(),
        "no operation, no change"
    );
}

#[test]
fn a_failed_transaction_changes_nothing() {
    let (mut d, _) = history();
    let before = (d.heads(), d.to_json());
    let err = d
        .transact(false, |tx| {
            tx.text(["t"]).splice(0, 0, "zzz")?;
            tx.register(["t"]).set(1)
        })
        .unwrap_err();
    assert!(matches!(err, ModelError::TypeMismatch { .. }));
    assert_eq!((d.heads(), d.to_json()), before);
    // And the next transaction is unaffected.
    let c = write(&mut d, |tx| tx.text(["t"]).splice(0, 0, "y")).unwrap();
    assert_eq!(c.seq, 4);
}

#[test]
fn load_from_snapshot_and_changes() {
    let (d, changes) = history();
    let bytes: Vec<&[u8]> = changes.iter().map(|c| c.bytes.as_slice()).collect();
    let from_changes = Doc::load(None, &bytes, actor(2), TextUnits::Utf16).unwrap();
    assert_eq!(from_changes.to_json(), d.to_json());
    assert_eq!(from_changes.text_units(), TextUnits::Utf16);

    let mut first = doc(1);
    first.apply(decoded(&changes[..1]), false).unwrap();
    let tail: Vec<&[u8]> = bytes[1..].to_vec();
    let loaded = Doc::load(Some(&first.save()), &tail, actor(2), TextUnits::CodePoints).unwrap();
    assert_eq!(loaded.heads(), d.heads());
    assert_eq!(loaded.actor(), &actor(2));

    // A chunk sequence (`save_after`) is accepted too.
    let after = d.inner.save_after(&[changes[0].hash]);
    let loaded = Doc::load(
        Some(&first.save()),
        &[&after],
        actor(2),
        TextUnits::CodePoints,
    )
    .unwrap();
    assert_eq!(loaded.heads(), d.heads());
}

#[test]
fn load_refuses_corrupt_or_incomplete_input() {
    let (d, changes) = history();
    let save = d.save();
    let mut cut = save.clone();
    cut.truncate(save.len() - 3);
    assert!(matches!(
        Doc::load(Some(&cut), &[], actor(2), TextUnits::CodePoints),
        Err(ModelError::Corrupt { .. })
    ));
    let mut flipped = changes[1].bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    assert!(
        Doc::load(
            None,
            &[&changes[0].bytes, &flipped],
            actor(2),
            TextUnits::CodePoints
        )
        .is_err()
    );
    let gap = Doc::load(
        None,
        &[&changes[0].bytes, &changes[2].bytes],
        actor(2),
        TextUnits::CodePoints,
    );
    assert!(
        matches!(gap, Err(ModelError::MissingDependencies { .. })),
        "{gap:?}"
    );
}

#[test]
fn apply_checks_dependencies_first() {
    let (d, changes) = history();
    let all = decoded(&changes);
    let mut other = doc(2);
    assert!(other.can_apply(&all[0]) && !other.can_apply(&all[1]));
    let err = other
        .apply(vec![all[0].clone(), all[2].clone()], false)
        .unwrap_err();
    assert!(
        matches!(err, ModelError::MissingDependencies { .. }),
        "{err}"
    );
    assert!(other.heads().is_empty(), "nothing applied");

    // Out of order within one batch is fine, and so are duplicates.
    let patches = other
        .apply(all.iter().rev().cloned().collect(), true)
        .unwrap();
    assert!(!patches.is_empty());
    assert!(other.apply(all.clone(), true).unwrap().is_empty());
    assert_eq!(other.heads(), d.heads());
    assert!(other.has_change(&changes[1].hash));
    assert_eq!(other.to_json(), d.to_json());
}

#[test]
fn a_snapshot_merged_into_an_empty_doc_is_that_doc_under_our_actor() {
    let (d, changes) = history();
    let mut empty = doc(2);
    let (new, patches) = empty.merge_snapshot(&d.save(), false).unwrap();
    assert!(patches.is_empty());
    assert_eq!(
        new.iter().map(Change::hash).collect::<Vec<_>>(),
        changes.iter().map(|c| c.hash).collect::<Vec<_>>()
    );
    assert_eq!(empty.to_json(), d.to_json());
    assert_eq!(empty.heads(), d.heads());
    // It goes on writing as itself, after what it loaded.
    let mine = write(&mut empty, |tx| tx.set(["s"]).add("y")).unwrap();
    assert_eq!(&mine.actor, doc(2).actor());
    assert_eq!(mine.deps, d.heads());
}

#[test]
fn merge_snapshot_returns_new_changes_in_causal_order() {
    let (d, changes) = history();
    let mut other = doc(2);
    write(&mut other, |tx| tx.register(["mine"]).set(1));
    let (new, patches) = other.merge_snapshot(&d.save(), true).unwrap();
    assert_eq!(
        new.iter().map(Change::hash).collect::<Vec<_>>(),
        changes.iter().map(|c| c.hash).collect::<Vec<_>>()
    );
    assert!(
        patches
            .iter()
            .any(|p| matches!(p.action, PatchAction::SpliceText { .. }))
    );
    assert_eq!(other.view().text(["t"]).to_string().unwrap(), "ac");
    assert_eq!(
        other.view().register(["mine"]).get().unwrap(),
        Some(1.into())
    );
    let (again, _) = other.merge_snapshot(&d.save(), true).unwrap();
    assert!(again.is_empty());

    // Bytes that build on changes only the receiver has.
    let mut d = d;
    let mut copy = fork(&d, 3);
    let extra = write(&mut d, |tx| tx.set(["s"]).add("y")).unwrap();
    let after = d.inner.save_after(&[changes[2].hash]);
    let (new, _) = copy.merge_snapshot(&after, false).unwrap();
    assert_eq!(
        new.iter().map(Change::hash).collect::<Vec<_>>(),
        [extra.hash]
    );
    assert_eq!(copy.heads(), d.heads());
}

#[test]
fn merge_snapshot_refuses_bad_bytes_and_changes_nothing() {
    let (d, changes) = history();
    let mut other = doc(2);
    write(&mut other, |tx| tx.register(["mine"]).set(1));
    let before = (other.heads(), other.to_json());
    let save = d.save();
    let mut cut = save.clone();
    cut.truncate(save.len() / 2);
    assert!(matches!(
        other.merge_snapshot(&cut, false),
        Err(ModelError::Corrupt { .. })
    ));
    // Changes whose dependencies are nowhere.
    let tail = d.inner.save_after(&[changes[0].hash]);
    let err = other.merge_snapshot(&tail, false).unwrap_err();
    assert!(
        matches!(err, ModelError::MissingDependencies { .. }),
        "{err}"
    );
    assert_eq!((other.heads(), other.to_json()), before);
    assert!(
        other.inner.get_missing_deps(&[]).is_empty(),
        "nothing left queued"
    );
}

#[test]
fn garbage_never_panics() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (d, changes) = history();
    let valid = [d.save(), changes[1].bytes.clone()];
    let mut target = doc(2);
    for i in 0..400 {
        let mut bytes = valid[i % 2].clone();
        match next() % 3 {
            0 => bytes.truncate((next() as usize) % (bytes.len() + 1)),
            1 => {
                let at = (next() as usize) % bytes.len();
                bytes[at] ^= (next() % 255 + 1) as u8;
            }
            _ => bytes = (0..next() % 64).map(|_| next() as u8).collect(),
        }
        let _ = Doc::decode_change(&bytes);
        let _ = Doc::load(Some(&bytes), &[], actor(3), TextUnits::CodePoints);
        let _ = Doc::load(None, &[&bytes], actor(3), TextUnits::CodePoints);
        let _ = target.merge_snapshot(&bytes, true);
    }
}
