//! The `polyarch` command-line tool, run as a user would, on a real replica file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polyarch::sync::{Session, SessionConfig, run_until_quiet};
use polyarch::{Repo, RepoConfig};

fn polyarch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyarch"))
        .args(args)
        .output()
        .expect("run polyarch")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "polyarch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// Fails with status 1 and one line on stderr naming the problem.
fn fails(out: &Output, mentions: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(
        err.contains(mentions),
        "{err:?} should mention {mentions:?}"
    );
}

/// A replica file with two documents that has synced with a peer labelled "laptop".
fn replica(dir: &Path) -> PathBuf {
    let path = dir.join("phone.db");
    let mut phone = Repo::open(&path, RepoConfig::default()).expect("open");
    let mut laptop = Repo::in_memory(RepoConfig {
        label: "laptop".into(),
        ..RepoConfig::default()
    })
    .expect("repo");
    for i in 0..3 {
        phone
            .change("calendar", |tx| {
                tx.register(["events", "e1", "title"])
                    .set(format!("Review {i}").as_str())?;
                tx.counter(["events", "e1", "rsvp"]).increment(1)
            })
            .expect("change");
    }
    laptop
        .change("notes", |tx| {
            tx.text("body").splice(0, 0, "from the laptop")
        })
        .expect("change");
    let (mut a, mut b) = (
        Session::new(SessionConfig::default()),
        Session::new(SessionConfig::default()),
    );
    run_until_quiet(&mut a, &mut phone, &mut b, &mut laptop).expect("sync");
    phone
        .change("calendar", |tx| {
            tx.set(["events", "e1", "guests"]).add("ada")
        })
        .expect("change");
    path
}

#[test]
fn docs_lists_documents_with_change_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = replica(dir.path());
    let out = stdout(&polyarch(&["docs", file.to_str().expect("path")]));
    let calendar = out
        .lines()
        .find(|l| l.starts_with("calendar"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(calendar.split_whitespace().nth(1), Some("4"), "{out}");
    let notes = out
        .lines()
        .find(|l| l.starts_with("notes"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(notes.split_whitespace().nth(1), Some("1"), "{out}");
    assert!(out.contains("2 documents"), "{out}");
}

#[test]
fn dump_prints_the_document_as_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = replica(dir.path());
    let expected = {
        let mut repo = Repo::open(&file, RepoConfig::default()).expect("open");
        repo.to_json("calendar").expect("json")
    };
    let out = stdout(&polyarch(&[
        "dump",
        file.to_str().expect("path"),
        "calendar",
    ]));
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(json, expected);
    assert_eq!(json["events"]["e1"]["title"], "Review 2");
    assert!(out.lines().count() > 3, "pretty-printed: {out}");

    let missing = polyarch(&["dump", file.to_str().expect("path"), "nope"]);
    fails(&missing, "nope");
}

#[test]
fn status_shows_replication_like_info_replication() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = replica(dir.path());
    let path = file.to_str().expect("path");
    let text = stdout(&polyarch(&["status", path]));
    for key in ["device:", "epoch:", "log_head:5", "documents:2", "peer0:"] {
        assert!(text.contains(key), "{key} in {text}");
    }
    let peer = text
        .lines()
        .find(|l| l.starts_with("peer0:"))
        .expect("peer line");
    for part in ["label=laptop", "acked=4", "unacked=1", "last_contact="] {
        assert!(peer.contains(part), "{part} in {peer}");
    }
    assert!(!peer.contains("never"), "{peer}");

    let json: serde_json::Value =
        serde_json::from_str(&stdout(&polyarch(&["status", path, "--json"]))).expect("JSON");
    assert_eq!(json["log_head"], 5);
    assert_eq!(json["documents"], 2);
    assert_eq!(json["peers"][0]["label"], "laptop");
    assert_eq!(json["peers"][0]["unacked"], 1);
}

#[test]
fn doc_status_and_compact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = replica(dir.path());
    let path = file.to_str().expect("path");
    let before = stdout(&polyarch(&["dump", path, "calendar"]));
    let status = stdout(&polyarch(&["doc-status", path, "calendar"]));
    assert!(status.contains("logged_changes:4"), "{status}");
    assert!(status.contains("snapshot_bytes:0"), "{status}");
    let token = status
        .lines()
        .find_map(|l| l.strip_prefix("version_token:"))
        .expect("token");
    let version = polyarch::VersionVector::from_token(token).expect("a valid token");
    assert_eq!(version.total(), 4);

    let out = stdout(&polyarch(&["compact", path, "calendar"]));
    assert!(out.contains("compacted 1 documents"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&polyarch(&[
        "doc-status",
        path,
        "calendar",
        "--json",
    ])))
    .expect("JSON");
    assert_eq!(json["logged_changes"], 0);
    assert!(json["snapshot_bytes"].as_u64().unwrap_or(0) > 0, "{json}");
    assert_eq!(stdout(&polyarch(&["dump", path, "calendar"])), before);

    let out = stdout(&polyarch(&["compact", path]));
    assert!(out.contains("compacted 2 documents"), "{out}");
    let mut repo = Repo::open(&file, RepoConfig::default()).expect("open");
    repo.integrity_check().expect("integrity");
    assert_eq!(
        repo.to_json("notes").expect("notes")["body"],
        "from the laptop"
    );
}

#[test]
fn errors_are_one_line_and_never_create_a_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let absent = dir.path().join("absent.db");
    let absent_str = absent.to_str().expect("path");
    for args in [
        vec!["docs", absent_str],
        vec!["status", absent_str],
        vec!["dump", absent_str, "d"],
        vec!["compact", absent_str],
    ] {
        fails(&polyarch(&args), "does not exist");
        assert!(!absent.exists(), "{args:?} created a store");
    }
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database, just text\n".repeat(100)).expect("write");
    fails(
        &polyarch(&["status", junk.to_str().expect("path")]),
        "not a Polyarch store",
    );
    let file = replica(dir.path());
    fails(
        &polyarch(&["doc-status", file.to_str().expect("path"), "missing-doc"]),
        "missing-doc",
    );
    // A bad command line is clap's business: usage on stderr, status 2.
    let out = polyarch(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}
