//! Real concurrent editing sessions, replayed as devices typing into one text and syncing.
//!
//! The traces (`shared/traces`, see its README) record, for every transaction, the agent who
//! typed it and its parents: the versions it was typed on. Each agent is a device (a [`Repo`]).
//! To replay faithfully, a device must hold exactly the parents' history when it types, no
//! more: positions count characters of that version. So the devices do not sync with each
//! other while typing; they sync with a relay (an in-test [`SyncHost`] per device, over real
//! [`Session`]s and frames) that stores every change a device uploads and forwards to a device
//! exactly the changes its next transaction was typed on. In these traces an agent's earlier
//! transactions are always among the parents' history of its next one (checked), so what a
//! device holds only grows, and each transaction is typed by `Repo::change` on the device
//! itself. At the end the devices sync with each other directly and must all hold `endContent`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::rc::Rc;

use polyarch::automerge::{ActorId, Change};
use polyarch::store::{LogEntry, Missing, PeerRecord};
use polyarch::sync::{
    Applied, ChangeFate, HostIdentity, Interest, Session, SessionConfig, SyncError, SyncHost,
    WireChange, WireSnapshot, run_until_quiet,
};
use polyarch::{DeviceId, DocId, Epoch, Repo, RepoConfig, VersionVector};

const DOC: &str = "doc";
const TEXT: &str = "text";

#[test]
fn friendsforever_two_devices() {
    replay("friendsforever.json.gz");
}

#[test]
fn clownschool_three_devices() {
    replay("clownschool.json.gz");
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trace {
    #[serde(default)]
    start_content: String,
    end_content: String,
    txns: Vec<Txn>,
}

#[derive(serde::Deserialize)]
struct Txn {
    agent: usize,
    parents: Vec<usize>,
    patches: Vec<(usize, usize, String)>,
}

fn load(name: &str) -> Trace {
    let dir = std::env::var_os("POLYARCH_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/traces"));
    let path = dir.join(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "cannot open the editing trace {} ({e}): the concurrent typing tests replay the \
             traces of shared/traces beside the checkout (or set POLYARCH_TRACES to their \
             directory)",
            path.display()
        )
    });
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut json)
        .unwrap_or_else(|e| panic!("{} is not gzip: {e}", path.display()));
    serde_json::from_slice(&json)
        .unwrap_or_else(|e| panic!("{} is not a concurrent trace: {e}", path.display()))
}

/// A device: its replica, and its connection to the relay.
struct Device {
    repo: Repo,
    session: Session,
    inbox: Inbox,
    relay_session: Session,
    /// Which transactions its replica holds.
    holds: Vec<bool>,
    /// The last transaction it typed.
    last: Option<usize>,
}

impl Device {
    fn sync(&mut self) {
        run_until_quiet(
            &mut self.relay_session,
            &mut self.inbox,
            &mut self.session,
            &mut self.repo,
        )
        .expect("sync a device with the relay");
    }
}

fn replay(name: &str) {
    let trace = load(name);
    let limit = std::env::var("POLYARCH_TRACE_TXNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    let txns = &trace.txns[..limit.min(trace.txns.len())];
    let agents = trace
        .txns
        .iter()
        .map(|t| t.agent)
        .max()
        .map_or(0, |a| a + 1);
    let pool = Rc::new(RefCell::new(HashMap::new()));
    let relay = DeviceId::random();
    let mut devices: Vec<Device> = (0..agents)
        .map(|_| Device {
            repo: Repo::in_memory(RepoConfig::default()).expect("open a replica"),
            session: Session::new(SessionConfig {
                peer_hint: Some(relay),
                ..SessionConfig::default()
            }),
            inbox: Inbox::new(relay, pool.clone()),
            relay_session: Session::new(SessionConfig::default()),
            holds: vec![false; txns.len()],
            last: None,
        })
        .collect();
    // Device 0 makes the text; every device receives it through the relay before typing.
    let created = devices[0]
        .repo
        .change(DOC, |tx| {
            let mut text = tx.text(TEXT);
            text.splice(0, 0, "x")?;
            text.splice(0, 1, &trace.start_content)
        })
        .expect("create the text")
        .receipt
        .expect("creating the text is a change");
    let creation = (devices[0].repo.actor().clone(), created.seq);
    devices[0].sync();
    for device in &mut devices[1..] {
        device.inbox.forward(&creation);
        device.sync();
    }

    // Which change each transaction became.
    let mut ids: Vec<Option<(ActorId, u64)>> = vec![None; txns.len()];
    for (t, txn) in txns.iter().enumerate() {
        let typist = txn.agent;
        let need = missing_history(txns, &txn.parents, &devices[typist]);
        // The relay must have every change to forward: fetch them from their typists.
        for &x in &need {
            let id = ids[x].as_ref().expect("parents come first");
            if !pool.borrow().contains_key(id) {
                devices[txns[x].agent].sync();
            }
        }
        if !need.is_empty() {
            let device = &mut devices[typist];
            for &x in &need {
                device
                    .inbox
                    .forward(ids[x].as_ref().expect("parents come first"));
                device.holds[x] = true;
            }
            device.sync();
        }
        let device = &mut devices[typist];
        let receipt = device
            .repo
            .change(DOC, |tx| {
                let mut text = tx.text(TEXT);
                for (pos, del, ins) in &txn.patches {
                    text.splice(*pos, *del, ins)?;
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: transaction {t} failed on device {typist}: {e}"))
            .receipt
            .unwrap_or_else(|| panic!("{name}: transaction {t} made no change"));
        ids[t] = Some((device.repo.actor().clone(), receipt.seq));
        device.holds[t] = true;
        device.last = Some(t);
    }

    // Everyone meets everyone, directly.
    for a in 0..agents {
        for b in a + 1..agents {
            let (left, right) = devices.split_at_mut(b);
            let (x, y) = (&mut left[a], &mut right[0]);
            let mut sx = Session::new(SessionConfig::default());
            let mut sy = Session::new(SessionConfig::default());
            run_until_quiet(&mut sx, &mut x.repo, &mut sy, &mut y.repo).expect("sync devices");
        }
    }
    // With every transaction, the trace says what the text is; with a prefix, the devices
    // must at least agree.
    let expected = (txns.len() == trace.txns.len()).then_some(&trace.end_content);
    let mut texts = Vec::new();
    for (a, device) in devices.iter_mut().enumerate() {
        assert!(
            !device.inbox.restored,
            "device {a} was told the relay was restored"
        );
        let text = device
            .repo
            .view(DOC, |v| v.text(TEXT).to_string())
            .expect("load the document")
            .expect("read the text");
        let version = device.repo.version(DOC).expect("version");
        assert_eq!(
            version.total(),
            txns.len() as u64 + 1,
            "device {a}: changes held"
        );
        if let Some(end) = expected {
            assert!(
                &text == end,
                "{name}: device {a} ends with a text of {} chars, not the trace's {}",
                text.chars().count(),
                end.chars().count()
            );
        }
        texts.push(text);
    }
    assert!(
        texts.windows(2).all(|w| w[0] == w[1]),
        "{name}: the devices differ"
    );
}

/// The transactions in the history of `parents` that `device` does not hold, oldest first
/// (parents always come before their children in a trace). Checks that the device's own last
/// transaction is in that history: otherwise it would hold more than the typist did.
fn missing_history(txns: &[Txn], parents: &[usize], device: &Device) -> Vec<usize> {
    let mut need = Vec::new();
    let mut seen_last = device.last.is_none();
    let mut visited = std::collections::HashSet::new();
    let mut stack = parents.to_vec();
    while let Some(x) = stack.pop() {
        if device.holds[x] {
            seen_last |= device.last == Some(x);
        } else if visited.insert(x) {
            need.push(x);
            stack.extend(&txns[x].parents);
        }
    }
    assert!(
        seen_last,
        "the trace is not faithful: a transaction was typed on a version missing its agent's \
         previous transaction"
    );
    need.sort_unstable();
    need
}

/// What the relay keeps for every device: each change uploaded, by (actor, seq).
type Pool = Rc<RefCell<HashMap<(ActorId, u64), LogEntry>>>;

/// The relay as one device sees it: it stores what the device uploads into the shared pool, and
/// its log holds exactly what was forwarded to that device.
struct Inbox {
    identity: HostIdentity,
    pool: Pool,
    log: Vec<LogEntry>,
    peers: HashMap<DeviceId, PeerRecord>,
    restored: bool,
}

impl Inbox {
    fn new(device: DeviceId, pool: Pool) -> Self {
        Self {
            identity: HostIdentity {
                device,
                epoch: Epoch::random(),
                label: "relay".into(),
            },
            pool,
            log: Vec::new(),
            peers: HashMap::new(),
            restored: false,
        }
    }

    fn forward(&mut self, id: &(ActorId, u64)) {
        let pool = self.pool.borrow();
        let entry = pool
            .get(id)
            .expect("the relay holds every change it forwards");
        self.log.push(LogEntry {
            offset: self.log.len() as u64 + 1,
            origin: None,
            ..entry.clone()
        });
    }
}

impl SyncHost for Inbox {
    fn identity(&self) -> HostIdentity {
        self.identity.clone()
    }

    fn log_head(&self) -> u64 {
        self.log.len() as u64
    }

    fn read_log(
        &mut self,
        after: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>, SyncError> {
        let mut bytes = 0;
        Ok(self
            .log
            .iter()
            .skip(after as usize)
            .take(max_entries)
            .take_while(|e| {
                let first = bytes == 0;
                bytes += e.bytes.len();
                first || bytes <= max_bytes
            })
            .cloned()
            .collect())
    }

    fn compacted_after(&mut self, _after: u64) -> Result<Vec<DocId>, SyncError> {
        Ok(Vec::new())
    }

    fn snapshot(&mut self, _doc: &DocId) -> Result<Option<Vec<u8>>, SyncError> {
        Ok(None)
    }

    /// What the relay holds: everything uploaded (so devices upload only what is new).
    fn versions(&mut self, interest: &Interest) -> Result<Vec<(DocId, VersionVector)>, SyncError> {
        let mut by_doc: HashMap<DocId, VersionVector> = HashMap::new();
        for ((actor, seq), entry) in self.pool.borrow().iter() {
            by_doc
                .entry(entry.doc.clone())
                .or_default()
                .observe(actor, *seq);
        }
        Ok(by_doc
            .into_iter()
            .filter(|(doc, _)| interest.wants(doc))
            .collect())
    }

    /// What the device lacks of what was forwarded to it.
    fn missing(&mut self, doc: &DocId, theirs: &VersionVector) -> Result<Missing, SyncError> {
        Ok(Missing {
            snapshot: None,
            entries: self
                .log
                .iter()
                .filter(|e| &e.doc == doc && theirs.get(&e.actor) < e.seq)
                .cloned()
                .collect(),
        })
    }

    fn apply(
        &mut self,
        from: DeviceId,
        snapshots: Vec<WireSnapshot>,
        changes: Vec<WireChange>,
    ) -> Result<Applied, SyncError> {
        assert!(snapshots.is_empty(), "devices never compact here");
        let mut pool = self.pool.borrow_mut();
        let fates = changes
            .into_iter()
            .map(|c| {
                let key = (c.actor.clone(), c.seq);
                if pool.contains_key(&key) {
                    return ChangeFate::Duplicate;
                }
                let hash = Change::from_bytes(c.bytes.clone())
                    .expect("devices upload automerge changes")
                    .hash();
                let entry = LogEntry {
                    offset: 0,
                    doc: c.doc,
                    actor: c.actor,
                    seq: c.seq,
                    hash,
                    origin: Some(from),
                    bytes: c.bytes,
                };
                pool.insert(key, entry);
                ChangeFate::Applied
            })
            .collect();
        Ok(Applied { fates })
    }

    fn peer(&mut self, peer: &DeviceId) -> Result<Option<PeerRecord>, SyncError> {
        Ok(self.peers.get(peer).cloned())
    }

    fn save_peer(&mut self, record: &PeerRecord) -> Result<(), SyncError> {
        self.peers.insert(record.peer, record.clone());
        Ok(())
    }

    fn restored_from_backup(&mut self) -> Result<(), SyncError> {
        self.restored = true;
        Ok(())
    }

    fn now_ms(&self) -> u64 {
        0
    }
}
