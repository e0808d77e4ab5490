use super::{doc, write};
use crate::model::{Kind, ModelError, Path};

#[test]
fn writes_create_missing_maps() {
    let mut d = doc(1);
    write(&mut d, |tx| {
        tx.text(["events", "e1", "notes"]).splice(0, 0, "x")
    });
    assert_eq!(d.view().kind(["events"]).unwrap(), Kind::Map);
    assert_eq!(d.view().kind(["events", "e1"]).unwrap(), Kind::Map);
    assert_eq!(d.view().kind(Path::root()).unwrap(), Kind::Map);
}

#[test]
fn reads_of_missing_paths_are_empty() {
    let d = doc(1);
    let v = d.view();
    let p = ["a", "b", "c"];
    assert_eq!(v.kind(p).unwrap(), Kind::Missing);
    assert_eq!(v.register(p).get().unwrap(), None);
    assert!(v.register(p).conflicts().unwrap().is_empty());
    assert_eq!(v.counter(p).value().unwrap(), 0);
    assert!(v.set(p).members().unwrap().is_empty());
    assert_eq!(v.text(p).to_string().unwrap(), "");
    assert_eq!(v.list(p).len().unwrap(), 0);
    assert_eq!(v.map(p).len().unwrap(), 0);
}

#[test]
fn steps_through_the_wrong_kind_are_type_mismatches() {
    let mut d = doc(1);
    write(&mut d, |tx| {
        tx.register(["r"]).set(1)?;
        tx.list(["l"]).push(1)?;
        tx.text(["t"]).splice(0, 0, "x")
    });
    let cases: [(Path, Kind, Kind); 4] = [
        (Path::from(["r", "x"]), Kind::Map, Kind::Register),
        (Path::from(["l", "x"]), Kind::Map, Kind::List),
        (Path::from(["t"]).index(0), Kind::List, Kind::Text),
        (Path::root().index(0), Kind::List, Kind::Map),
    ];
    for (path, expected, found) in cases {
        let mismatch = |e: ModelError| match e {
            ModelError::TypeMismatch {
                expected: e,
                found: f,
                ..
            } => (e, f),
            other => panic!("{path}: {other}"),
        };
        assert_eq!(
            mismatch(d.view().kind(path.clone()).unwrap_err()),
            (expected, found)
        );
        let err = d
            .transact(false, |tx| tx.register(path.clone().key("y")).set(1))
            .unwrap_err();
        assert_eq!(mismatch(err), (expected, found), "{path}");
    }
}

#[test]
fn missing_list_elements_are_never_created() {
    let mut d = doc(1);
    let heads = d.heads();
    for path in [
        Path::from(["l"]).index(0).key("x"),
        Path::from(["a"]).index(2),
        Path::root().key("a").index(0).key("b"),
    ] {
        let err = d
            .transact(false, |tx| tx.register(path.clone()).set(1))
            .unwrap_err();
        assert!(
            matches!(err, ModelError::IndexOutOfRange { .. }),
            "{path}: {err}"
        );
    }
    write(&mut d, |tx| tx.list(["l"]).push(1));
    let err = d
        .transact(false, |tx| {
            tx.text(Path::from(["l"]).index(1)).splice(0, 0, "x")
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::IndexOutOfRange {
                index: 1,
                len: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_ne!(d.heads(), heads);
}
