//! Replicas editing every CRDT type while the network fails them converge, and to what an
//! independent model of the CRDTs says.
//!
//! Each seed builds five replicas on SQLite files in a random topology (mesh, star, ring, line)
//! with a random fault profile, creates each document's containers once on replica 0 and syncs,
//! then interleaves random edits with partitions, heals, lossy and scrambled deliveries,
//! restarts from disk and compactions. After healing and delivering everything, every replica
//! must hold the same documents (`to_json` and every typed read), and they must match the model:
//!
//! - **Causality** comes from each replica's version vector just before it edits: the edit has
//!   seen exactly the changes that vector covers (changes are applied in causal order, so it
//!   names a downward-closed set). Every edit is one change, identified by (actor, seq).
//! - **Registers and map keys**: the values kept are the writes that no other write or delete
//!   of the same key has seen (the concurrent maximal writes); a key is present iff one is kept.
//! - **OR-set, add wins**: every add is a new tag; a remove removes the tags it has seen. A
//!   member is present iff some add of it was seen by no remove of it.
//! - **Counter**: the sum of every increment ever made.
//! - **Text and list**: every element is unique, so the content must be exactly the elements
//!   inserted and never deleted, and elements that a replica saw in some order must end in
//!   that order.
//!
//! `POLYARCH_SEED=n` replays one seed, `POLYARCH_TRACE=1` prints its actions, and
//! `POLYARCH_SOAK=1` runs a long soak (`POLYARCH_SOAK_SEEDS`, default 5,000 seeds, or
//! `POLYARCH_SOAK_SECS` of wall time).

#[path = "convergence_under_faults/model.rs"]
mod model;

use std::collections::BTreeSet;

use polyarch::automerge::ActorId;
use polyarch::{Repo, RepoConfig, VersionVector};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::{Faults, NetStats, SimNet, for_each_seed, tracing};
use model::{DocModel, Edit, Order, Reading};

const PEERS: usize = 5;
const DOCS: [&str; 3] = ["d0", "d1", "d2"];
const REGS: [&str; 2] = ["a", "b"];
const KEYS: [&str; 3] = ["k0", "k1", "k2"];
const ALPHABET: [&str; 4] = ["w", "x", "y", "z"];
/// Random actions per seed.
const ACTIONS: usize = 32;
/// Seeds that once failed, replayed on every run.
const REGRESSION_SEEDS: &[u64] = &[];

#[test]
fn seeds_0_to_99() {
    run_seeds("convergence_under_faults::seeds_0_to_99", 0..100);
}

#[test]
fn seeds_100_to_199() {
    run_seeds("convergence_under_faults::seeds_100_to_199", 100..200);
}

#[test]
fn regression_seeds() {
    for_each_seed(
        "convergence_under_faults::regression_seeds",
        REGRESSION_SEEDS.iter().copied(),
        |seed| {
            run(seed);
        },
    );
}

/// Runs the seeds, then checks that the network really did fail them in every way.
fn run_seeds(test: &str, seeds: std::ops::Range<u64>) {
    let total = std::cell::Cell::new(NetStats::default());
    for_each_seed(test, seeds, |seed| total.set(total.get() + run(seed)));
    let t = total.get();
    if std::env::var_os("POLYARCH_SEED").is_none() {
        let every = [
            t.dropped,
            t.duplicated,
            t.delayed,
            t.reordered,
            t.connections,
            t.restarts,
        ];
        assert!(
            every.iter().all(|&n| n > 0),
            "some fault never happened: {t:?}"
        );
    }
}

/// The long run: `POLYARCH_SOAK=1 cargo test --release --test it soak -- --nocapture`.
#[test]
fn soak() {
    if std::env::var("POLYARCH_SOAK").as_deref() != Ok("1") {
        return;
    }
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let seeds = env("POLYARCH_SOAK_SEEDS").unwrap_or(5_000);
    let deadline = env("POLYARCH_SOAK_SECS")
        .map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
    let workers = std::thread::available_parallelism().map_or(2, usize::from) as u64;
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for w in 0..workers {
            scope.spawn(move || {
                let mine = (1_000_000 + w..1_000_000 + seeds)
                    .step_by(workers as usize)
                    .take_while(|_| deadline.is_none_or(|d| std::time::Instant::now() < d));
                for_each_seed("convergence_under_faults::soak", mine, |seed| {
                    run(seed);
                });
            });
        }
    });
    eprintln!("soak: done in {:?}", started.elapsed());
}

/// The network topologies a seed may use; every one is connected.
fn topology(rng: &mut StdRng) -> (&'static str, Vec<(usize, usize)>) {
    let all = || (0..PEERS).flat_map(|a| (a + 1..PEERS).map(move |b| (a, b)));
    match rng.random_range(0..5) {
        0 => ("mesh", all().collect()),
        1 => ("star", (1..PEERS).map(|b| (0, b)).collect()),
        2 => ("ring", (0..PEERS).map(|a| (a, (a + 1) % PEERS)).collect()),
        3 => ("line", (1..PEERS).map(|b| (b - 1, b)).collect()),
        _ => {
            // A random spanning tree plus a few extra links.
            let mut links: Vec<(usize, usize)> =
                (1..PEERS).map(|b| (rng.random_range(0..b), b)).collect();
            links.extend(all().filter(|_| rng.random_bool(0.2)));
            ("random", links)
        }
    }
}

fn faults(rng: &mut StdRng) -> (&'static str, Faults) {
    let faults = |drop, duplicate, delay, reorder| Faults {
        drop,
        duplicate,
        delay,
        reorder,
        reconnect: 0.05,
    };
    match rng.random_range(0..4) {
        0 => ("reliable", faults(0.0, 0.0, 0.0, 0.0)),
        1 => ("lossy", faults(0.05, 0.0, 0.0, 0.0)),
        _ => ("chaotic", faults(0.02, 0.05, 0.1, 0.15)),
    }
}

struct World {
    net: SimNet,
    rng: StdRng,
    models: Vec<DocModel>,
    next_unique: u32,
}

fn run(seed: u64) -> NetStats {
    let mut rng = StdRng::seed_from_u64(seed);
    let (shape, links) = topology(&mut rng);
    let (profile, faults) = faults(&mut rng);
    if tracing() {
        eprintln!("seed {seed}: {shape} topology {links:?}, {profile} network");
    }
    let mut net = SimNet::new(seed, faults);
    for p in 0..PEERS {
        net.add_peer(config(p));
    }
    for &(a, b) in &links {
        net.connect(a, b);
    }
    let mut world = World {
        net,
        rng,
        models: DOCS.iter().map(|_| DocModel::default()).collect(),
        next_unique: 0,
    };
    world.setup();
    for _ in 0..ACTIONS {
        world.step();
    }
    world.check();
    world.net.stats()
}

/// Replicas 1 and 3 batch their commits, to sync while changes wait for their group commit.
fn config(peer: usize) -> RepoConfig {
    let mut config = RepoConfig::default();
    config.store.sync = polyarch::store::Sync::Normal;
    if peer % 2 == 1 {
        config.durability = polyarch::Durability::Group {
            max_changes: 4,
            max_delay: std::time::Duration::from_secs(3600),
        };
    }
    config
}

impl World {
    fn trace(&self, what: impl FnOnce() -> String) {
        if tracing() {
            eprintln!("  {}", what());
        }
    }

    fn unique(&mut self) -> u32 {
        self.next_unique += 1;
        self.next_unique
    }

    /// A character never used before: CJK ideographs, and now and then an emoji (two UTF-16
    /// units, four UTF-8 bytes), so that positions must count code points.
    fn unique_char(&mut self) -> char {
        let n = self.unique();
        let base = if n.is_multiple_of(5) {
            0x1F300 + n % 0x2FF
        } else {
            0x4E00 + n
        };
        char::from_u32(base).expect("a valid code point")
    }

    /// Replica 0 creates every container of every document, then everyone syncs.
    fn setup(&mut self) {
        for (d, doc) in DOCS.iter().enumerate() {
            let seen = self.net.repo(0).version(*doc).expect("version");
            let (reg_a, reg_b, kv) = (self.value(), self.value(), self.value());
            let (ch, item) = (self.unique_char(), i64::from(self.unique()));
            let committed = self
                .net
                .change(0, *doc, |tx| {
                    tx.register(["regs", "a"]).set(reg_a.as_str())?;
                    tx.register(["regs", "b"]).set(reg_b.as_str())?;
                    tx.register(["kv", "k0"]).set(kv.as_str())?;
                    tx.counter("count").increment(1)?;
                    tx.set("tags").add("w")?;
                    tx.text("text").splice(0, 0, &ch.to_string())?;
                    tx.list("list").insert(0, item)
                })
                .expect("create the containers");
            let id = self.id_of(0, d, &seen, committed.receipt);
            let m = &mut self.models[d];
            for (key, value) in [("regs/a", reg_a), ("regs/b", reg_b), ("kv/k0", kv)] {
                m.write(key, id.clone(), &seen, Some(value));
            }
            m.counter += 1;
            m.set_op("w", id, &seen, true);
            m.text.inserted.insert(ch);
            m.list.inserted.insert(item);
        }
        self.net.run_until_quiescent();
    }

    fn value(&mut self) -> String {
        format!("v{}", self.unique())
    }

    /// The id of the change a replica just made, checking its sequence number.
    fn id_of(
        &mut self,
        peer: usize,
        d: usize,
        seen: &VersionVector,
        receipt: Option<polyarch::Receipt>,
    ) -> (ActorId, u64) {
        let receipt = receipt.unwrap_or_else(|| {
            panic!(
                "peer {peer}: an edit of {} made no change (see the trace)",
                DOCS[d]
            )
        });
        let actor = self.net.repo(peer).actor().clone();
        assert_eq!(
            receipt.seq,
            seen.get(&actor) + 1,
            "peer {peer}'s change to {} has the wrong sequence number",
            DOCS[d]
        );
        self.models[d].changes += 1;
        (actor, receipt.seq)
    }

    fn step(&mut self) {
        let peer = self.rng.random_range(0..PEERS);
        match self.rng.random_range(0..100) {
            0..55 => {
                let d = self.rng.random_range(0..DOCS.len());
                self.edit(peer, d);
            }
            55..80 => {
                let steps = self.rng.random_range(1..40);
                self.trace(|| format!("deliver {steps}"));
                self.net.deliver(steps);
            }
            80..86 => {
                let mut groups = vec![Vec::new(), Vec::new()];
                for p in 0..PEERS {
                    groups[self.rng.random_range(0..2)].push(p);
                }
                self.trace(|| format!("partition {groups:?}"));
                self.net.partition(&groups);
            }
            86..90 => {
                self.trace(|| "heal".into());
                self.net.heal();
            }
            90..95 => {
                self.trace(|| format!("restart {peer}"));
                self.net.restart(peer);
            }
            95..97 => {
                let d = self.rng.random_range(0..DOCS.len());
                self.trace(|| format!("compact {} on {peer}", DOCS[d]));
                self.net.repo(peer).compact(DOCS[d]).expect("compact");
            }
            97..99 => {
                self.trace(|| "sync everything".into());
                self.net.run_until_quiescent();
            }
            _ => self.aborted_edit(peer),
        }
    }

    /// One random edit on `peer`, recorded in the model; sometimes with a counter increment in
    /// the same change.
    fn edit(&mut self, peer: usize, d: usize) {
        let doc = DOCS[d];
        let seen = self.net.repo(peer).version(doc).expect("version");
        let bump = self
            .rng
            .random_bool(0.2)
            .then(|| self.rng.random_range(1..=5) * if self.rng.random_bool(0.5) { 1 } else { -1 });
        let edit = self.pick_edit(peer, doc);
        self.trace(|| format!("peer {peer} {doc}: {edit:?} bump {bump:?}"));
        let committed = self
            .net
            .change(peer, doc, |tx| {
                if let Some(by) = bump {
                    tx.counter("count").increment(by)?;
                }
                edit.apply(tx)
            })
            .unwrap_or_else(|e| panic!("peer {peer}: {edit:?} on {doc} failed: {e}"));
        let id = self.id_of(peer, d, &seen, committed.receipt);
        let m = &mut self.models[d];
        m.counter += bump.unwrap_or(0);
        edit.record(m, id, &seen);
    }

    /// A random edit for `peer` to make, reading only what it needs.
    fn pick_edit(&mut self, peer: usize, doc: &str) -> Edit {
        let repo = self.net.repo(peer);
        match self.rng.random_range(0..7) {
            0 => Edit::Register(REGS[self.rng.random_range(0..REGS.len())], self.value()),
            1 => {
                let by = self.rng.random_range(1..=9);
                Edit::Increment(if self.rng.random_bool(0.5) { by } else { -by })
            }
            2 => Edit::Add(ALPHABET[self.rng.random_range(0..ALPHABET.len())]),
            3 => {
                let members = model::read(repo, doc, |v| v.set("tags").members());
                let present: Vec<&'static str> = ALPHABET
                    .into_iter()
                    .filter(|a| members.iter().any(|m| m == a))
                    .collect();
                match present.len() {
                    0 => Edit::Add(ALPHABET[self.rng.random_range(0..ALPHABET.len())]),
                    n => Edit::Remove(present[self.rng.random_range(0..n)]),
                }
            }
            4 => {
                let text: Vec<char> = model::read(repo, doc, |v| v.text("text").to_string())
                    .chars()
                    .collect();
                let pos = self.rng.random_range(0..=text.len());
                let del = self.rng.random_range(0..=(text.len() - pos).min(2));
                let n = self.rng.random_range(usize::from(del == 0)..=3);
                let ins: String = (0..n).map(|_| self.unique_char()).collect();
                let deleted = text[pos..pos + del].iter().collect();
                Edit::Splice {
                    pos,
                    del,
                    ins,
                    deleted,
                }
            }
            5 => {
                let list = model::read_list(repo, doc);
                if !list.is_empty() && self.rng.random_bool(0.4) {
                    let i = self.rng.random_range(0..list.len());
                    Edit::ListDelete(i, list[i])
                } else {
                    let i = self.rng.random_range(0..=list.len());
                    Edit::ListInsert(i, i64::from(self.unique()))
                }
            }
            _ => {
                let keys = model::read(repo, doc, |v| v.map("kv").keys());
                let present: Vec<&'static str> = KEYS
                    .into_iter()
                    .filter(|k| keys.iter().any(|m| m == k))
                    .collect();
                if !present.is_empty() && self.rng.random_bool(0.4) {
                    Edit::KeyDelete(present[self.rng.random_range(0..present.len())])
                } else {
                    Edit::KeyPut(KEYS[self.rng.random_range(0..KEYS.len())], self.value())
                }
            }
        }
    }

    /// A change that fails half-way changes nothing, in memory or on disk.
    fn aborted_edit(&mut self, peer: usize) {
        let doc = DOCS[self.rng.random_range(0..DOCS.len())];
        self.trace(|| format!("peer {peer} {doc}: aborted change"));
        let before = (
            self.net.repo(peer).version(doc).ok(),
            self.net.repo(peer).to_json(doc).ok(),
        );
        let result = self.net.change(peer, doc, |tx| {
            tx.counter("count").increment(1000)?;
            tx.set("tags").add("aborted")?;
            // "count" is a counter: using it as text must fail, and take the change with it.
            tx.text("count").splice(0, 0, "x")
        });
        assert!(result.is_err(), "using a counter as text must fail");
        let after = (
            self.net.repo(peer).version(doc).ok(),
            self.net.repo(peer).to_json(doc).ok(),
        );
        assert_eq!(
            before, after,
            "a failed change left something behind on peer {peer}"
        );
    }

    /// Heals, syncs, and compares every replica with the others and with the model.
    fn check(&mut self) {
        let orders: Vec<Vec<Order>> = (0..PEERS)
            .map(|p| {
                DOCS.iter()
                    .map(|doc| Order::of(self.net.repo(p), doc))
                    .collect()
            })
            .collect();
        self.net.run_until_quiescent();
        let ids = self.net.assert_converged();
        let expected: BTreeSet<&str> = DOCS.iter().copied().collect();
        let got: BTreeSet<&str> = ids.iter().map(|d| d.as_str()).collect();
        assert_eq!(
            got, expected,
            "the replicas hold other documents than were made"
        );
        for (d, doc) in DOCS.iter().enumerate() {
            let first = Reading::of(self.net.repo(0), doc);
            for p in 1..PEERS {
                let other = Reading::of(self.net.repo(p), doc);
                assert_eq!(
                    first, other,
                    "typed reads of {doc} differ on peers 0 and {p}"
                );
            }
            let version = self.net.repo(0).version(*doc).expect("version");
            self.models[d].check(doc, &first, &version);
            for (p, order) in orders.iter().enumerate() {
                order[d].check(doc, p, &first);
            }
        }
        self.trace(|| format!("{:?}", self.net.stats()));
    }
}

/// Add wins: a device that adds a member already present, concurrently with another device
/// removing it, keeps it, because the remove only removes the adds it saw.
#[test]
fn re_adding_a_member_wins_over_a_concurrent_remove() {
    let [mut a, mut b] = [0, 1].map(|_| Repo::in_memory(RepoConfig::default()).expect("repo"));
    a.change("doc", |tx| tx.set("tags").add("ada"))
        .expect("add");
    sync_pair(&mut a, &mut b);
    let readd = a
        .change("doc", |tx| tx.set("tags").add("ada"))
        .expect("add again");
    b.change("doc", |tx| tx.set("tags").remove("ada"))
        .expect("remove");
    sync_pair(&mut a, &mut b);
    let members = |r: &mut Repo| {
        r.view("doc", |v| v.set("tags").members())
            .expect("view")
            .expect("read")
    };
    assert_eq!(
        members(&mut a),
        members(&mut b),
        "the replicas did not converge"
    );
    assert!(
        readd.receipt.is_some() && members(&mut a) == ["ada"],
        "adding a member already present made no change, so a concurrent remove wins: {:?}",
        members(&mut a)
    );
}

fn sync_pair(a: &mut Repo, b: &mut Repo) {
    let mut sa = polyarch::sync::Session::new(Default::default());
    let mut sb = polyarch::sync::Session::new(Default::default());
    polyarch::sync::run_until_quiet(&mut sa, a, &mut sb, b).expect("sync");
}

/// A change waiting for its group commit still goes out on the next poll: syncing until quiet
/// must not leave it behind.
#[test]
fn a_live_session_sends_changes_waiting_for_their_group_commit() {
    let group = RepoConfig {
        durability: polyarch::Durability::Group {
            max_changes: 100,
            max_delay: std::time::Duration::from_secs(3600),
        },
        ..RepoConfig::default()
    };
    let mut a = Repo::in_memory(group).expect("repo");
    let mut b = Repo::in_memory(RepoConfig::default()).expect("repo");
    let mut sa = polyarch::sync::Session::new(Default::default());
    let mut sb = polyarch::sync::Session::new(Default::default());
    polyarch::sync::run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).expect("sync");
    a.change("doc", |tx| tx.counter("n").increment(1))
        .expect("edit");
    polyarch::sync::run_until_quiet(&mut sa, &mut a, &mut sb, &mut b).expect("sync");
    assert!(
        b.contains("doc").expect("contains"),
        "the change waiting for its group commit was never sent"
    );
}

/// A replica that relays changes and compacts a document before its session to the next peer
/// has streamed them still delivers them (the log entries are gone: the snapshot must go).
#[test]
fn compacting_while_a_session_streams_loses_nothing() {
    let [mut a, mut relay, mut b] =
        [0, 1, 2].map(|_| Repo::in_memory(RepoConfig::default()).expect("repo"));
    let new = || polyarch::sync::Session::new(Default::default());
    let (mut a_r, mut r_a, mut r_b, mut b_r) = (new(), new(), new(), new());
    a.change("doc", |tx| tx.counter("n").increment(1))
        .expect("edit");
    polyarch::sync::run_until_quiet(&mut a_r, &mut a, &mut r_a, &mut relay).expect("sync");
    polyarch::sync::run_until_quiet(&mut r_b, &mut relay, &mut b_r, &mut b).expect("sync");
    a.change("doc", |tx| tx.counter("n").increment(10))
        .expect("edit");
    polyarch::sync::run_until_quiet(&mut a_r, &mut a, &mut r_a, &mut relay).expect("sync");
    relay.compact("doc").expect("compact");
    polyarch::sync::run_until_quiet(&mut r_b, &mut relay, &mut b_r, &mut b).expect("sync");
    let n = b
        .view("doc", |v| v.counter("n").value())
        .expect("view")
        .expect("read");
    assert_eq!(
        n, 11,
        "the change compacted before its session streamed it never arrived"
    );
}
