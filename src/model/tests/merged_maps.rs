//! Maps created concurrently at one key (both devices made `events` while apart) are merged:
//! nothing written into either copy is hidden.

use super::{doc, sync, write};
use crate::model::{Kind, Value};

#[test]
fn maps_created_concurrently_keep_every_key() {
    let mut a = doc(1);
    let mut b = doc(2);
    write(&mut a, |tx| {
        tx.register(["events", "e1", "title"]).set("Review")
    });
    write(&mut b, |tx| {
        tx.register(["events", "e1", "room"]).set("Turing")
    });
    write(&mut b, |tx| {
        tx.register(["events", "e2", "title"]).set("Lunch")
    });
    sync(&mut a, &mut b);
    for d in [&a, &b] {
        let v = d.view();
        assert_eq!(
            v.register(["events", "e1", "title"]).get().unwrap(),
            Some("Review".into())
        );
        assert_eq!(
            v.register(["events", "e1", "room"]).get().unwrap(),
            Some("Turing".into())
        );
        assert_eq!(v.map(["events"]).keys().unwrap(), ["e1", "e2"]);
        assert_eq!(v.map(["events", "e1"]).len().unwrap(), 2);
        assert!(v.map(["events"]).contains_key("e2").unwrap());
        assert_eq!(v.kind(["events", "e2", "title"]).unwrap(), Kind::Register);
        let json = d.to_json();
        assert_eq!(json["events"]["e1"]["title"], "Review", "{json}");
        assert_eq!(json["events"]["e1"]["room"], "Turing", "{json}");
        assert_eq!(json["events"]["e2"]["title"], "Lunch", "{json}");
    }
}

#[test]
fn sets_and_counters_inside_merged_maps_merge_too() {
    let mut a = doc(1);
    let mut b = doc(2);
    write(&mut a, |tx| {
        tx.set(["events", "e1", "guests"]).add("ada")?;
        tx.counter(["events", "e1", "yes"]).increment(1)
    });
    write(&mut b, |tx| {
        tx.set(["events", "e1", "guests"]).add("grace")?;
        tx.counter(["events", "e1", "yes"]).increment(2)
    });
    sync(&mut a, &mut b);
    for d in [&a, &b] {
        let v = d.view();
        assert_eq!(
            v.set(["events", "e1", "guests"]).members().unwrap(),
            ["ada", "grace"]
        );
        assert_eq!(v.counter(["events", "e1", "yes"]).value().unwrap(), 3);
        assert_eq!(d.to_json()["events"]["e1"]["yes"], 3);
    }
    write(&mut a, |tx| {
        tx.set(["events", "e1", "guests"]).remove("grace")?;
        tx.counter(["events", "e1", "yes"]).increment(10)
    });
    write(&mut b, |tx| {
        tx.counter(["events", "e1", "yes"]).increment(100)
    });
    sync(&mut a, &mut b);
    assert_eq!(
        b.view().set(["events", "e1", "guests"]).members().unwrap(),
        ["ada"]
    );
    assert_eq!(
        b.view().counter(["events", "e1", "yes"]).value().unwrap(),
        113
    );
}

#[test]
fn writes_and_deletes_reach_every_copy() {
    let mut a = doc(1);
    let mut b = doc(2);
    write(&mut a, |tx| {
        tx.register(["events", "e1", "title"]).set("from a")
    });
    write(&mut b, |tx| {
        tx.register(["events", "e1", "title"]).set("from b")
    });
    sync(&mut a, &mut b);
    let title = |d: &crate::model::Doc| d.view().register(["events", "e1", "title"]).conflicts();
    assert_eq!(title(&a).unwrap().len(), 2, "one value in each copy");

    write(&mut a, |tx| {
        tx.register(["events", "e1", "title"]).set("agreed")
    });
    sync(&mut a, &mut b);
    assert_eq!(title(&b).unwrap(), [Value::from("agreed")]);

    write(&mut b, |tx| tx.map(["events"]).delete("e1"));
    sync(&mut a, &mut b);
    assert_eq!(a.view().kind(["events", "e1"]).unwrap(), Kind::Missing);
    assert!(a.view().map(["events"]).is_empty().unwrap());
}
