//! The Polyarch side of each benchmark, through the public API only.
//!
//! A function returning `None` means "not measured" (the harness then writes `"ours": null`,
//! never a made-up number); every function here is wired up, and a failure panics instead of
//! hiding behind `None`. Each doc comment says exactly what the function does and which part of
//! it is timed. The harness checks every result (final text, texts equal after sync) and
//! measures sizes and memory itself where it can.
//!
//! # The Polyarch API these need
//!
//! Written against the crate as it stood at commit eedc131 (names may still move):
//!
//! ```text
//! Repo::open(dir.join("replica.db"), RepoConfig {
//!     durability: Durability::group(),       // B1/B6; Durability::Immediate for small_writes
//!     text_units: TextUnits::CodePoints,     // the traces count Unicode chars
//!     ..RepoConfig::default() })             -> Result<Repo>
//! repo.create(doc_id)                        -> Result<bool>
//! repo.change(doc_id, |tx| tx.text("text").splice(pos, del, ins))   // B1, B4, B6
//! repo.change(doc_id, |tx| /* put "title" in the root map */)       // B5, small_writes
//!                                            -> Result<Committed<T>>  // one change each
//! repo.flush()                               -> Result<Vec<Receipt>>  // every ack durable
//! repo.view(doc_id, |v| v.text("text").to_string())
//!                                            -> Result<Result<String>>
//! repo.compact(doc_id); repo.close()         -> Result<()>  // snapshot, reclaim, checkpoint
//! sync::Session::new(SessionConfig) over each Repo as a SyncHost, and
//! sync::run_until_quiet(&mut sa, &mut repo_a, &mut sb, &mut repo_b)
//!                                            -> Result<Exchange { round_trips, frames, bytes }>
//! ```
//! `Exchange` maps one to one onto [`SyncOutcome`] (`frames` is `messages`), and its round
//! trips are counted the way the automerge baseline's are. If Polyarch indexes text in UTF-16
//! or bytes instead, convert with `trace::char_to_utf16` / `trace::char_to_byte`.

use std::path::{Path, PathBuf};

use polyarch::sync::{Session, SessionConfig, run_until_quiet};
use polyarch::{Durability, Repo, RepoConfig, TextUnits};

use super::scenario::{Divergence, ManyDocs, SyncOutcome};
use super::timing::{Timed, time};
use super::trace::{Patch, Trace};

/// The document every trace benchmark edits, and the key of its text in the root map.
const DOC: &str = "trace";
const TEXT: &str = "text";
/// File name of a replica inside its directory.
const DB_FILE: &str = "replica.db";

/// The group commit the trace benchmarks use: [`Durability::group`], or
/// `POLYARCH_BENCH_GROUP=<max_changes>,<max_delay_ms>` to explore other batch sizes (every
/// batch still commits with `synchronous=FULL` before its changes count as acknowledged).
fn group() -> Durability {
    let Ok(spec) = std::env::var("POLYARCH_BENCH_GROUP") else {
        return Durability::group();
    };
    let parsed = spec.split_once(',').and_then(|(n, ms)| {
        Some(Durability::Group {
            max_changes: n.trim().parse().ok()?,
            max_delay: std::time::Duration::from_millis(ms.trim().parse().ok()?),
        })
    });
    parsed.unwrap_or_else(|| {
        panic!("POLYARCH_BENCH_GROUP={spec:?}: expected <max_changes>,<max_delay_ms>")
    })
}

/// A replica configuration: durable group commit (`synchronous=FULL`, the default) or one
/// commit per change, positions in Unicode code points as the traces count them.
fn config(durability: Durability) -> RepoConfig {
    RepoConfig {
        durability,
        text_units: TextUnits::CodePoints,
        ..RepoConfig::default()
    }
}

fn open(path: &Path, durability: Durability) -> Repo {
    Repo::open(path, config(durability))
        .unwrap_or_else(|e| panic!("cannot open the replica {}: {e}", path.display()))
}

/// One change applying `patches` to the text, in order.
fn splice(repo: &mut Repo, patches: &[Patch]) {
    repo.change(DOC, |tx| {
        let mut text = tx.text(TEXT);
        for p in patches {
            text.splice(p.pos, p.del, &p.ins)?;
        }
        Ok(())
    })
    .expect("a trace change applies");
}

/// The text of the trace document.
fn read_text(repo: &mut Repo) -> String {
    repo.view(DOC, |v| v.text(TEXT).to_string())
        .expect("the trace document exists")
        .expect("the trace document holds text")
}

/// A replica under `dir` holding the trace document with `trace.start` (one durable change).
fn trace_replica(trace: &Trace, dir: &Path) -> Repo {
    let mut repo = open(&dir.join(DB_FILE), group());
    repo.change(DOC, |tx| tx.text(TEXT).splice(0, 0, &trace.start))
        .expect("create the text");
    repo.flush().expect("commit the first change");
    repo
}

/// Every keystroke of `trace` as its own change, then a flush: every change is durable.
fn apply_keystrokes(repo: &mut Repo, trace: &Trace) {
    for txn in &trace.txns {
        splice(repo, txn);
    }
    repo.flush().expect("commit the last group");
}

/// B1 `local_apply` — durable local edits, one change per keystroke.
///
/// Untimed setup: open a new replica in a file under `dir` with durable group commit
/// ([`Durability::group`]: batches of up to 1,024 changes or 10 ms, `synchronous=FULL`) and create
/// the document with its text holding `trace.start`.
/// Timed: for each transaction of `trace`, one `Repo::change` applying its patches (splices at
/// char positions); then `flush`, after which every change is durable on disk. Stop the clock.
/// Untimed: read the text back and return it as `value`; close the replica.
///
/// Compared with raw automerge (`Automerge` + transaction + `splice_text` + commit per
/// keystroke, no persistence). Target: at most 1.3x.
pub fn local_apply(trace: &Trace, dir: &Path) -> Option<Timed<String>> {
    let mut repo = trace_replica(trace, dir);
    let timed = time(|| apply_keystrokes(&mut repo, trace));
    let text = read_text(&mut repo);
    repo.close().expect("close the replica");
    Some(timed.with(text))
}

/// B2/B3 setup (untimed) — a replica file holding the whole trace document.
///
/// Create a replica under `dir` and apply `trace` as [`local_apply`] does (one change per
/// keystroke, durable), close it (`Repo::close` compacts a document whose logged history
/// outweighs its snapshot, as an application closing the replica would), and return the path to
/// open it again. Everything Polyarch keeps for this replica lives in `dir`.
pub fn write_trace_db(trace: &Trace, dir: &Path) -> Option<PathBuf> {
    let mut repo = trace_replica(trace, dir);
    apply_keystrokes(&mut repo, trace);
    repo.close().expect("close the replica");
    Some(dir.join(DB_FILE))
}

/// B2 `reopen` — open the trace document from its SQLite file and read the text.
///
/// Timed: open the replica at `db` (made by [`write_trace_db`]), load the trace document, read
/// its whole text. Stop the clock. Untimed: close the replica; return the text as `value`.
///
/// Compared with `Automerge::load` of the compact save plus reading the text. Target: 1.2x.
pub fn reopen(db: &Path) -> Option<Timed<String>> {
    let timed = time(|| {
        let mut repo = open(db, group());
        let text = read_text(&mut repo);
        (repo, text)
    });
    let (repo, text) = timed.value;
    repo.close().expect("close the replica");
    Some(Timed {
        elapsed: timed.elapsed,
        cpu: timed.cpu,
        value: text,
    })
}

/// B3 `db_size` — compact the replica at `db` as an application would before archiving it.
///
/// `Repo::compact` snapshots the document, deletes the logged changes the snapshot covers,
/// returns the freed pages to the file system (incremental vacuum) and truncates the
/// write-ahead log; `Repo::close` then closes the database (SQLite removes the empty WAL).
/// The harness adds up the size of every file in `db`'s directory.
///
/// Compared with the bytes of automerge's compact save. Target: at most 1.5x.
pub fn compact(db: &Path) -> Option<()> {
    let mut repo = open(db, group());
    repo.compact(DOC).expect("compact the trace document");
    repo.close().expect("close the replica");
    Some(())
}

/// B6 `peak_memory` — apply the trace exactly as [`local_apply`] does, in a child process.
///
/// Runs in its own process; the harness resets the high-water mark just before this is called
/// and reads it right after. Returns the final text (read after the last durable commit).
/// Target: peak at most 1.5x raw automerge's.
pub fn apply_for_memory(trace: &Trace, dir: &Path) -> Option<String> {
    let mut repo = trace_replica(trace, dir);
    apply_keystrokes(&mut repo, trace);
    let text = read_text(&mut repo);
    drop(repo);
    Some(text)
}

/// A session that expects `peer` (so its hello carries our cursor into `peer`'s log).
fn session_for(peer: &Repo) -> Session {
    Session::new(SessionConfig {
        peer_hint: Some(peer.device_id()),
        ..SessionConfig::default()
    })
}

/// Syncs two replicas in memory until both are quiet, counting what crossed the wire.
fn sync(a: &mut Repo, b: &mut Repo) -> SyncOutcome {
    a.flush().expect("flush A");
    b.flush().expect("flush B");
    let (mut sa, mut sb) = (session_for(b), session_for(a));
    let exchange = run_until_quiet(&mut sa, a, &mut sb, b).expect("sync");
    SyncOutcome {
        bytes: exchange.bytes,
        messages: exchange.frames,
        round_trips: u64::from(exchange.round_trips),
        texts: Vec::new(),
    }
}

/// B4 `sync_divergence` — two replicas diverge, then sync once.
///
/// Untimed: replica A (a file under `dir`, durable group commit) applies `scenario.shared`,
/// one change per inner `Vec`; replica B (another file) receives it through a first sync, after
/// which both remember each other (cursors saved in their stores). Then, offline, A applies
/// `a_changes` and B applies each patch of `b_changes` as its own change.
/// Measured: new sessions whose hellos carry the cursors (`peer_hint`), run to quiescence with
/// `run_until_quiet`; bytes are every framed message both ways, messages every frame, round
/// trips the legs (flights that may go both ways at once) halved, rounded up. Returns both
/// texts (A's, then B's).
///
/// Compared with automerge's sync protocol on the same scenario. Target: one round trip, and
/// total bytes at most automerge's.
pub fn sync_divergence(scenario: &Divergence, dir: &Path) -> Option<SyncOutcome> {
    let mut a = open(&dir.join("a.db"), Durability::group());
    let mut b = open(&dir.join("b.db"), Durability::group());
    a.change(DOC, |tx| tx.text(TEXT).splice(0, 0, &scenario.start))
        .expect("create the text");
    for change in &scenario.shared {
        splice(&mut a, change);
    }
    let first = sync(&mut a, &mut b);
    eprintln!(
        "  ours: first sync of the shared half: {} bytes, {} frames",
        first.bytes, first.messages
    );
    for change in &scenario.a_changes {
        splice(&mut a, change);
    }
    for patch in &scenario.b_changes {
        splice(&mut b, std::slice::from_ref(patch));
    }
    let mut outcome = sync(&mut a, &mut b);
    outcome.texts = vec![read_text(&mut a), read_text(&mut b)];
    a.close().expect("close A");
    b.close().expect("close B");
    Some(outcome)
}

/// The id of document `i` of the many-documents scenario.
fn event_doc(i: usize) -> String {
    format!("event-{i:05}")
}

/// B5 `many_docs` — two replicas share many small documents; one edits a few offline.
///
/// Untimed: replica A creates every document of `scenario.docs` (one change each, three
/// registers in the root map); B receives them all in a first sync and both remember each other
/// (the cursors are saved in their stores). Both replicas are closed and reopened, as apps
/// restarting would be, so that no document is loaded in memory. A makes `scenario.edits`
/// offline (one change each). Measured: reconnect (hellos with cursors) and sync until quiet,
/// counting bytes and frames both ways as in [`sync_divergence`].
///
/// Checked here (the harness cannot see Polyarch documents): B has every edited title; the
/// exchange resumed from the cursors (no full resync, no summary of the 10,000 documents); A
/// sent exactly the edits; and after the exchange neither replica has loaded any document other
/// than the edited ones. `texts` stays empty.
///
/// Target: bytes at most 2x the raw bytes of the 100 automerge changes plus a small constant.
pub fn many_docs(scenario: &ManyDocs, dir: &Path) -> Option<SyncOutcome> {
    let (a_path, b_path) = (dir.join("a.db"), dir.join("b.db"));
    let mut a = open(&a_path, Durability::group());
    let mut b = open(&b_path, Durability::group());
    for (i, event) in scenario.docs.iter().enumerate() {
        a.change(event_doc(i), |tx| {
            tx.register("title").set(event.title.as_str())?;
            tx.register("start").set(event.start)?;
            tx.register("minutes").set(event.minutes)
        })
        .expect("create an event");
    }
    let first = sync(&mut a, &mut b);
    eprintln!(
        "  ours: first sync of {} documents: {} bytes, {} frames",
        scenario.docs.len(),
        first.bytes,
        first.messages
    );
    a.close().expect("close A");
    b.close().expect("close B");

    let mut a = open(&a_path, Durability::group());
    let mut b = open(&b_path, Durability::group());
    for (i, title) in &scenario.edits {
        a.change(event_doc(*i), |tx| tx.register("title").set(title.as_str()))
            .expect("edit an event");
    }
    a.flush().expect("flush A");
    b.flush().expect("flush B");
    let (mut sa, mut sb) = (session_for(&b), session_for(&a));
    let exchange = run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).expect("sync");
    let (stats_a, stats_b) = (sa.stats(), sb.stats());
    eprintln!(
        "  ours: reconnect: {} bytes, {} frames, {} round trips; A sent {} changes, B sent {}; \
         full resync: A {}, B {}; documents loaded: A {}, B {}",
        exchange.bytes,
        exchange.frames,
        exchange.round_trips,
        stats_a.changes_out,
        stats_b.changes_out,
        stats_a.full_resync,
        stats_b.full_resync,
        a.loaded_docs(),
        b.loaded_docs(),
    );
    assert!(
        !stats_a.full_resync && !stats_b.full_resync,
        "B5: the reconnect fell back to comparing every document"
    );
    assert_eq!(
        stats_a.changes_out,
        scenario.edits.len() as u64,
        "B5: A sent other changes"
    );
    assert_eq!(stats_b.changes_out, 0, "B5: B had nothing new to send");
    let edited = scenario.edits.len();
    assert!(
        a.loaded_docs() <= edited && b.loaded_docs() <= edited,
        "B5: the exchange loaded documents that did not change"
    );
    for (i, title) in &scenario.edits {
        let got = b
            .view(event_doc(*i), |v| v.register("title").get())
            .expect("B has the document")
            .expect("read the title");
        assert_eq!(
            got,
            Some(title.as_str().into()),
            "B5: B lacks the edit of document {i}"
        );
    }
    a.close().expect("close A");
    b.close().expect("close B");
    Some(SyncOutcome {
        bytes: exchange.bytes,
        messages: exchange.frames,
        round_trips: u64::from(exchange.round_trips),
        texts: Vec::new(),
    })
}

/// Context — acknowledged small writes per second through Polyarch.
///
/// Untimed: open a replica under `dir` with the default configuration (every change commits
/// before `change` returns, `synchronous=FULL`) and create a document. Timed: `n` changes, each
/// putting one ~100-byte string in the root map, each acknowledged and durable before the next
/// is made (`change` then `flush`, which has nothing left to do). Returns `n` as `value`. Shown
/// beside raw SQLite's commit rate; no target.
pub fn small_writes(n: usize, dir: &Path) -> Option<Timed<usize>> {
    let mut repo = open(&dir.join(DB_FILE), Durability::Immediate);
    repo.create("notes").expect("create the document");
    let value = "x".repeat(100);
    let timed = time(|| {
        for i in 0..n {
            repo.change("notes", |tx| {
                tx.register("note").set(format!("{i} {value}"))
            })
            .expect("a small write");
            repo.flush().expect("flush");
        }
        n
    });
    repo.close().expect("close the replica");
    Some(timed)
}
