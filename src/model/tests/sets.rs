use super::{doc, fork, sync, write};
use crate::model::{Kind, ModelError};

#[test]
fn add_remove_contains() {
    let mut d = doc(1);
    assert!(d.view().set(["s"]).members().unwrap().is_empty());
    write(&mut d, |tx| {
        let mut s = tx.set(["s"]);
        s.add("b")?;
        s.add("a")?;
        s.add("b")
    });
    let s = d.view().set(["s"]);
    assert_eq!(s.members().unwrap(), ["a", "b"]);
    assert!(s.contains("a").unwrap() && !s.contains("c").unwrap());
    assert_eq!(s.len().unwrap(), 2);
    write(&mut d, |tx| tx.set(["s"]).remove("a"));
    write(&mut d, |tx| tx.set(["s"]).remove("never there"));
    assert_eq!(d.view().set(["s"]).members().unwrap(), ["b"]);
    assert_eq!(d.view().kind(["s"]).unwrap(), Kind::Map);
}

#[test]
fn add_wins_over_a_concurrent_remove() {
    let mut a = doc(1);
    write(&mut a, |tx| tx.set(["s"]).add("x"));
    let mut b = fork(&a, 2);
    write(&mut a, |tx| tx.set(["s"]).remove("x"));
    write(&mut b, |tx| tx.set(["s"]).add("x"));
    sync(&mut a, &mut b);
    assert_eq!(a.view().set(["s"]).members().unwrap(), ["x"]);
    assert_eq!(b.view().set(["s"]).members().unwrap(), ["x"]);

    // A remove that saw the add removes it.
    write(&mut b, |tx| tx.set(["s"]).remove("x"));
    sync(&mut a, &mut b);
    assert!(a.view().set(["s"]).members().unwrap().is_empty());
}

#[test]
fn sets_created_concurrently_read_as_their_union() {
    let mut a = doc(1);
    let mut b = doc(2);
    write(&mut a, |tx| tx.set(["attendees"]).add("alice"));
    write(&mut b, |tx| tx.set(["attendees"]).add("bob"));
    sync(&mut a, &mut b);
    for d in [&a, &b] {
        assert_eq!(
            d.view().set(["attendees"]).members().unwrap(),
            ["alice", "bob"]
        );
        assert!(d.view().set(["attendees"]).contains("alice").unwrap());
    }
    // Removing takes the member out of every copy; adding goes to the winner.
    write(&mut a, |tx| {
        tx.set(["attendees"]).remove("alice")?;
        tx.set(["attendees"]).remove("bob")?;
        tx.set(["attendees"]).add("carol")
    });
    sync(&mut a, &mut b);
    assert_eq!(b.view().set(["attendees"]).members().unwrap(), ["carol"]);
}

#[test]
fn sets_refuse_other_kinds() {
    let mut d = doc(1);
    write(&mut d, |tx| tx.text(["t"]).splice(0, 0, "x"));
    let err = d.transact(false, |tx| tx.set(["t"]).add("m")).unwrap_err();
    assert!(matches!(
        err,
        ModelError::TypeMismatch {
            expected: Kind::Map,
            found: Kind::Text,
            ..
        }
    ));
    assert!(d.view().set(["t"]).contains("m").is_err());
}
