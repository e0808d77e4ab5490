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
    write(&mut a, |tx| tx.counter(["e", "yes"]).increment(1));
    write(&mut b, |tx| tx.counter(["e", "yes"]).increment(10));
    sync(&mut a, &mut b);
    // Two counters now sit in the slot (the `e` maps conflict too: the winner's is shown).
    assert_eq!(
        a.view().counter(["e", "yes"]).value().unwrap(),
        10,
        "winner's map only"
    );

    let mut a = doc(1);
    let mut b = doc(2);
    write(&mut a, |tx| tx.counter(["yes"]).increment(1));
    write(&mut b, |tx| tx.counter(["yes"]).increment(10));
    sync(&mut a, &mut b);
    assert_eq!(a.inner_conflicts("yes"), 2);
    assert_eq!(a.view().counter(["yes"]).value().unwrap(), 11);
    assert_eq!(b.view().counter(["yes"]).value().unwrap(), 11);
    assert_eq!(a.to_json()["yes"], 11);

    // automerge would apply this increment to both copies (11 + 2 * 100): it must count once.
    write(&mut a, |tx| tx.counter(["yes"]).increment(100));
    assert_eq!(a.view().counter(["yes"]).value().unwrap(), 111);
    sync(&mut a, &mut b);
    assert_eq!(b.view().counter(["yes"]).value().unwrap(), 111);
    write(&mut b, |tx| tx.counter(["yes"]).increment(1000));
    sync(&mut a, &mut b);
    assert_eq!(a.view().counter(["yes"]).value().unwrap(), 1111);
}

#[test]
fn automerge_increments_every_conflicting_counter() {
    // The engine behaviour the counter handle works around.
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc, ScalarValue};
    let mut a = doc(1);
    let mut b = doc(2);
    write(&mut a, |tx| tx.counter(["c"]).increment(1));
    write(&mut b, |tx| tx.counter(["c"]).increment(10));
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
