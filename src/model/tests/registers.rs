use super::{doc, fork, sync, write};
use crate::model::{Kind, ModelError, Path, Value};

#[test]
fn set_then_get() {
    let mut d = doc(1);
    assert_eq!(d.view().register(["a", "b"]).get().unwrap(), None);
    write(&mut d, |tx| tx.register(["a", "b"]).set(42));
    let r = d.view().register(["a", "b"]);
    assert_eq!(r.get().unwrap(), Some(Value::Int(42)));
    assert_eq!(r.conflicts().unwrap(), [Value::Int(42)]);
    write(&mut d, |tx| tx.register(["a", "b"]).set("x"));
    assert_eq!(
        d.view().register(["a", "b"]).get().unwrap(),
        Some("x".into())
    );
}

#[test]
fn concurrent_writes_keep_every_value_and_a_deterministic_winner() {
    let mut a = doc(1);
    write(&mut a, |tx| tx.register(["title"]).set("base"));
    let mut b = fork(&a, 2);
    write(&mut a, |tx| tx.register(["title"]).set("from a"));
    write(&mut b, |tx| tx.register(["title"]).set("from b"));
    sync(&mut a, &mut b);
    for d in [&a, &b] {
        let r = d.view().register(["title"]);
        let all = r.conflicts().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            Some(all[0].clone()),
            r.get().unwrap(),
            "the winner comes first"
        );
        assert!(all.contains(&"from a".into()) && all.contains(&"from b".into()));
    }
    assert_eq!(
        a.view().register(["title"]).get().unwrap(),
        b.view().register(["title"]).get().unwrap()
    );

    // Writing resolves the conflict, on both devices once synced.
    write(&mut b, |tx| tx.register(["title"]).set("agreed"));
    sync(&mut a, &mut b);
    assert_eq!(
        a.view().register(["title"]).conflicts().unwrap(),
        ["agreed".into()]
    );
}

#[test]
fn registers_refuse_other_kinds() {
    let mut d = doc(1);
    write(&mut d, |tx| {
        tx.counter(["n"]).increment(1)?;
        tx.text(["t"]).splice(0, 0, "hi")
    });
    let err = d.view().register(["n"]).get().unwrap_err();
    assert!(matches!(
        err,
        ModelError::TypeMismatch {
            expected: Kind::Register,
            found: Kind::Counter,
            ..
        }
    ));
    let err = d
        .transact(false, |tx| tx.register(["t"]).set(1))
        .unwrap_err();
    assert!(matches!(
        err,
        ModelError::TypeMismatch {
            found: Kind::Text,
            ..
        }
    ));
    let err = d
        .transact(false, |tx| tx.register(Path::root()).set(1))
        .unwrap_err();
    assert!(matches!(
        err,
        ModelError::TypeMismatch {
            found: Kind::Map,
            ..
        }
    ));
    assert!(err.to_string().contains("expected a register"), "{err}");
}

#[test]
fn every_value_type_round_trips() {
    let mut d = doc(1);
    let values = [
        Value::Null,
        Value::Bool(true),
        Value::Int(-7),
        Value::F64(1.5),
        Value::Str("é😀".into()),
        Value::Bytes(vec![0, 255]),
        Value::Timestamp(1_700_000_000_000),
    ];
    for (i, v) in values.iter().enumerate() {
        let v = v.clone();
        write(&mut d, |tx| tx.register([i.to_string().as_str()]).set(v));
    }
    for (i, v) in values.iter().enumerate() {
        assert_eq!(
            d.view()
                .register([i.to_string().as_str()])
                .get()
                .unwrap()
                .as_ref(),
            Some(v)
        );
    }
}

#[test]
fn every_conflict_of_a_document_is_listed_in_one_pass() {
    let mut a = doc(1);
    write(&mut a, |tx| {
        tx.register(["events", "e1", "title"]).set("base")?;
        tx.register(["events", "e2", "title"]).set("calm")?;
        tx.list(["tags"]).push("one")?;
        tx.list(["tags"]).push("two")
    });
    let mut b = fork(&a, 2);
    write(&mut a, |tx| {
        tx.register(["events", "e1", "title"]).set("from a")?;
        tx.counter(["events", "e1", "rsvp"]).increment(1)?;
        // A map made on both sides at once: its copies are merged, conflicts inside too.
        tx.register(["events", "e3", "room"]).set("Ada")?;
        tx.list(["tags"]).set(1, "two-a")
    });
    write(&mut b, |tx| {
        tx.register(["events", "e1", "title"]).set("from b")?;
        tx.counter(["events", "e1", "rsvp"]).increment(2)?;
        tx.register(["events", "e3", "room"]).set("Curie")?;
        tx.list(["tags"]).set(1, "two-b")
    });
    assert!(
        a.view().conflicts().is_empty(),
        "no conflict before syncing"
    );
    sync(&mut a, &mut b);
    for d in [&a, &b] {
        let view = d.view();
        let found = view.conflicts();
        let paths: Vec<String> = found.iter().map(|c| c.path.to_string()).collect();
        // Counters add up (no conflict); the untouched register has one value.
        assert_eq!(paths, ["events/e1/title", "events/e3/room", "tags/1"]);
        for c in &found {
            assert_eq!(c.values.len(), 2, "{c:?}");
        }
        // The same values, in the same order, as each register reads them.
        let title = view
            .register(["events", "e1", "title"])
            .conflicts()
            .unwrap();
        assert_eq!(found[0].values, title);
        let room = view.register(["events", "e3", "room"]).conflicts().unwrap();
        assert_eq!(found[1].values, room);
        // The JSON and the conflicts in one walk: the same as the two reads.
        assert_eq!(view.to_json_and_conflicts(), (view.to_json(), found));
    }
    // Resolving one leaves the others.
    write(&mut a, |tx| {
        tx.register(["events", "e1", "title"]).set("agreed")
    });
    let left: Vec<String> = a
        .view()
        .conflicts()
        .iter()
        .map(|c| c.path.to_string())
        .collect();
    assert_eq!(left, ["events/e3/room", "tags/1"]);
}
