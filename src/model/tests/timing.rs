//! Hand-run timing of [`Doc::transact`] against raw automerge on a real editing trace:
//! `cargo test --release --lib model::tests::timing -- --ignored --nocapture`
//! (`POLYARCH_TRACE_N` keystrokes, 50,000 by default). Reports wall time and, where Linux
//! provides it, the thread's CPU time, which a busy machine disturbs much less. For a count
//! that no other load disturbs, run it once under `valgrind --tool=callgrind` with
//! `POLYARCH_TRACE_SIDE=raw`, then `ours`, and compare the inclusive instruction counts of the
//! `raw` and `ours` functions.

use std::io::Read;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT};

use super::actor;
use crate::model::{Doc, TextUnits};

const TRACE: &str = "/work/shared/traces/automerge-paper.json.gz";

/// Wall time and this thread's CPU time (zero where `/proc` does not tell).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct Spent {
    cpu: Duration,
    wall: Duration,
}

fn cpu_now() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// Times `f`.
fn spent<T>(f: impl FnOnce() -> T) -> (Spent, T) {
    let (cpu, wall) = (cpu_now(), Instant::now());
    let out = f();
    let spent = Spent {
        cpu: cpu_now() - cpu,
        wall: wall.elapsed(),
    };
    (spent, out)
}

/// The trace's transactions: each a list of (position, deleted, inserted).
fn trace(n: usize) -> Vec<Vec<(usize, usize, String)>> {
    let mut json = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(TRACE).unwrap())
        .read_to_string(&mut json)
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let patch = |p: &serde_json::Value| {
        let n = |i: usize| p[i].as_u64().unwrap() as usize;
        (n(0), n(1), p[2].as_str().unwrap().to_owned())
    };
    json["txns"].as_array().unwrap()[..n]
        .iter()
        .map(|t| t["patches"].as_array().unwrap().iter().map(patch).collect())
        .collect()
}

/// Raw automerge: a transaction, `splice_text` and a commit per keystroke.
#[inline(never)]
fn raw(txns: &[Vec<(usize, usize, String)>]) -> (Spent, String) {
    let mut doc = Automerge::new().with_actor(actor(1));
    let mut tx = doc.transaction();
    let text = tx.put_object(ROOT, "text", ObjType::Text).unwrap();
    tx.commit();
    let (spent, ()) = spent(|| {
        for patches in txns {
            let mut tx = doc.transaction();
            for (pos, del, ins) in patches {
                tx.splice_text(&text, *pos, *del as isize, ins).unwrap();
            }
            tx.commit();
        }
    });
    (spent, automerge::ReadDoc::text(&doc, &text).unwrap())
}

/// The model: `Doc::transact` per keystroke, keeping each change's bytes as a caller would.
#[inline(never)]
fn ours(txns: &[Vec<(usize, usize, String)>]) -> (Spent, String) {
    let mut doc = Doc::new(actor(1), TextUnits::CodePoints);
    doc.transact(false, |tx| tx.text("text").splice(0, 0, ""))
        .unwrap();
    let (spent, bytes) = spent(|| {
        let mut bytes = 0;
        for patches in txns {
            let (_, change, _) = doc
                .transact(false, |tx| {
                    for (pos, del, ins) in patches {
                        tx.text("text").splice(*pos, *del, ins)?;
                    }
                    Ok(())
                })
                .unwrap();
            bytes += change.map_or(0, |c| c.bytes.len());
        }
        bytes
    });
    assert!(bytes > 0);
    (spent, doc.view().text("text").to_string().unwrap())
}

#[test]
#[ignore = "timing, run by hand in release mode"]
fn transact_vs_raw_automerge() {
    let n = std::env::var("POLYARCH_TRACE_N").map_or(50_000, |v| v.parse().unwrap());
    let runs = std::env::var("POLYARCH_TRACE_RUNS").map_or(3, |v| v.parse().unwrap());
    let txns = trace(n);
    let ratio = |o: Duration, r: Duration| o.as_secs_f64() / r.as_secs_f64();
    let (mut raw_best, mut ours_best) = (None::<Spent>, None::<Spent>);
    crate::model::local::stats::take();
    crate::model::local::stats::take_reads();
    // `POLYARCH_TRACE_SIDE=raw` or `ours` runs one side only (for a profiler).
    match std::env::var("POLYARCH_TRACE_SIDE").as_deref() {
        Ok("raw") => return drop(raw(&txns)),
        Ok("ours") => return drop(ours(&txns)),
        _ => {}
    }
    for run in 0..runs {
        let (r, raw_text) = raw(&txns);
        let (o, our_text) = ours(&txns);
        assert_eq!(raw_text, our_text);
        eprintln!(
            "run {run}: cpu raw {:?} ours {:?} ratio {:.3}; wall raw {:?} ours {:?} ratio {:.3}",
            r.cpu,
            o.cpu,
            ratio(o.cpu, r.cpu),
            r.wall,
            o.wall,
            ratio(o.wall, r.wall)
        );
        let min = |best: Option<Spent>, s: Spent| {
            best.map_or(s, |b| Spent {
                cpu: b.cpu.min(s.cpu),
                wall: b.wall.min(s.wall),
            })
        };
        raw_best = Some(min(raw_best, r));
        ours_best = Some(min(ours_best, o));
    }
    let (r, o) = (raw_best.unwrap(), ours_best.unwrap());
    let (rebuilt, read_back) = crate::model::local::stats::take();
    let (reads, elems) = crate::model::local::stats::take_reads();
    eprintln!(
        "{n} keystrokes, best of {runs}: cpu ratio {:.3}, wall ratio {:.3}; changes rebuilt \
         {rebuilt}, read back {read_back}; {reads} window misses read {elems} elements",
        ratio(o.cpu, r.cpu),
        ratio(o.wall, r.wall)
    );
}
