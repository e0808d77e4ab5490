//! Benchmarks on the automerge-paper editing trace (259,778 keystrokes; `shared/traces/`,
//! by Martin Kleppmann via Joseph Gentle's editing-traces, CC BY 4.0):
//!
//! - B1 `local_apply`: durable local edits, one change per keystroke, vs raw automerge with a
//!   commit per keystroke and no persistence. Target: at most 1.3x.
//! - B2 `reopen`: open the trace document from its SQLite file and read the text, vs
//!   `Automerge::load` of the compact save plus reading the text. Target: at most 1.2x.
//! - B3 `db_size`: the replica's files after compaction vs the compact save's bytes. Target: 1.5x.
//! - B6 `peak_memory`: memory added at the peak while applying the trace, each side measured in
//!   its own child process. Target: at most 1.5x.
//!
//! Run: `cargo bench --bench trace` (about a minute for the baselines);
//! `POLYARCH_BENCH_QUICK=1 cargo bench --bench trace` for a smoke run on a prefix.

#[allow(dead_code)] // shared by every bench binary; each uses part of it
mod support;

use support::memory;
use support::report::{Report, Target};
use support::timing;
use support::trace::Trace;
use support::{baseline, ours, scratch_dir};

const CHILD_BASELINE: &str = "peak-baseline";
const CHILD_OURS: &str = "peak-ours";

fn main() {
    if let Some(mode) = memory::child_mode() {
        return peak_child(&mode);
    }
    let trace = support::paper_trace();
    let save = if support::selected("local_apply") {
        local_apply(&trace)
    } else {
        baseline::apply_trace(&trace).1.save()
    };
    if support::selected("reopen") || support::selected("db_size") {
        let db_dir = scratch_dir();
        let db = ours::write_trace_db(&trace, db_dir.path());
        if support::selected("reopen") {
            reopen(&trace, &save, db.as_deref());
        }
        if support::selected("db_size") {
            db_size(&trace, &save, db.as_deref(), db_dir.path());
        }
    }
    if support::selected("peak_memory") {
        peak_memory(&trace);
    }
}

/// B1. Returns the compact save of the baseline's document for B2 and B3.
fn local_apply(trace: &Trace) -> Vec<u8> {
    let runs = timing::runs(3, 1);
    eprintln!("B1 local_apply: {runs} alternating runs per side");
    let mut save = None;
    let (base, mine) = timing::alternate(
        runs,
        || {
            let (timed, doc) = baseline::apply_trace(trace);
            let text = baseline::text_of(&doc);
            save.get_or_insert_with(|| doc.save());
            timed.with(text)
        },
        || {
            let dir = scratch_dir();
            ours::local_apply(trace, dir.path())
        },
        |side, text| assert!(*text == trace.end, "B1: {side} ended with the wrong text"),
    );
    let n = trace.keystrokes() as f64;
    Report::new(
        "local_apply",
        "s",
        mine.as_ref().map(|s| s.best()),
        base.best(),
        Target::Ratio(1.3),
    )
    .detail("keystrokes", trace.keystrokes())
    .detail("changes", trace.keystrokes())
    .detail("statistic", "best of alternating runs")
    .note(timing::cpu_note(&base, mine.as_ref()))
    .detail("baseline_runs", base.to_json())
    .detail("ours_runs", mine.as_ref().map(|s| s.to_json()))
    .detail("baseline_keystrokes_per_s", n / base.best())
    .detail(
        "baseline_what",
        "automerge 0.12: transaction + splice_text + commit per keystroke, in memory",
    )
    .write();
    save.expect("at least one baseline run")
}

/// B2.
fn reopen(trace: &Trace, save: &[u8], db: Option<&std::path::Path>) {
    let runs = timing::runs(7, 2);
    eprintln!("B2 reopen: {runs} alternating runs per side");
    let (base, mine) = timing::alternate(
        runs,
        || baseline::load_and_read(save),
        || db.and_then(ours::reopen),
        |side, text| assert!(*text == trace.end, "B2: {side} read the wrong text"),
    );
    Report::new(
        "reopen",
        "s",
        mine.as_ref().map(|s| s.best()),
        base.best(),
        Target::Ratio(1.2),
    )
    .detail("statistic", "best of alternating runs")
    .note(timing::cpu_note(&base, mine.as_ref()))
    .detail("baseline_runs", base.to_json())
    .detail("ours_runs", mine.as_ref().map(|s| s.to_json()))
    .detail("save_bytes", save.len())
    .detail(
        "baseline_what",
        "automerge 0.12: Automerge::load(compact save) + text()",
    )
    .write();
}

/// B3.
fn db_size(trace: &Trace, save: &[u8], db: Option<&std::path::Path>, db_dir: &std::path::Path) {
    let ours = db
        .and_then(ours::compact)
        .map(|()| support::dir_size(db_dir) as f64);
    Report::new(
        "db_size",
        "bytes",
        ours,
        save.len() as f64,
        Target::Ratio(1.5),
    )
    .detail("text_bytes", trace.end.len())
    .detail("keystrokes", trace.keystrokes())
    .detail(
        "baseline_what",
        "bytes of automerge 0.12 Automerge::save() (compact, full history)",
    )
    .detail(
        "ours_what",
        "every file in the replica's directory after compaction",
    )
    .write();
}

/// B6: each side in its own child process.
fn peak_memory(trace: &Trace) {
    eprintln!("B6 peak_memory: one child process per side");
    let base = memory::run_child(CHILD_BASELINE).expect("the baseline child always measures");
    let mine = memory::run_child(CHILD_OURS);
    let not_reset = !base.reset || mine.is_some_and(|p| !p.reset);
    Report::new(
        "peak_memory",
        "MiB",
        mine.map(|p| p.added_mib()),
        base.added_mib(),
        Target::Ratio(1.5),
    )
    .detail("keystrokes", trace.keystrokes())
    .detail(
        "statistic",
        "VmHWM after the work minus VmRSS before it (high-water mark reset first)",
    )
    .detail("baseline_process", base.to_json())
    .detail("ours_process", mine.as_ref().map(|p| p.to_json()))
    .detail(
        "warning",
        not_reset.then_some("high-water mark not reset: peaks include loading"),
    )
    .write();
}

/// The child process of B6: load the trace (not measured), then measure one side applying it.
fn peak_child(mode: &str) {
    let trace = support::paper_trace();
    match mode {
        CHILD_BASELINE => memory::report_from_child(|| {
            let (_, doc) = baseline::apply_trace(&trace);
            assert!(
                baseline::text_of(&doc) == trace.end,
                "B6: baseline ended with the wrong text"
            );
            Some(())
        }),
        CHILD_OURS => {
            let dir = scratch_dir();
            memory::report_from_child(|| {
                let text = ours::apply_for_memory(&trace, dir.path())?;
                assert!(text == trace.end, "B6: ours ended with the wrong text");
                Some(())
            });
        }
        other => panic!("unknown child mode {other:?}"),
    }
}
