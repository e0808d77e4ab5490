//! Shared code for the Polyarch benchmarks (`benches/*.rs`, each a `harness = false` binary).
//!
//! - [`baseline`]: raw automerge 0.12, the side Polyarch is compared with.
//! - [`trace`]: loading the real editing traces (char positions, and conversions).
//! - [`timing`]: alternating baseline/ours runs, best and median of N.
//! - [`report`]: `target/polyarch-bench/<name>.json` and the one-line summary.
//! - [`memory`]: peak memory measured in a child process per side.
//! - [`scenario`]: the sync scenarios as data, replayed identically by both sides.
//! - [`ours`]: the Polyarch side, one function per benchmark, `None` until wired up.
//!
//! Environment: `POLYARCH_BENCH_QUICK=1` shortens every input (a prefix of the trace, fewer
//! documents, one run) so that `cargo bench` can be smoke-run; `POLYARCH_BENCH_RUNS=N` sets the
//! number of timed runs; `POLYARCH_BENCH_ONLY=a,b` runs only the named benchmarks (by report
//! name, e.g. `local_apply`); `POLYARCH_TRACES=DIR` says where the traces are.
//!
//! Each bench binary uses part of this module, so unused items are allowed where it is declared.

pub mod baseline;
pub mod memory;
pub mod ours;
pub mod report;
pub mod scenario;
pub mod timing;
pub mod trace;

use std::path::{Path, PathBuf};

/// Keystrokes of the trace used in quick mode.
pub const QUICK_KEYSTROKES: usize = 20_000;

/// Whether `POLYARCH_BENCH_QUICK` asks for the short smoke-run inputs.
pub fn quick() -> bool {
    std::env::var("POLYARCH_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Whether `POLYARCH_BENCH_ONLY` (a comma-separated list of benchmark names) lets `name` run.
pub fn selected(name: &str) -> bool {
    match std::env::var("POLYARCH_BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => only.split(',').any(|n| n.trim() == name),
        _ => true,
    }
}

/// The trace the benchmarks replay, shortened in quick mode.
pub fn paper_trace() -> trace::Trace {
    let limit = quick().then_some(QUICK_KEYSTROKES);
    let t = trace::load(trace::AUTOMERGE_PAPER, limit);
    eprintln!(
        "trace {}: {} keystrokes, final text {} chars{}",
        t.name,
        t.keystrokes(),
        t.end.chars().count(),
        if quick() {
            " (quick mode: a prefix)"
        } else {
            ""
        }
    );
    t
}

/// `target/polyarch-bench`: the cargo target directory is found from this executable's path
/// (`<target>/<profile>/deps/<bench>-<hash>`), so `CARGO_TARGET_DIR` is honoured.
pub fn out_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let target = exe
        .as_deref()
        .and_then(|e| e.ancestors().nth(3))
        .filter(|t| t.join("CACHEDIR.TAG").exists())
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
            Path::to_path_buf,
        );
    target.join("polyarch-bench")
}

/// A fresh temporary directory under `target/polyarch-bench/tmp` (on the same disk as the
/// project, not a RAM-backed `/tmp`, so that fsync costs what it costs), removed on drop.
pub fn scratch_dir() -> tempfile::TempDir {
    let base = out_dir().join("tmp");
    std::fs::create_dir_all(&base).expect("cannot create target/polyarch-bench/tmp");
    tempfile::tempdir_in(&base).expect("cannot create a temporary directory")
}

/// Total size in bytes of the files in `dir` and its subdirectories.
pub fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => dir_size(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Bytes in MiB, for the summaries.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
