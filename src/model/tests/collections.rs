use super::{doc, write};
use crate::model::{Kind, ModelError, Path, Value};

#[test]
fn maps_list_and_delete_keys() {
    let mut d = doc(1);
    assert!(d.view().map(["events"]).keys().unwrap().is_empty());
    write(&mut d, |tx| {
        tx.register(["events", "e2", "title"]).set("b")?;
        tx.register(["events", "e1", "title"]).set("a")?;
        tx.map(["empty"]).create()
    });
    let events = d.view().map(["events"]);
    assert_eq!(events.keys().unwrap(), ["e1", "e2"]);
    assert_eq!(events.len().unwrap(), 2);
    assert!(events.contains_key("e1").unwrap() && !events.contains_key("e3").unwrap());
    assert_eq!(d.view().kind(["empty"]).unwrap(), Kind::Map);
    assert_eq!(
        d.view().map(Path::root()).keys().unwrap(),
        ["empty", "events"]
    );

    write(&mut d, |tx| {
        tx.map(["events"]).delete("e1")?;
        tx.map(["events"]).delete("nope")?;
        tx.map(["missing", "map"]).delete("x")
    });
    assert_eq!(d.view().map(["events"]).keys().unwrap(), ["e2"]);
    assert_eq!(d.view().kind(["missing"]).unwrap(), Kind::Missing);
}

#[test]
fn lists_of_scalars() {
    let mut d = doc(1);
    write(&mut d, |tx| {
        let mut l = tx.list(["l"]);
        l.push("b")?;
        l.insert(0, "a")?;
        l.push(3)?;
        l.set(2, "c")?;
        l.insert(3, true)?;
        l.delete(3)
    });
    let l = d.view().list(["l"]);
    assert_eq!(
        l.values().unwrap(),
        [Value::from("a"), "b".into(), "c".into()]
    );
    assert_eq!(l.get(1).unwrap(), Some("b".into()));
    assert_eq!(l.get(3).unwrap(), None);
    assert_eq!(d.view().kind(["l"]).unwrap(), Kind::List);
    // A list element is reachable as a register too.
    write(&mut d, |tx| {
        tx.register(Path::from(["l"]).index(0)).set("A")
    });
    assert_eq!(
        d.view().register(Path::from(["l"]).index(0)).get().unwrap(),
        Some("A".into())
    );

    for result in [
        d.transact(false, |tx| tx.list(["l"]).insert(4, 1)),
        d.transact(false, |tx| tx.list(["l"]).set(3, 1)),
        d.transact(false, |tx| tx.list(["l"]).delete(3)),
        d.transact(false, |tx| tx.list(["nope"]).delete(0)),
        d.transact(false, |tx| tx.register(Path::from(["l"]).index(3)).set(1)),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, ModelError::IndexOutOfRange { .. }), "{err}");
    }
    assert_eq!(
        d.view().kind(["nope"]).unwrap(),
        Kind::Missing,
        "nothing was created"
    );
}

#[test]
fn json_shows_winners_and_counter_sums() {
    let mut d = doc(1);
    write(&mut d, |tx| {
        tx.register(["e", "title"]).set("Standup")?;
        tx.register(["e", "bytes"]).set(vec![1u8, 2])?;
        tx.register(["e", "nan"]).set(f64::NAN)?;
        tx.set(["e", "who"]).add("alice")?;
        tx.counter(["e", "yes"]).increment(2)?;
        tx.text(["e", "notes"]).splice(0, 0, "hi")?;
        tx.list(["e", "tags"]).push("x")
    });
    assert_eq!(
        d.to_json(),
        serde_json::json!({"e": {
            "title": "Standup", "bytes": [1, 2], "nan": null, "who": {"alice": true},
            "yes": 2, "notes": "hi", "tags": ["x"]
        }})
    );
}

#[test]
fn json_of_a_deep_document_is_bounded() {
    let mut d = doc(1);
    let path = Path::from(vec![crate::model::Seg::Key("k".into()); 300]);
    write(&mut d, |tx| tx.register(path).set(1));
    let mut json = &d.to_json();
    let mut depth = 0;
    while let Some(inner) = json.get("k") {
        json = inner;
        depth += 1;
    }
    assert!(
        json.is_null() && depth <= crate::model::json::MAX_DEPTH + 1,
        "{depth}"
    );
}
