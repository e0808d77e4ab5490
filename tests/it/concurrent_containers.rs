//! Two devices that create the same container at once (the first `add` to a set, the first
//! `increment` of a counter, the first key of a nested map) must not lose each other's writes
//! when they sync: automerge keeps both creations as a conflict at that key, and the model has
//! to merge them, not pick one.

use polyarch::{Repo, RepoConfig};

use super::resume_and_resync::sync;

fn pair() -> (Repo, Repo) {
    (
        Repo::in_memory(RepoConfig::default()).expect("repo"),
        Repo::in_memory(RepoConfig::default()).expect("repo"),
    )
}

fn assert_same(a: &mut Repo, b: &mut Repo, doc: &str) -> serde_json::Value {
    let json = a.to_json(doc).expect("json");
    assert_eq!(json, b.to_json(doc).expect("json"), "the replicas differ");
    json
}

#[test]
fn counters_created_concurrently_still_add_up() {
    let (mut a, mut b) = pair();
    // Both create the counter: two concurrent copies of it.
    a.change("d", |tx| tx.counter("n").increment(1))
        .expect("change");
    b.change("d", |tx| tx.counter("n").increment(1))
        .expect("change");
    sync(&mut a, &mut b);
    assert_eq!(assert_same(&mut a, &mut b, "d")["n"], 2);
    // Then both increment it concurrently.
    a.change("d", |tx| tx.counter("n").increment(1))
        .expect("change");
    b.change("d", |tx| tx.counter("n").increment(1))
        .expect("change");
    sync(&mut a, &mut b);
    assert_eq!(
        assert_same(&mut a, &mut b, "d")["n"],
        4,
        "increments from every device add up"
    );
}

#[test]
fn sets_created_concurrently_keep_every_member() {
    let (mut a, mut b) = pair();
    a.change("cal", |tx| tx.set(["events", "e1", "guests"]).add("ada"))
        .expect("change");
    b.change("cal", |tx| tx.set(["events", "e1", "guests"]).add("grace"))
        .expect("change");
    sync(&mut a, &mut b);
    assert_same(&mut a, &mut b, "cal");
    let members = a
        .view("cal", |d| d.set(["events", "e1", "guests"]).members())
        .expect("view")
        .expect("members");
    assert_eq!(members, ["ada", "grace"], "an add is never lost (add wins)");
}

#[test]
fn maps_created_concurrently_keep_every_key() {
    let (mut a, mut b) = pair();
    a.change("cal", |tx| {
        tx.register(["events", "e1", "title"]).set("Review")
    })
    .expect("change");
    b.change("cal", |tx| {
        tx.register(["events", "e1", "room"]).set("Turing")
    })
    .expect("change");
    sync(&mut a, &mut b);
    let json = assert_same(&mut a, &mut b, "cal");
    assert_eq!(json["events"]["e1"]["title"], "Review", "{json}");
    assert_eq!(json["events"]["e1"]["room"], "Turing", "{json}");
}
