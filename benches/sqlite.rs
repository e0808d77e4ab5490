//! Context: how many small transactions per second raw SQLite commits on this machine, in WAL
//! mode with `synchronous=NORMAL` and with `synchronous=FULL` (each transaction inserts one
//! ~100-byte row and commits). It bounds what a durable one-write-per-transaction design can do
//! and shows why B1 needs group commit. Beside it, "ours": acknowledged durable small writes per
//! second through Polyarch (`ours::small_writes`). No targets.
//!
//! Run: `cargo bench --bench sqlite`; `POLYARCH_BENCH_QUICK=1` for a smoke run.

#[allow(dead_code)] // shared by every bench binary; each uses part of it
mod support;

use std::path::Path;

use rusqlite::Connection;

use support::report::{Report, Target};
use support::timing::{self, Samples, Timed, time};
use support::{ours, scratch_dir};

/// Bytes of the row payload each transaction inserts.
const PAYLOAD: usize = 100;

fn main() {
    let quick = support::quick();
    let runs = timing::runs(3, 1);
    let ours_n = if quick { 200 } else { 2_000 };
    let mine = measure_ours(runs, ours_n);
    for (name, synchronous, n) in [
        (
            "sqlite_commit_normal",
            "NORMAL",
            if quick { 2_000 } else { 20_000 },
        ),
        (
            "sqlite_commit_full",
            "FULL",
            if quick { 200 } else { 2_000 },
        ),
    ] {
        eprintln!("{name}: {runs} runs of {n} transactions (WAL, synchronous={synchronous})");
        let mut samples = Samples::default();
        for _ in 0..runs {
            let dir = scratch_dir();
            let t = commit_loop(dir.path(), synchronous, n);
            assert_eq!(t.value, n, "every insert was committed");
            samples.push(&t);
        }
        let rate = n as f64 / samples.best();
        Report::new(
            name,
            "tx/s",
            mine.as_ref().map(|s| ours_n as f64 / s.best()),
            rate,
            Target::Context,
        )
        .detail("transactions", n)
        .detail("payload_bytes", PAYLOAD)
        .detail("statistic", "transactions / best run's seconds")
        .detail("baseline_runs", samples.to_json())
        .detail(
            "baseline_what",
            format!("rusqlite, WAL, synchronous={synchronous}, one INSERT per transaction"),
        )
        .detail(
            "ours_what",
            "Polyarch: one acknowledged durable change per write",
        )
        .detail("ours_runs", mine.as_ref().map(Samples::to_json))
        .write();
    }
}

/// Polyarch's durable small writes, or `None` while not wired up.
fn measure_ours(runs: usize, n: usize) -> Option<Samples> {
    let mut samples = Samples::default();
    for _ in 0..runs {
        let dir = scratch_dir();
        let t = ours::small_writes(n, dir.path())?;
        assert_eq!(t.value, n, "ours made every write");
        samples.push(&t);
    }
    Some(samples)
}

/// `n` transactions of one insert each, timed; the value is the number of rows afterwards.
fn commit_loop(dir: &Path, synchronous: &str, n: usize) -> Timed<usize> {
    let mut conn = Connection::open(dir.join("commit.db")).expect("open the database");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("WAL mode");
    conn.pragma_update(None, "synchronous", synchronous)
        .expect("set synchronous");
    conn.execute_batch(
        "CREATE TABLE log (id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, data BLOB NOT NULL)",
    )
    .expect("create the table");
    let payload: Vec<u8> = (0..PAYLOAD).map(|i| (i * 31 % 251) as u8).collect();
    let timed = time(|| {
        for i in 0..n {
            let tx = conn.transaction().expect("begin");
            tx.prepare_cached("INSERT INTO log (doc, data) VALUES (?1, ?2)")
                .and_then(|mut stmt| stmt.execute(rusqlite::params![i as i64 % 64, payload]))
                .expect("insert");
            tx.commit().expect("commit");
        }
    });
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM log", [], |r| r.get(0))
        .expect("count rows");
    timed.with(usize::try_from(rows).expect("row count is positive"))
}
