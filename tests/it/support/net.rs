//! [`SimNet`]: replicas on SQLite files, connected by links that carry the frames of a pair of
//! [`Session`]s, with a seeded random scheduler that loses, duplicates, delays and reorders
//! frames, partitions the network and restarts replicas from their files.
//!
//! A link models one TCP or WebSocket connection at a time: losing a frame breaks the
//! connection, so both sessions are thrown away with everything in flight, and the link later
//! reconnects with new sessions (a real transport cannot lose a frame and carry on). Duplicates,
//! delays and reorders within a connection are harsher than TCP allows, on purpose: the protocol
//! must stay safe under them. A session that then rejects a frame as a protocol violation (a
//! frame before the hello, a second hello) breaks its connection as a real host would; any other
//! error fails the test.

use std::collections::VecDeque;
use std::path::PathBuf;

use polyarch::sync::{Session, SessionConfig, SessionEvent, SyncError};
use polyarch::{Committed, DeviceId, Error, IntoDocId, ModelError, Repo, RepoConfig, Tx};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;

/// How often each fault happens, as probabilities per delivery step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// The frame picked is lost, which breaks its connection.
    pub drop: f64,
    /// The frame picked is delivered and a copy stays in flight, to arrive later.
    pub duplicate: f64,
    /// The frame picked is not delivered now but goes to the back of its queue.
    pub delay: f64,
    /// A random frame of the queue is picked instead of the oldest.
    pub reorder: f64,
    /// One broken link (that no partition cuts) reconnects.
    pub reconnect: f64,
}

impl Faults {
    /// Whether frames can arrive out of order or twice within one connection.
    fn scrambles(&self) -> bool {
        self.duplicate > 0.0 || self.delay > 0.0 || self.reorder > 0.0
    }
}

/// What the network did, for reports and for tests that want some of each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Frames handed to a session.
    pub delivered: u64,
    /// Frames lost (each broke a connection).
    pub dropped: u64,
    /// Frames duplicated.
    pub duplicated: u64,
    /// Frames sent to the back of their queue.
    pub delayed: u64,
    /// Frames delivered ahead of older ones.
    pub reordered: u64,
    /// Connections closed because a session rejected a scrambled frame.
    pub protocol_breaks: u64,
    /// Connections opened.
    pub connections: u64,
    /// Replicas restarted.
    pub restarts: u64,
}

impl std::ops::Add for NetStats {
    type Output = NetStats;
    fn add(self, o: NetStats) -> NetStats {
        NetStats {
            delivered: self.delivered + o.delivered,
            dropped: self.dropped + o.dropped,
            duplicated: self.duplicated + o.duplicated,
            delayed: self.delayed + o.delayed,
            reordered: self.reordered + o.reordered,
            protocol_breaks: self.protocol_breaks + o.protocol_breaks,
            connections: self.connections + o.connections,
            restarts: self.restarts + o.restarts,
        }
    }
}

struct Peer {
    path: PathBuf,
    config: RepoConfig,
    repo: Option<Repo>,
    device: DeviceId,
}

impl Peer {
    fn repo(&mut self) -> &mut Repo {
        self.repo
            .as_mut()
            .expect("a peer always has its repo outside restart")
    }
}

/// One live connection: a session per side, and the frames in flight to each side.
struct Conn {
    sessions: [Session; 2],
    to: [VecDeque<Vec<u8>>; 2],
}

struct Link {
    ends: [usize; 2],
    conn: Option<Conn>,
}

/// A seeded in-memory network of replicas. Peers are numbered from 0 in the order they were
/// added.
pub struct SimNet {
    rng: StdRng,
    dir: TempDir,
    peers: Vec<Peer>,
    links: Vec<Link>,
    /// The group of each peer while partitioned.
    groups: Option<Vec<usize>>,
    faults: Faults,
    stats: NetStats,
}

impl SimNet {
    /// An empty network whose scheduler draws from `seed`.
    pub fn new(seed: u64, faults: Faults) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed ^ 0x5EED_0F51_A4E7),
            dir: tempfile::Builder::new()
                .prefix("polyarch-simnet")
                .tempdir()
                .expect("make a temporary directory"),
            peers: Vec::new(),
            links: Vec::new(),
            groups: None,
            faults,
            stats: NetStats::default(),
        }
    }

    /// Adds a replica on a new SQLite file; returns its number.
    pub fn add_peer(&mut self, config: RepoConfig) -> usize {
        let index = self.peers.len();
        let path = self.dir.path().join(format!("peer{index}.db"));
        let repo = Repo::open(&path, config.clone()).expect("open a new replica file");
        self.peers.push(Peer {
            path,
            config,
            device: repo.device_id(),
            repo: Some(repo),
        });
        index
    }

    /// A peer's replica.
    pub fn repo(&mut self, peer: usize) -> &mut Repo {
        self.peers[peer].repo()
    }

    /// What the network did so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Makes one change on `peer` and hands its frames to the peer's live connections.
    pub fn change<T>(
        &mut self,
        peer: usize,
        doc: impl IntoDocId,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ModelError>,
    ) -> Result<Committed<T>, Error> {
        let committed = self.peers[peer].repo().change(doc, f)?;
        self.poll(peer);
        Ok(committed)
    }

    /// Links `a` and `b` (once; later calls do nothing) and connects them unless a partition
    /// separates them.
    pub fn connect(&mut self, a: usize, b: usize) {
        assert!(a != b && a < self.peers.len() && b < self.peers.len());
        if self.link(a, b).is_none() {
            self.links.push(Link {
                ends: [a, b],
                conn: None,
            });
        }
        let l = self.link(a, b).expect("the link was just made");
        if self.links[l].conn.is_none() && self.reachable(a, b) {
            self.open(l);
        }
    }

    /// Splits the network: peers in different groups cannot reach each other (their
    /// connections break); a peer in no group is alone.
    pub fn partition(&mut self, groups: &[Vec<usize>]) {
        let mut of: Vec<usize> = (0..self.peers.len()).map(|p| groups.len() + p).collect();
        for (g, members) in groups.iter().enumerate() {
            for &p in members {
                of[p] = g;
            }
        }
        self.groups = Some(of);
        for l in 0..self.links.len() {
            let [a, b] = self.links[l].ends;
            if !self.reachable(a, b) {
                self.links[l].conn = None;
            }
        }
    }

    /// Ends the partition. Broken links reconnect later (see [`Faults::reconnect`]).
    pub fn heal(&mut self) {
        self.groups = None;
    }

    /// Closes `peer`'s replica and opens it again from its file, as after a crash: every
    /// connection of the peer breaks, and reconnects at once where the partition allows. Checks
    /// that the reopened replica holds every document as it was (every write was
    /// acknowledged: see the peer's [`polyarch::Durability`]).
    pub fn restart(&mut self, peer: usize) {
        self.stats.restarts += 1;
        for link in &mut self.links {
            if link.ends.contains(&peer) {
                link.conn = None;
            }
        }
        let before = state(self.peers[peer].repo());
        let p = &mut self.peers[peer];
        drop(p.repo.take());
        let repo = Repo::open(&p.path, p.config.clone()).expect("reopen a replica file");
        assert_eq!(
            repo.device_id(),
            p.device,
            "a reopened replica is the same device"
        );
        p.repo = Some(repo);
        let after = state(p.repo());
        assert!(
            before == after,
            "peer {peer} lost acknowledged writes in a restart:\nbefore {before:#?}\nafter {after:#?}"
        );
        for l in 0..self.links.len() {
            let [a, b] = self.links[l].ends;
            if self.links[l].ends.contains(&peer) && self.reachable(a, b) {
                self.open(l);
            }
        }
    }

    /// Runs `steps` scheduler steps. Each step may reconnect a broken link, then picks a random
    /// connection direction with frames in flight and delivers one of them, subject to the
    /// faults.
    pub fn deliver(&mut self, steps: usize) {
        for _ in 0..steps {
            if self.rng.random_bool(self.faults.reconnect) {
                self.reconnect_one();
            }
            let busy: Vec<(usize, usize)> = (0..self.links.len())
                .flat_map(|l| [(l, 0), (l, 1)])
                .filter(|&(l, side)| {
                    self.links[l]
                        .conn
                        .as_ref()
                        .is_some_and(|c| !c.to[side].is_empty())
                })
                .collect();
            if busy.is_empty() {
                continue;
            }
            let (l, side) = busy[self.rng.random_range(0..busy.len())];
            let faults = self.faults;
            let queue = &mut self.links[l].conn.as_mut().expect("busy links are live").to[side];
            let mut i = 0;
            if queue.len() > 1 && self.rng.random_bool(faults.reorder) {
                i = self.rng.random_range(0..queue.len());
                self.stats.reordered += u64::from(i > 0);
            }
            if self.rng.random_bool(faults.drop) {
                self.stats.dropped += 1;
                self.links[l].conn = None;
                continue;
            }
            let frame = queue.remove(i).expect("the index is within the queue");
            if self.rng.random_bool(faults.delay) {
                self.stats.delayed += 1;
                queue.push_back(frame);
                continue;
            }
            if self.rng.random_bool(faults.duplicate) {
                self.stats.duplicated += 1;
                queue.push_back(frame.clone());
            }
            self.receive(l, side, &frame, faults.scrambles());
        }
    }

    /// Heals the network, reconnects every broken link, and delivers every frame reliably and
    /// in order until none is in flight and no session has anything more to send (a connection
    /// broken by a frame scrambled earlier reconnects at once). Panics if that does not happen
    /// within a generous bound (the protocol would be looping).
    pub fn run_until_quiescent(&mut self) {
        self.heal();
        for l in 0..self.links.len() {
            if self.links[l].conn.is_none() {
                self.open(l);
            }
        }
        let mut budget: u64 = 200_000;
        loop {
            let mut moved = false;
            for l in 0..self.links.len() {
                for side in 0..2 {
                    while let Some(frame) = self.links[l]
                        .conn
                        .as_mut()
                        .and_then(|c| c.to[side].pop_front())
                    {
                        budget = budget.checked_sub(1).unwrap_or_else(|| {
                            panic!("the network did not quiesce: frames keep flowing")
                        });
                        // Frames scrambled before this call may still be in flight.
                        if !self.receive(l, side, &frame, self.faults.scrambles()) {
                            self.open(l);
                        }
                        moved = true;
                    }
                }
            }
            if !moved && (0..self.peers.len()).map(|p| self.poll(p)).sum::<usize>() == 0 {
                return;
            }
        }
    }

    /// Asserts that every peer holds the same documents with the same content, and returns
    /// the documents' ids.
    pub fn assert_converged(&mut self) -> Vec<polyarch::DocId> {
        let first = state(self.peers[0].repo());
        for p in 1..self.peers.len() {
            let other = state(self.peers[p].repo());
            if first != other {
                panic!(
                    "peers 0 and {p} differ after quiescence:\n{}",
                    diff(&first, &other)
                );
            }
        }
        first.into_iter().map(|(doc, _, _)| doc).collect()
    }

    fn link(&self, a: usize, b: usize) -> Option<usize> {
        self.links
            .iter()
            .position(|l| l.ends == [a, b] || l.ends == [b, a])
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        self.groups.as_ref().is_none_or(|g| g[a] == g[b])
    }

    fn reconnect_one(&mut self) {
        let down: Vec<usize> = (0..self.links.len())
            .filter(|&l| {
                let [a, b] = self.links[l].ends;
                self.links[l].conn.is_none() && self.reachable(a, b)
            })
            .collect();
        if !down.is_empty() {
            let l = down[self.rng.random_range(0..down.len())];
            self.open(l);
        }
    }

    /// Opens a new connection on link `l`: two new sessions, each with the other's device as
    /// its hint when its store has met it (except now and then, so that the cursor also
    /// travels in a separate `Resume`), and their hellos in flight.
    fn open(&mut self, l: usize) {
        self.stats.connections += 1;
        let ends = self.links[l].ends;
        let mut sessions = ends.map(|_| Session::new(SessionConfig::default()));
        let mut to: [VecDeque<Vec<u8>>; 2] = Default::default();
        for side in 0..2 {
            let other = self.peers[ends[1 - side]].device;
            let repo = self.peers[ends[side]].repo();
            let known = repo
                .store()
                .peer(&other)
                .expect("read a peer record")
                .is_some();
            let hint = (known && !self.rng.random_bool(0.2)).then_some(other);
            sessions[side] = Session::new(SessionConfig {
                peer_hint: hint,
                ..SessionConfig::default()
            });
            let hello = sessions[side].start(repo).expect("start a session");
            to[1 - side].extend(hello);
        }
        self.links[l].conn = Some(Conn { sessions, to });
    }

    /// Hands one frame to the session on `side` of link `l` and queues its answer. Returns
    /// false when the session rejected a scrambled frame, which broke the connection.
    fn receive(&mut self, l: usize, side: usize, frame: &[u8], tolerate_scramble: bool) -> bool {
        self.stats.delivered += 1;
        let peer = self.links[l].ends[side];
        let from = self.links[l].ends[1 - side];
        let repo = self.peers[peer].repo.as_mut().expect("live peer");
        let conn = self.links[l].conn.as_mut().expect("live link");
        match conn.sessions[side].receive(repo, frame) {
            Ok(out) => {
                check_events(peer, from, conn.sessions[side].take_events());
                conn.to[1 - side].extend(out);
                true
            }
            Err(SyncError::Protocol { .. }) if tolerate_scramble => {
                self.stats.protocol_breaks += 1;
                self.links[l].conn = None;
                false
            }
            Err(e) => panic!("peer {peer} failed on a frame from peer {from}: {e}"),
        }
    }

    /// Polls every live session of `peer`; returns how many frames they produced.
    fn poll(&mut self, peer: usize) -> usize {
        let mut produced = 0;
        for link in &mut self.links {
            let Some(side) = link.ends.iter().position(|&p| p == peer) else {
                continue;
            };
            let Some(conn) = link.conn.as_mut() else {
                continue;
            };
            let repo = self.peers[peer].repo.as_mut().expect("live peer");
            let out = conn.sessions[side].poll(repo).expect("poll a session");
            produced += out.len();
            conn.to[1 - side].extend(out);
        }
        produced
    }
}

/// Nothing in these networks is refused or restored from a backup: such an event is a bug.
fn check_events(peer: usize, from: usize, events: Vec<SessionEvent>) {
    for event in events {
        match event {
            SessionEvent::PeerHello { .. } | SessionEvent::Acked { .. } => {}
            other => panic!("peer {peer}, talking to peer {from}, got an unexpected {other:?}"),
        }
    }
}

/// What differs between two replicas' states, briefly.
fn diff(a: &State, b: &State) -> String {
    let short = |v: &polyarch::VersionVector| -> Vec<(String, u64)> {
        v.iter()
            .map(|(actor, seq)| (actor.to_hex_string()[..6].to_owned(), seq))
            .collect()
    };
    let mut out = String::new();
    let docs: std::collections::BTreeSet<&polyarch::DocId> =
        a.iter().chain(b).map(|(doc, _, _)| doc).collect();
    for doc in docs {
        let find = |s: &'_ State| s.iter().find(|(d, _, _)| d == doc).cloned();
        match (find(a), find(b)) {
            (Some(x), Some(y)) if x == y => {}
            (Some((_, va, ja)), Some((_, vb, jb))) => {
                out += &format!("{doc}: version {:?} vs {:?}\n", short(&va), short(&vb));
                out += &format!("  {ja}\n  {jb}\n");
            }
            (x, y) => out += &format!("{doc}: held by {:?} / {:?}\n", x.is_some(), y.is_some()),
        }
    }
    out
}

/// Every document of a replica: its id, version and content.
type State = Vec<(polyarch::DocId, polyarch::VersionVector, serde_json::Value)>;

fn state(repo: &mut Repo) -> State {
    let ids = repo.doc_ids().expect("list documents");
    ids.into_iter()
        .map(|doc| {
            let version = repo.version(&doc).expect("read a version");
            let json = repo.to_json(&doc).expect("read a document");
            (doc, version, json)
        })
        .collect()
}
