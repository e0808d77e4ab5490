//! The Polyarch side of each benchmark: **not wired up yet**.
//!
//! Every function here returns `None` until the Polyarch API it needs exists; the harness then
//! reports "ours not measured yet" and writes `"ours": null` — never a made-up number. To wire one
//! up, replace its body (and only its body) with real calls; the doc comment says exactly what the
//! function must do and which part of it is timed. The harness checks every result (final text,
//! texts equal after sync) and measures sizes and memory itself where it can.
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

use super::scenario::{Divergence, ManyDocs, SyncOutcome};
use super::timing::Timed;
use super::trace::Trace;

/// B1 `local_apply` — durable local edits, one change per keystroke.
///
/// Untimed setup: open a new replica in a file under `dir` with durable group commit and create
/// a document with an empty text object (holding `trace.start`).
/// Timed: for each transaction of `trace`, one local change applying its patches (`splice_text`
/// at char positions) through the public API, each acknowledged as a local write; then wait until
/// every one is durable on disk (`flush`). Stop the clock.
/// Untimed: read the text back and return it as `value`; close the replica.
///
/// Compared with raw automerge (`Automerge` + transaction + `splice_text` + commit per
/// keystroke, no persistence). Target: at most 1.3x.
pub fn local_apply(trace: &Trace, dir: &Path) -> Option<Timed<String>> {
    let _ = (trace, dir); // NOT WIRED UP YET
    None
}

/// B2/B3 setup (untimed) — a replica file holding the whole trace document.
///
/// Create a replica under `dir` and apply `trace` as [`local_apply`] does (one change per
/// keystroke, durable), close it, and return the path to open it again. Everything Polyarch keeps
/// for this replica must live in `dir` (B3 measures the directory).
pub fn write_trace_db(trace: &Trace, dir: &Path) -> Option<PathBuf> {
    let _ = (trace, dir); // NOT WIRED UP YET
    None
}

/// B2 `reopen` — open the trace document from its SQLite file and read the text.
///
/// Timed: open the replica at `db` (made by [`write_trace_db`]), open the trace document, read
/// its whole text. Stop the clock. Untimed: close the replica; return the text as `value`.
///
/// Compared with `Automerge::load` of the compact save plus reading the text. Target: 1.2x.
pub fn reopen(db: &Path) -> Option<Timed<String>> {
    let _ = db; // NOT WIRED UP YET
    None
}

/// B3 `db_size` — compact the replica at `db` as an application would before archiving it.
///
/// Run Polyarch's compaction (snapshot the document, drop history the snapshot covers if the
/// design allows it, checkpoint the WAL, VACUUM) and close the replica. Return `Some(())` when
/// done; the harness then adds up the size of every file in `db`'s directory itself.
///
/// Compared with the bytes of automerge's compact save. Target: at most 1.5x.
pub fn compact(db: &Path) -> Option<()> {
    let _ = db; // NOT WIRED UP YET
    None
}

/// B6 `peak_memory` — apply the trace exactly as [`local_apply`] does, in a child process.
///
/// Runs in its own process; the harness resets the high-water mark just before this is called
/// and reads it right after. Return the final text (read after the last durable commit).
/// Target: peak at most 1.5x raw automerge's.
pub fn apply_for_memory(trace: &Trace, dir: &Path) -> Option<String> {
    let _ = (trace, dir); // NOT WIRED UP YET
    None
}

/// B4 `sync_divergence` — two replicas diverge, then sync once.
///
/// Untimed: two replicas A and B (files under `dir`, or in memory) that share the
/// `scenario.shared` history, then A's and B's offline changes, as [`Divergence`] describes.
/// Measured: connect them with Polyarch's sync protocol and run it to quiescence, counting every
/// byte each side hands to the transport (the framed message, as it would go on the wire) and
/// every message; round trips = sequential flights of messages / 2, rounded up. Return both
/// texts in `texts` (A's, then B's).
///
/// Compared with automerge's sync protocol on the same scenario. Target: one round trip, and
/// total bytes at most automerge's.
pub fn sync_divergence(scenario: &Divergence, dir: &Path) -> Option<SyncOutcome> {
    let _ = (scenario, dir); // NOT WIRED UP YET
    None
}

/// B5 `many_docs` — two replicas share many small documents; one edits a few offline.
///
/// Untimed: replica A creates every document of `scenario.docs` (one change each); B receives
/// them all and both remember each other (cursors saved as a real app would); disconnect. A
/// makes `scenario.edits` offline (one change each). Measured: reconnect and sync until idle,
/// counting bytes and messages both ways as in [`sync_divergence`]. `texts` stays empty; the
/// harness cannot see Polyarch documents, so check here that B now has every edited title.
///
/// Target: bytes at most 2x the raw bytes of the 100 automerge changes plus a small constant.
pub fn many_docs(scenario: &ManyDocs, dir: &Path) -> Option<SyncOutcome> {
    let _ = (scenario, dir); // NOT WIRED UP YET
    None
}

/// Context — acknowledged small writes per second through Polyarch.
///
/// Untimed: open a replica under `dir` with the default (durable) configuration and create a
/// document. Timed: `n` changes, each putting one small value (a ~100-byte string) in the root
/// map, each acknowledged and durable before the next is made (`change` then `flush`). Return
/// `n` as `value`. Shown beside raw SQLite's commit rate; no target.
pub fn small_writes(n: usize, dir: &Path) -> Option<Timed<usize>> {
    let _ = (n, dir); // NOT WIRED UP YET
    None
}
