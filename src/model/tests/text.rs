use super::{doc, fork, sync, write};
use crate::model::{Doc, Kind, ModelError, TextUnits};

#[test]
fn splice_and_read() {
    let mut d = doc(1);
    assert_eq!(d.view().text(["t"]).to_string().unwrap(), "");
    write(&mut d, |tx| tx.text(["t"]).splice(0, 0, "hello"));
    write(&mut d, |tx| tx.text(["t"]).splice(5, 0, " world"));
    write(&mut d, |tx| tx.text(["t"]).splice(0, 1, "J"));
    let t = d.view().text(["t"]);
    assert_eq!(t.to_string().unwrap(), "Jello world");
    assert_eq!(t.len().unwrap(), 11);
    assert_eq!(d.view().kind(["t"]).unwrap(), Kind::Text);
    write(&mut d, |tx| tx.text(["t"]).update("Hello, world"));
    assert_eq!(d.view().text(["t"]).to_string().unwrap(), "Hello, world");
}

#[test]
fn positions_count_in_the_documents_units() {
    for (units, len) in [
        (TextUnits::CodePoints, 3),
        (TextUnits::Utf16, 4),
        (TextUnits::Utf8, 6),
    ] {
        let mut d = Doc::new(super::actor(1), units);
        write(&mut d, |tx| tx.text(["t"]).splice(0, 0, "a😀b"));
        assert_eq!(d.view().text(["t"]).len().unwrap(), len, "{units:?}");
        let end_of_emoji = len - 1;
        write(&mut d, |tx| tx.text(["t"]).splice(end_of_emoji, 0, "!"));
        assert_eq!(
            d.view().text(["t"]).to_string().unwrap(),
            "a😀!b",
            "{units:?}"
        );
    }
}

#[test]
fn out_of_range_splices_fail_and_change_nothing() {
    let mut d = doc(1);
    write(&mut d, |tx| tx.text(["t"]).splice(0, 0, "abc"));
    let heads = d.heads();
    for (pos, del) in [(4, 0), (2, 2), (0, usize::MAX), (usize::MAX, 1)] {
        let err = d
            .transact(false, |tx| tx.text(["t"]).splice(pos, del, "x"))
            .unwrap_err();
        assert!(
            matches!(err, ModelError::IndexOutOfRange { len: 3, .. }),
            "{pos} {del}: {err}"
        );
    }
    assert_eq!(d.heads(), heads);
    assert_eq!(d.view().text(["t"]).to_string().unwrap(), "abc");
}

#[test]
fn concurrent_insertions_interleave() {
    let mut a = doc(1);
    write(&mut a, |tx| tx.text(["t"]).splice(0, 0, "ac"));
    let mut b = fork(&a, 2);
    write(&mut a, |tx| tx.text(["t"]).splice(1, 0, "b"));
    write(&mut b, |tx| tx.text(["t"]).splice(2, 0, "d"));
    sync(&mut a, &mut b);
    assert_eq!(a.view().text(["t"]).to_string().unwrap(), "abcd");
    assert_eq!(b.view().text(["t"]).to_string().unwrap(), "abcd");
}

#[test]
fn cursors_follow_their_character() {
    let mut a = doc(1);
    write(&mut a, |tx| tx.text(["t"]).splice(0, 0, "hello world"));
    let before_world = a.view().text(["t"]).cursor(6).unwrap();
    let end = a.view().text(["t"]).cursor(11).unwrap();
    let mut b = fork(&a, 2);
    write(&mut b, |tx| tx.text(["t"]).splice(0, 5, "goodbye"));
    write(&mut a, |tx| tx.text(["t"]).splice(11, 0, "!"));
    sync(&mut a, &mut b);
    let t = a.view().text(["t"]);
    assert_eq!(t.to_string().unwrap(), "goodbye world!");
    assert_eq!(t.cursor_position(&before_world).unwrap(), 8);
    assert_eq!(t.cursor_position(&end).unwrap(), 14);
    assert!(matches!(
        t.cursor(15),
        Err(ModelError::IndexOutOfRange { .. })
    ));
}

#[test]
fn bad_cursors_are_errors() {
    let mut d = doc(1);
    assert!(matches!(
        d.view().text(["t"]).cursor(0),
        Err(ModelError::NoSuchPath { .. })
    ));
    write(&mut d, |tx| tx.text(["t"]).splice(0, 0, "abc"));
    write(&mut d, |tx| tx.text(["u"]).splice(0, 0, "xyz"));
    let other = d.view().text(["u"]).cursor(1).unwrap();
    let t = d.view().text(["t"]);
    for bad in [
        "", "é", "ée", "-", "@", "-@", "1@", "x@y", "99@0101", "1@zz", "s1", &other,
    ] {
        assert!(
            matches!(
                t.cursor_position(bad),
                Err(ModelError::InvalidCursor { .. })
            ),
            "{bad:?}"
        );
    }
    assert_eq!(t.cursor_position("s").unwrap(), 0);
    assert_eq!(t.cursor_position("e").unwrap(), 3);
}

#[test]
fn text_refuses_other_kinds() {
    let mut d = doc(1);
    write(&mut d, |tx| tx.counter(["c"]).increment(1));
    let err = d
        .transact(false, |tx| tx.text(["c"]).splice(0, 0, "x"))
        .unwrap_err();
    assert!(matches!(
        err,
        ModelError::TypeMismatch {
            expected: Kind::Text,
            found: Kind::Counter,
            ..
        }
    ));
    assert!(d.view().text(["c"]).to_string().is_err());
}
