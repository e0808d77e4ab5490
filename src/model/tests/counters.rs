use super::{doc, fork, sync, write};
use crate::model::{Kind, ModelError};

#[test]
fn increments_add_up_and_missing_reads_zero() {
    let mut d = doc(1);
    assert_eq!(d.view().counter(["e", "yes"]).value().unwrap(), 0);
    write(&mut d, |tx| tx.counter(["e", "yes"]).increment(2));
    write(&mut d, |tx| tx.counter(["e", "yes"]).increment(-5));
    assert_eq!(d.view().counter(["e", "yes"]).value().unwrap(), -3);
    assert_eq!(d.view().kind(["e", "yes"]).unwrap(), Kind::Counter);
}

#[test]
fn concurrent_increments_of_one_counter_add_up() {
    let mut a = doc(1);
    write(&mut a, |tx| tx.counter(["n"]).increment(1));
    let mut b = fork(&a, 2);
    write(&mut a, |tx| tx.counter(["n"]).increment(2));
    write(&mut b, |tx| tx.counter(["n"]).increment(3));
    sync(&mut a, &mut b);
    assert_eq!(a.view().counter(["n"]).value().unwrap(), 6);
    assert_eq!(b.view().counter(["n"]).value().unwrap(), 6);
}

#[test]
fn counters_created_concurrently_sum_every_increment() {
    let mut a = doc(1);
    let mut b = doc(2);
    write(&mut a, |tx| tx.counter(["yes"]).increment(1));
    write(&mut b, |tx| tx.counter(["yes"]).increment(10));
    sync(&mut a, &mut b);
    assert_eq!(a.inner_conflicts("yes"), 2, "two copies of the counter");
    assert_eq!(a.view().counter(["yes"]).value().unwrap(), 11);
    assert_eq!(b.view().counter(["yes"]).value().unwrap(), 11);
    assert_eq!(a.to_json()["yes"], 11);

    write(&mut a, |tx| tx.counter(["yes"]).increment(100));
    assert_eq!(a.view().counter(["yes"]).value().unwrap(), 111);
    // Concurrent increments on both devices, over the duplicated counter.
    write(&mut a, |tx| tx.counter(["yes"]).increment(1000));
    write(&mut b, |tx| tx.counter(["yes"]).increment(10_000));
    sync(&mut a, &mut b);
    assert_eq!(a.view().counter(["yes"]).value().unwrap(), 11_111);
    assert_eq!(b.view().counter(["yes"]).value().unwrap(), 11_111);
    assert_eq!(b.to_json()["yes"], 11_111);
}

#[test]
fn increments_before_and_after_a_merge_all_count() {
    let mut a = doc(1);
    let mut b = doc(2);
    for _ in 0..3 {
        write(&mut a, |tx| tx.counter(["n"]).increment(1));
        write(&mut b, |tx| tx.counter(["n"]).increment(2));
    }
    sync(&mut a, &mut b);
    assert_eq!(a.view().counter(["n"]).value().unwrap(), 9);
    let mut c = fork(&a, 3);
    write(&mut a, |tx| tx.counter(["n"]).increment(1));
    write(&mut b, |tx| tx.counter(["n"]).increment(1));
    write(&mut c, |tx| tx.counter(["n"]).increment(-4));
    sync(&mut a, &mut b);
    sync(&mut a, &mut c);
    sync(&mut a, &mut b);
    for d in [&a, &b, &c] {
        assert_eq!(d.view().counter(["n"]).value().unwrap(), 7);
    }
}

#[test]
fn plain_automerge_counters_read_and_increment() {
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ScalarValue};
    let mut d = doc(1);
    let mut tx = d.inner.transaction();
    tx.put(ROOT, "c", ScalarValue::counter(5)).unwrap();
    tx.commit();
    assert_eq!(d.view().kind(["c"]).unwrap(), Kind::Counter);
    write(&mut d, |tx| tx.counter(["c"]).increment(2));
    assert_eq!(d.view().counter(["c"]).value().unwrap(), 7);
    assert_eq!(d.to_json()["c"], 7);
}

#[test]
fn counter_patches_give_the_whole_value() {
    use crate::model::PatchAction;
    let mut a = doc(1);
    let (_, _, patches) = a
        .transact(true, |tx| tx.counter(["n"]).increment(2))
        .unwrap();
    assert!(
        patches.iter().all(|p| matches!(
            &p.action,
            PatchAction::PutMap { key, value: Some(v), .. } if key == "n" && *v == 2.into()
        )),
        "{patches:?}"
    );
    let mut b = doc(2);
    write(&mut b, |tx| tx.counter(["n"]).increment(5));
    let (_, patches) = a.merge_snapshot(&b.save(), true).unwrap();
    let last = patches.last().unwrap();
    assert!(
        matches!(&last.action, PatchAction::PutMap { value: Some(v), .. } if *v == 7.into()),
        "{patches:?}"
    );
}

#[test]
fn automerge_increments_every_conflicting_counter() {
    // Why a counter is a table of per-device entries and not one automerge counter: automerge
    // applies an increment to every conflicting counter in a slot, so after two devices
    // create the same counter every later increment would count twice.
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc, ScalarValue};
    let mut a = doc(1);
    let mut b = doc(2);
    for (d, n) in [(&mut a, 1), (&mut b, 10)] {
        let mut tx = d.inner.transaction();
        tx.put(ROOT, "c", ScalarValue::counter(n)).unwrap();
        tx.commit();
    }
    sync(&mut a, &mut b);
    let mut tx = a.inner.transaction();
    tx.increment(ROOT, "c", 100).unwrap();
    tx.commit();
    let counts: Vec<i64> = a
        .inner
        .get_all(ROOT, "c")
        .unwrap()
        .iter()
        .map(|(v, _)| match v.as_scalar() {
            Some(ScalarValue::Counter(c)) => i64::from(c),
            other => panic!("not a counter: {other:?}"),
        })
        .collect();
    assert_eq!(counts, [101, 110], "each copy got the increment");
}

#[test]
fn counters_refuse_other_kinds() {
    let mut d = doc(1);
    write(&mut d, |tx| tx.register(["r"]).set(3));
    let err = d
        .transact(false, |tx| tx.counter(["r"]).increment(1))
        .unwrap_err();
    assert!(matches!(
        err,
        ModelError::TypeMismatch {
            expected: Kind::Counter,
            found: Kind::Register,
            ..
        }
    ));
    assert!(d.view().counter(["r"]).value().is_err());
}

impl crate::model::Doc {
    /// How many values the root map's `key` holds.
    fn inner_conflicts(&self, key: &str) -> usize {
        use automerge::{ROOT, ReadDoc};
        self.inner.get_all(ROOT, key).unwrap().len()
    }
}
