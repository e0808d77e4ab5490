//! The `polyarch` editing commands, run as a user would: each is one committed change, `get`
//! reads it back, and bad input is refused with one line on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `polyarch` binary with `args` (shared with `cli_network`).
pub(crate) fn polyarch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyarch"))
        .args(args)
        .output()
        .expect("run polyarch")
}

/// Runs `polyarch` with `args`, asserts it succeeded and returns its stdout.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = polyarch(args);
    assert!(
        out.status.success(),
        "polyarch {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Fails with status 1 and one line on stderr mentioning `mentions`.
fn fails(args: &[&str], mentions: &str) {
    let out = polyarch(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(
        err.contains(mentions),
        "{args:?}: {err:?} should mention {mentions:?}"
    );
}

fn init(dir: &Path, name: &str) -> PathBuf {
    let file = dir.join(name);
    let out = ok(&["init", file.to_str().expect("path")]);
    assert!(out.contains("created replica"), "{out}");
    file
}

#[test]
fn edits_are_committed_and_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = init(dir.path(), "laptop.db");
    let f = file.to_str().expect("path");
    ok(&["set", f, "cal", "events/e1/title", "Standup"]);
    ok(&["set", f, "cal", "events/e1/room", "--json", "42"]);
    ok(&["add", f, "cal", "events/e1/guests", "ada"]);
    ok(&["add", f, "cal", "events/e1/guests", "bob"]);
    ok(&["remove", f, "cal", "events/e1/guests", "ada"]);
    ok(&["incr", f, "cal", "events/e1/rsvp", "5"]);
    ok(&["incr", f, "cal", "events/e1/rsvp", "-2"]);
    ok(&["append", f, "notes", "body", "hello"]);
    ok(&["append", f, "notes", "body", ", world"]);

    assert_eq!(ok(&["get", f, "cal", "events/e1/title"]), "\"Standup\"\n");
    assert_eq!(ok(&["get", f, "cal", "events/e1/room"]), "42\n");
    assert_eq!(ok(&["get", f, "cal", "events/e1/rsvp"]), "3\n");
    assert_eq!(ok(&["get", f, "notes", "body"]), "\"hello, world\"\n");
    let guests: serde_json::Value =
        serde_json::from_str(&ok(&["get", f, "cal", "events/e1/guests"])).expect("JSON");
    let members: Vec<&String> = guests
        .as_object()
        .expect("a set is an object")
        .keys()
        .collect();
    assert_eq!(members, ["bob"]);
    let whole: serde_json::Value = serde_json::from_str(&ok(&["get", f, "cal"])).expect("JSON");
    let dump: serde_json::Value = serde_json::from_str(&ok(&["dump", f, "cal"])).expect("JSON");
    assert_eq!(whole, dump);
    assert_eq!(dump["events"]["e1"]["rsvp"], 3);
    let docs = ok(&["docs", f]);
    assert!(docs.contains("2 documents"), "{docs}");
}

#[test]
fn bad_input_is_refused_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = init(dir.path(), "phone.db");
    let f = file.to_str().expect("path");
    fails(&["init", f], "already exists");
    let absent = dir.path().join("absent.db");
    let a = absent.to_str().expect("path");
    fails(&["set", a, "cal", "title", "x"], "polyarch init");
    assert!(!absent.exists(), "an edit created a store");

    ok(&["incr", f, "cal", "count", "1"]);
    fails(&["set", f, "cal", "count", "x"], "count");
    fails(&["append", f, "cal", "count", "x"], "count");
    fails(&["set", f, "cal", "a//b", "x"], "empty key");
    fails(&["set", f, "cal", "title", "--json", "[1, 2]"], "scalar");
    fails(&["set", f, "cal", "title", "--json", "Lunch"], "not JSON");
    fails(&["get", f, "cal", "nothing/here"], "nothing is at");
    fails(&["get", f, "nope"], "does not exist");
    fails(
        &["sync", f, "http://127.0.0.1:1/sync"],
        "not a WebSocket URL",
    );
    // Nothing listens on port 1: one line, and the replica is left as it was.
    fails(
        &["sync", f, "ws://127.0.0.1:1/sync", "--timeout", "30"],
        "cannot connect",
    );
    assert_eq!(ok(&["get", f, "cal", "count"]), "1\n");
    // Not a number: clap's usage error, status 2.
    assert_eq!(
        polyarch(&["incr", f, "cal", "count", "many"]).status.code(),
        Some(2)
    );
}
