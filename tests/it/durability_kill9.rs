//! No acknowledged write is lost when the process dies with SIGKILL.
//!
//! The test re-executes its own binary as a child (selected by an environment variable). The
//! child opens a replica file and writes in a loop — counter increments, text appends, set
//! adds, rotating — and prints an `ACK` line for every change once it is acknowledged:
//! under [`Durability::Immediate`] when `change` returns, under group commit once a receipt
//! carries a log offset (after a flush). The parent kills the child at random points, reopens
//! the file, runs the integrity check and checks that every acknowledged change is there, that
//! the committed changes of each run form a gap-free prefix of what it attempted, and that the
//! counter matches them exactly.
//!
//! Set `POLYARCH_SEED` to replay a run; the seed is printed when a check fails.
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use polyarch::{Durability, Repo, RepoConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Set in the child: `<mode>|<round>|<file>`.
const CHILD_ENV: &str = "POLYARCH_KILL9_CHILD";
const DOC: &str = "journal";
/// Kills per durability mode.
const KILLS: usize = 15;
/// Most changes a group-commit child makes between flushes.
const GROUP_FLUSH_EVERY: u64 = 8;
const SIGKILL: i32 = 9;

#[test]
fn immediate_commits_survive_kill9() {
    run_or_be_child("immediate_commits_survive_kill9", Mode::Immediate);
}

#[test]
fn group_commits_survive_kill9() {
    run_or_be_child("group_commits_survive_kill9", Mode::Group);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Immediate,
    Group,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Immediate => "immediate",
            Mode::Group => "group",
        }
    }

    fn durability(self) -> Durability {
        match self {
            Mode::Immediate => Durability::Immediate,
            Mode::Group => Durability::group(),
        }
    }
}

/// What change `i` of a child's run does: the three kinds in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Text,
    Set,
}

fn kind_of(i: u64) -> Kind {
    match i % 3 {
        0 => Kind::Counter,
        1 => Kind::Text,
        _ => Kind::Set,
    }
}

/// The text token appended (and the set member added) by change `i` of run `round`.
fn token(round: usize, i: u64) -> String {
    format!("{round}.{i};")
}

fn parse_token(t: &str) -> Option<(usize, u64)> {
    let (r, i) = t.strip_suffix(';')?.split_once('.')?;
    Some((r.parse().ok()?, i.parse().ok()?))
}

fn run_or_be_child(test_name: &str, mode: Mode) {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let mut parts = spec.splitn(3, '|');
        let (Some(m), Some(round), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("bad {CHILD_ENV}: {spec}");
        };
        if m == mode.name() {
            child(mode, round.parse().expect("round"), Path::new(file));
        }
        return;
    }
    parent(test_name, mode);
}

/// The child: writes until killed, printing `ACK <round> <i>` for each acknowledged change.
fn child(mode: Mode, round: usize, file: &Path) {
    let config = RepoConfig {
        durability: mode.durability(),
        ..RepoConfig::default()
    };
    let mut repo = Repo::open(file, config).expect("child: open");
    let mut len = match repo.to_json(DOC) {
        Ok(json) => json["log"].as_str().map_or(0, |s| s.chars().count()),
        Err(polyarch::Error::NoSuchDoc { .. }) => 0,
        Err(e) => panic!("child: read: {e}"),
    };
    let mut out = std::io::stdout().lock();
    let mut waiting: Vec<(u64, polyarch::automerge::ChangeHash)> = Vec::new();
    let ack = |out: &mut std::io::StdoutLock<'_>, i: u64| {
        writeln!(out, "ACK {round} {i}").expect("child: stdout");
        out.flush().expect("child: flush stdout");
    };
    for i in 0u64.. {
        let t = token(round, i);
        let committed = repo
            .change(DOC, |tx| match kind_of(i) {
                Kind::Counter => tx.counter("count").increment(1).map(drop),
                Kind::Text => tx.text("log").splice(len, 0, &t).map(drop),
                Kind::Set => tx.set("members").add(&t).map(drop),
            })
            .expect("child: change");
        if kind_of(i) == Kind::Text {
            len += t.chars().count();
        }
        let receipt = committed.receipt.expect("every change makes an operation");
        match mode {
            Mode::Immediate => {
                assert!(
                    receipt.offset.is_some(),
                    "immediate receipts carry an offset"
                );
                ack(&mut out, i);
            }
            Mode::Group => {
                waiting.push((i, receipt.hash));
                if receipt.offset.is_some() {
                    // Its batch committed, and with it everything before it.
                    for (j, _) in waiting.drain(..) {
                        ack(&mut out, j);
                    }
                } else if i % GROUP_FLUSH_EVERY == GROUP_FLUSH_EVERY - 1 {
                    let flushed = repo.flush().expect("child: flush");
                    let done: BTreeSet<_> = flushed
                        .iter()
                        .filter(|r| r.offset.is_some())
                        .map(|r| r.hash)
                        .collect();
                    for (j, hash) in std::mem::take(&mut waiting) {
                        if done.contains(&hash) {
                            ack(&mut out, j);
                        } else {
                            waiting.push((j, hash));
                        }
                    }
                }
            }
        }
    }
}

/// Acknowledged changes per run, in the order acknowledged.
type Acks = BTreeMap<usize, Vec<u64>>;

fn parent(test_name: &str, mode: Mode) {
    let seed = std::env::var("POLYARCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("replica.db");
    let exe = std::env::current_exe().expect("current_exe");
    // The test's full name inside the `it` binary: drop the crate from the module path.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = format!("{module}::{test_name}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut acks: Acks = BTreeMap::new();
    let mut total_acks = 0;
    for round in 0..KILLS {
        // Kill after a random number of acks (sometimes none: while opening or creating the
        // store), then a random short delay, so the kill lands anywhere in a commit.
        let target = match rng.random_range(0..10) {
            0 => 0,
            1..=3 => rng.random_range(1..8),
            _ => rng.random_range(8..80),
        };
        let delay = Duration::from_micros(rng.random_range(0..3_000));
        let mut child = Command::new(&exe)
            .args(["--exact", &name, "--nocapture", "--test-threads=1", "-q"])
            .env(
                CHILD_ENV,
                format!("{}|{round}|{}", mode.name(), file.display()),
            )
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mine = acks.entry(round).or_default();
        let record = |line: &str, mine: &mut Vec<u64>| {
            if let Some(rest) = line.strip_prefix("ACK ") {
                let (r, i) = rest.split_once(' ').expect("ack line");
                assert_eq!(r.parse::<usize>().ok(), Some(round), "seed {seed}: {line}");
                mine.push(i.parse().expect("ack index"));
            }
        };
        while mine.len() < target {
            match lines.next() {
                Some(Ok(line)) => record(&line, mine),
                _ => break,
            }
        }
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL the child");
        // Lines printed before the kill were acknowledged too.
        for line in lines.map_while(Result::ok) {
            record(&line, mine);
        }
        let status = child.wait().expect("wait for the child");
        if status.signal() != Some(SIGKILL) {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err).ok();
            }
            panic!(
                "seed {seed}: round {round}: the child stopped by itself ({status}) after {} acks:\n{err}",
                mine.len()
            );
        }
        total_acks += mine.len();
        check(&file, &acks, seed, round, mode);
    }
    eprintln!(
        "{mode:?}: {KILLS} kills, {total_acks} acknowledged changes, all kept ({:?}, seed {seed})",
        started.elapsed()
    );
}

/// Reopens the file and checks what survived against what was acknowledged.
fn check(file: &PathBuf, acks: &Acks, seed: u64, round: usize, mode: Mode) {
    let ctx = format!("{mode:?}, seed {seed}, after kill {round}");
    let mut repo = Repo::open(file, RepoConfig::default())
        .unwrap_or_else(|e| panic!("{ctx}: reopening failed: {e}"));
    repo.integrity_check()
        .unwrap_or_else(|e| panic!("{ctx}: integrity check: {e}"));
    let json = match repo.to_json(DOC) {
        Ok(json) => json,
        Err(polyarch::Error::NoSuchDoc { .. }) => serde_json::json!({}),
        Err(e) => panic!("{ctx}: reading the document: {e}"),
    };
    let text = json["log"].as_str().unwrap_or("");
    let members: BTreeSet<&str> = json["members"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let counter = json["count"].as_i64().unwrap_or(0) as u64;

    // Committed changes per run, seen through their text tokens and set members.
    let mut committed: BTreeMap<usize, BTreeSet<u64>> = BTreeMap::new();
    let mut last_text: Option<(usize, u64)> = None;
    for t in text.split_inclusive(';') {
        let (r, i) = parse_token(t).unwrap_or_else(|| panic!("{ctx}: stray text {t:?}"));
        assert_eq!(kind_of(i), Kind::Text, "{ctx}: text token {t:?}");
        assert!(
            last_text < Some((r, i)),
            "{ctx}: text tokens out of order: {t:?} after {last_text:?}"
        );
        last_text = Some((r, i));
        assert!(
            committed.entry(r).or_default().insert(i),
            "{ctx}: {t:?} twice"
        );
    }
    for m in &members {
        let (r, i) = parse_token(m).unwrap_or_else(|| panic!("{ctx}: stray member {m:?}"));
        assert_eq!(kind_of(i), Kind::Set, "{ctx}: member {m:?}");
        committed.entry(r).or_default().insert(i);
    }

    let (mut counter_min, mut counter_max) = (0u64, 0u64);
    for (r, acked) in acks {
        let have = committed.get(r).cloned().unwrap_or_default();
        for i in acked {
            if kind_of(*i) != Kind::Counter {
                assert!(
                    have.contains(i),
                    "{ctx}: acknowledged change {i} of run {r} ({:?}) is lost",
                    kind_of(*i)
                );
            }
        }
        // Commits are sequential: what survived of a run is a prefix of what it attempted.
        let acked_max = acked.iter().max().copied();
        let seen_max = have.iter().max().copied();
        let last = acked_max.max(seen_max);
        if let Some(last) = last {
            for j in 0..=last {
                if kind_of(j) != Kind::Counter {
                    assert!(have.contains(&j), "{ctx}: run {r} has a hole at change {j}");
                }
            }
            // Increments up to `last` are committed; one more may be (a counter change
            // committed right after `last`, whose ack never came).
            counter_min += (0..=last).filter(|j| kind_of(*j) == Kind::Counter).count() as u64;
            counter_max += (0..=last + 1)
                .filter(|j| kind_of(*j) == Kind::Counter)
                .count() as u64;
        } else {
            // Nothing visible: at most the run's first change (an increment) committed.
            counter_max += 1;
        }
    }
    assert!(
        (counter_min..=counter_max).contains(&counter),
        "{ctx}: counter is {counter}, expected {counter_min}..={counter_max}"
    );
}
