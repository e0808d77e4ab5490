//! The relay's core thread: every session, the store connection, group commit and fan-out.
//! See the module docs of [`super`] for the threading model.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use automerge::{Change, ChangeHash};
use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc};

use crate::store::LogEntry;
use crate::sync::{
    Access, HostIdentity, Interest, Message, RefusalCode, Scope, Session, SessionConfig,
    SessionEvent, SyncError, wire,
};
use crate::{DeviceId, DocId, VersionVector};

use super::RelayConfig;
use super::host::RelayHost;
use super::metrics::Metrics;
use super::store::{Batch, NewChange, RelayStore, RelayStoreError};
use super::tail::TailCache;

/// A connection's number, unique within one relay process.
pub(crate) type ConnId = u64;

/// Most events handled before a commit, and longest a batch stays open.
const MAX_BATCH_EVENTS: usize = 4_096;
const MAX_BATCH_CHANGES: usize = 20_000;
const MAX_BATCH_TIME: Duration = Duration::from_millis(20);
/// Shortest time between the starts of two commits: under load, a batch stays open until then
/// for what arrives meanwhile. Each commit writes every page it dirtied to the WAL (the log's
/// tail, and pages of its indexes and of the documents' versions scattered over the file) and
/// then each follower gets a frame: fewer, larger commits cost less per change. An idle relay
/// commits what arrives at once (the last commit is long past). 10 ms rather than 5: at 1,000
/// documents the relay used 96% of a core instead of 106-108% (one run against two, on an
/// otherwise idle machine), for a p50 delivery of 11 ms instead of 8.
const MIN_COMMIT_INTERVAL: Duration = Duration::from_millis(10);
/// Change hashes remembered per document for dependency checks without a query.
const RECENT_HASHES: usize = 64;
/// How often a connected device's record (its cursor and acknowledgements) is written while
/// only its offsets move. Every acknowledgement used to be written: at 4,000 devices that was
/// thousands of upserts per commit. A record up to this old costs a device, after a relay
/// crash, a re-send of what it already has (changes are idempotent); a clean disconnect and
/// shutdown write the newest one.
pub(crate) const PEER_SAVE_EVERY: Duration = Duration::from_secs(1);

/// The core's side of a connection's outbound queue.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub(crate) tx: mpsc::UnboundedSender<Vec<u8>>,
    pub(crate) queued: Arc<AtomicUsize>,
    pub(crate) want_drain: Arc<AtomicBool>,
    pub(crate) kill: Arc<Notify>,
}

impl Outbound {
    fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// What the connection tasks, listener and timers tell the core.
pub(crate) enum Event {
    /// A connection passed the token check with this hello.
    Open {
        id: ConnId,
        hello: crate::sync::Hello,
        access: Access,
        out: Outbound,
    },
    /// A decoded message from a connection, with the changes it carries that parsed (in
    /// order): the core then need not parse them again.
    Message {
        id: ConnId,
        message: Message,
        parsed: VecDeque<Change>,
        _permit: OwnedSemaphorePermit,
    },
    /// A connection's outbound queue drained: resume streaming to it.
    Drained { id: ConnId },
    /// A connection ended (or is shutting down): finish its messages, then drop it.
    Close { id: ConnId },
    /// Another relay committed up to this head.
    Head(u64),
    /// The compactor finished a document.
    Compacted { doc: DocId, remaining: u64 },
    /// `/metrics` wants the per-device figures refreshed.
    Scrape(tokio::sync::oneshot::Sender<()>),
    /// Stop after finishing everything queued.
    Shutdown,
}

/// What the core knows of one document.
#[derive(Debug, Default)]
pub(crate) struct DocState {
    /// Committed version vector.
    pub(crate) vv: VersionVector,
    /// Hashes of the newest committed changes.
    pub(crate) recent: VecDeque<ChangeHash>,
    /// Changes logged since its snapshot (an estimate, for compaction).
    logged: u64,
    compacting: bool,
}

/// Changes and peer records accepted since the last commit.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    changes: Vec<NewChange>,
    pub(crate) vv: HashMap<DocId, VersionVector>,
    pub(crate) hashes: HashSet<ChangeHash>,
    pub(crate) peers: HashMap<DeviceId, crate::store::PeerRecord>,
}

/// Everything a [`RelayHost`] may reach besides its own connection.
pub(crate) struct Shared {
    pub(crate) store: Box<dyn RelayStore>,
    pub(crate) identity: HostIdentity,
    /// Highest committed offset this relay knows of.
    pub(crate) head: u64,
    pub(crate) tail: TailCache,
    docs: HashMap<DocId, DocState>,
    pub(crate) staged: Staged,
    pub(crate) config: Arc<RelayConfig>,
}

impl Shared {
    /// The document's state, loaded from the store on first use.
    pub(crate) fn doc_state(&mut self, doc: &DocId) -> Result<&mut DocState, RelayStoreError> {
        if !self.docs.contains_key(doc) {
            let vv = self.store.version(doc)?;
            let logged = if vv.is_empty() || self.config.compact_after == 0 {
                0
            } else {
                self.store.tail_len(doc)?
            };
            self.docs.insert(
                doc.clone(),
                DocState {
                    vv,
                    logged,
                    ..DocState::default()
                },
            );
        }
        self.docs
            .get_mut(doc)
            .ok_or_else(|| RelayStoreError::Corrupt {
                what: "document cache",
                detail: "an entry vanished".into(),
            })
    }

    /// Re-reads the document's version vector (another relay may have appended to it).
    pub(crate) fn refresh_doc(&mut self, doc: &DocId) -> Result<(), RelayStoreError> {
        let vv = self.store.version(doc)?;
        self.doc_state(doc)?.vv.merge(&vv);
        Ok(())
    }

    /// Adds validated changes to the open batch.
    pub(crate) fn stage(
        &mut self,
        changes: Vec<NewChange>,
        vv: HashMap<DocId, VersionVector>,
        hashes: HashSet<ChangeHash>,
    ) {
        for (doc, v) in vv {
            self.staged.vv.entry(doc).or_default().merge(&v);
        }
        self.staged.hashes.extend(hashes);
        self.staged.changes.extend(changes);
    }

    /// Records committed entries: head, tail, document states. Returns the documents touched
    /// with the devices the changes came from.
    fn absorb(&mut self, entries: Vec<LogEntry>, head: u64) -> Vec<(DocId, Option<DeviceId>)> {
        let mut touched: Vec<(DocId, Option<DeviceId>)> = Vec::new();
        // A batch holds hundreds of changes under load: checking `touched` itself for each
        // one was 5% of the core thread's time at 1,000 documents.
        let mut seen: HashSet<(&DocId, Option<DeviceId>)> = HashSet::new();
        for e in &entries {
            if let Some(state) = self.docs.get_mut(&e.doc) {
                state.vv.observe(&e.actor, e.seq);
                state.recent.push_back(e.hash);
                if state.recent.len() > RECENT_HASHES {
                    state.recent.pop_front();
                }
                state.logged += 1;
            }
            if seen.insert((&e.doc, e.origin)) {
                touched.push((e.doc.clone(), e.origin));
            }
        }
        self.tail.extend(entries, head);
        self.head = self.head.max(head);
        touched
    }
}

/// The relay's state for one connection, besides its session.
pub(crate) struct ConnState {
    pub(crate) device: DeviceId,
    /// What the device asked for.
    pub(crate) interest: Interest,
    /// What its token lets it read.
    pub(crate) read: Scope,
    pub(crate) record: Option<crate::store::PeerRecord>,
    pub(crate) record_loaded: bool,
    /// When `record` was last staged for writing (`None`: never on this connection).
    pub(crate) record_staged_at: Option<Instant>,
    /// `record` moved since it was last staged.
    pub(crate) record_unsaved: bool,
    pub(crate) pending: Vec<(DocId, Change)>,
    /// The changes of the message being handled, parsed by the connection's task.
    pub(crate) parsed: VecDeque<Change>,
    pub(crate) pending_bytes: usize,
    /// The log head when the device connected: streaming advances over stretches holding
    /// nothing for it only up to here.
    pub(crate) catch_up_to: u64,
    /// The furthest offset streamed to it.
    pub(crate) last_through: u64,
    /// Bytes produced for it in the current call.
    pub(crate) produced: usize,
    pub(crate) out: Outbound,
}

impl ConnState {
    /// Whether the device wants `doc` and may read it.
    pub(crate) fn wants(&self, doc: &DocId) -> bool {
        self.interest.wants(doc) && self.read.contains(doc)
    }

    /// The prefix every readable document starts with ("" when there are several).
    pub(crate) fn scope_prefix(&self) -> String {
        match &self.read {
            Scope::Prefixes(p) if p.len() == 1 => p.first().cloned().unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Stages the device's record for the next commit, if it moved since it was last staged.
    pub(crate) fn stage_record(&mut self, staged: &mut Staged) {
        if let Some(record) = self.record.as_ref().filter(|_| self.record_unsaved) {
            staged.peers.insert(record.peer, record.clone());
            self.record_staged_at = Some(Instant::now());
            self.record_unsaved = false;
        }
    }

    /// Whether streaming to this connection should pause until its queue drains.
    pub(crate) fn out_of_budget(&self, config: &RelayConfig) -> bool {
        self.out.queued().saturating_add(self.produced) > config.max_outbound_bytes / 2
    }
}

struct Conn {
    session: Session,
    state: ConnState,
    closing: bool,
}

/// The core: owns the sessions and the store connection.
pub(crate) struct Core {
    shared: Shared,
    /// Boxed: a connection is taken out of the map for each message and each poll (so that
    /// its session can borrow the rest of the core), and moving it whole was 2% of the core
    /// thread at 1,000 documents.
    conns: HashMap<ConnId, Box<Conn>>,
    /// Connections following listed documents, by document.
    followers: HashMap<DocId, Vec<ConnId>>,
    /// Connections following prefixes or everything: checked against every change.
    scanners: HashSet<ConnId>,
    /// Frames produced while the batch is open, released after its commit.
    held: Vec<(ConnId, Vec<Vec<u8>>)>,
    /// Connections that handled a message in the open batch.
    in_batch: HashSet<ConnId>,
    compactor: Option<Sender<DocId>>,
    metrics: Arc<Metrics>,
    rx: Receiver<Event>,
    shutting_down: bool,
    last_poll: Instant,
    /// When the last commit started.
    last_commit: Instant,
    /// Raised by the checkpointer: fold the rest of the write-ahead log before the next
    /// commit, so that it starts the log over (see `checkpoint.rs`).
    finish_log: Arc<AtomicBool>,
}

/// Reads the identity and head, and builds the core.
pub(crate) fn build(
    mut store: Box<dyn RelayStore>,
    config: Arc<RelayConfig>,
    metrics: Arc<Metrics>,
    rx: Receiver<Event>,
    compactor: Option<Sender<DocId>>,
    finish_log: Arc<AtomicBool>,
) -> Result<Core, RelayStoreError> {
    let id = store.identity()?;
    let head = store.head()?;
    metrics
        .documents
        .set(i64::try_from(store.doc_count()?).unwrap_or(i64::MAX));
    metrics
        .log_head
        .set(i64::try_from(head).unwrap_or(i64::MAX));
    Ok(Core {
        shared: Shared {
            store,
            identity: HostIdentity {
                device: id.device,
                epoch: id.epoch,
                label: config.label.clone(),
            },
            head,
            tail: TailCache::new(head, config.tail_entries, config.tail_bytes),
            docs: HashMap::new(),
            staged: Staged::default(),
            config,
        },
        conns: HashMap::new(),
        followers: HashMap::new(),
        scanners: HashSet::new(),
        held: Vec::new(),
        in_batch: HashSet::new(),
        compactor,
        metrics,
        rx,
        shutting_down: false,
        last_poll: Instant::now(),
        last_commit: Instant::now(),
        finish_log,
    })
}

/// The documents a relay session wants from the device: what the device follows, narrowed to
/// what its token lets it read.
fn relay_interest(theirs: &Interest, read: &Scope) -> Interest {
    match (theirs, read) {
        (_, Scope::Nothing) => Interest::Docs(Vec::new()),
        (Interest::Docs(docs), _) => {
            Interest::Docs(docs.iter().filter(|d| read.contains(d)).cloned().collect())
        }
        (Interest::All, Scope::All) => Interest::All,
        (Interest::All, Scope::Prefixes(p)) => Interest::Prefixes(p.clone()),
        (Interest::Prefixes(p), Scope::All) => Interest::Prefixes(p.clone()),
        (Interest::Prefixes(theirs), Scope::Prefixes(ours)) => {
            let mut both = Vec::new();
            for t in theirs {
                for o in ours {
                    if t.starts_with(o.as_str()) {
                        both.push(t.clone());
                    } else if o.starts_with(t.as_str()) {
                        both.push(o.clone());
                    }
                }
            }
            Interest::Prefixes(both)
        }
    }
}

impl Core {
    /// Runs until shut down and every connection is gone.
    pub(crate) fn run(mut self) {
        let tick = self
            .shared
            .config
            .poll_interval
            .min(Duration::from_millis(500));
        loop {
            match self.rx.recv_timeout(tick) {
                Ok(event) => {
                    let started = Instant::now();
                    let open_until = self.last_commit + MIN_COMMIT_INTERVAL;
                    self.handle(event);
                    let mut n = 1;
                    while n < MAX_BATCH_EVENTS
                        && self.shared.staged.changes.len() < MAX_BATCH_CHANGES
                        && started.elapsed() < MAX_BATCH_TIME
                    {
                        let next = match self.rx.try_recv() {
                            Ok(event) => Some(event),
                            Err(_) => {
                                let left = open_until.saturating_duration_since(Instant::now());
                                if left.is_zero() {
                                    break;
                                }
                                self.rx.recv_timeout(left).ok()
                            }
                        };
                        let Some(event) = next else { break };
                        self.handle(event);
                        n += 1;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.shutting_down = true,
            }
            self.commit_and_release();
            if self.last_poll.elapsed() >= self.shared.config.poll_interval {
                self.last_poll = Instant::now();
                self.safety_poll();
            }
            if self.shutting_down && self.conns.is_empty() {
                break;
            }
        }
        // The records the last connections staged as they closed.
        self.commit_and_release();
        tracing::info!(head = self.shared.head, "relay core stopped");
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Open {
                id,
                hello,
                access,
                out,
            } => self.open(id, hello, access, out),
            Event::Message {
                id,
                message,
                parsed,
                ..
            } => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.state.parsed = parsed;
                }
                self.message(id, message);
                if let Some(c) = self.conns.get_mut(&id) {
                    c.state.parsed.clear();
                }
            }
            Event::Drained { id } => {
                if self.conns.contains_key(&id) {
                    self.poll_conn(id, true);
                }
            }
            Event::Close { id } => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.closing = true;
                }
            }
            Event::Head(head) => self.catch_up(head),
            Event::Compacted { doc, remaining } => {
                if let Some(state) = self.shared.docs.get_mut(&doc) {
                    state.compacting = false;
                    state.logged = remaining;
                }
            }
            Event::Scrape(done) => {
                self.refresh_lag();
                let _ = done.send(());
            }
            Event::Shutdown => {
                self.shutting_down = true;
                for c in self.conns.values_mut() {
                    c.closing = true;
                }
            }
        }
    }

    fn open(&mut self, id: ConnId, hello: crate::sync::Hello, access: Access, out: Outbound) {
        let config = &self.shared.config;
        let session = Session::new(SessionConfig {
            interest: relay_interest(&hello.interest, &access.read),
            peer_hint: None,
            token: String::new(),
            access: access.clone(),
            limits: config.limits,
            frame_bytes: config.frame_bytes,
            // Acknowledgements are the devices' receipts: at once (after the commit).
            ack_delay: Duration::ZERO,
        });
        match &hello.interest {
            Interest::Docs(docs) if docs.len() <= 64 => {
                for d in docs {
                    self.followers.entry(d.clone()).or_default().push(id);
                }
            }
            _ => {
                self.scanners.insert(id);
            }
        }
        let state = ConnState {
            device: hello.device,
            interest: hello.interest.clone(),
            read: access.read,
            record: None,
            record_loaded: false,
            record_staged_at: None,
            record_unsaved: false,
            pending: Vec::new(),
            parsed: VecDeque::new(),
            pending_bytes: 0,
            catch_up_to: self.shared.head,
            last_through: 0,
            produced: 0,
            out,
        };
        tracing::debug!(conn = id, device = %hello.device, label = %hello.label, "device connected");
        self.conns.insert(
            id,
            Box::new(Conn {
                session,
                state,
                closing: false,
            }),
        );
        self.message(id, Message::Hello(hello));
    }

    fn message(&mut self, id: ConnId, message: Message) {
        let Some(mut c) = self.conns.remove(&id) else {
            return;
        };
        c.state.produced = 0;
        let result = {
            let mut host = RelayHost {
                shared: &mut self.shared,
                conn: &mut c.state,
            };
            c.session.handle(&mut host, message)
        };
        self.in_batch.insert(id);
        match result {
            Ok(frames) => {
                self.note_events(&mut c);
                if c.state.out_of_budget(&self.shared.config) {
                    c.state.out.want_drain.store(true, Ordering::Relaxed);
                }
                self.held.push((id, frames));
                self.conns.insert(id, c);
            }
            Err(e) => {
                let code = match e {
                    SyncError::Host { .. } | SyncError::Store(_) => RefusalCode::Unavailable,
                    _ => RefusalCode::BadRequest,
                };
                tracing::info!(conn = id, device = %c.state.device, error = %e, "closing a connection");
                self.metrics.disconnected(super::metrics::Reason::Error);
                let frame = refusal(code, &e.to_string());
                self.held.push((id, frame.into_iter().collect()));
                c.closing = true;
                self.conns.insert(id, c);
            }
        }
    }

    fn note_events(&mut self, c: &mut Conn) {
        for event in c.session.take_events() {
            if let SessionEvent::RefusedChanges { doc } = event {
                tracing::info!(device = %c.state.device, %doc, "refused changes: read-only token");
                self.metrics.refused_writes.inc();
            }
        }
    }

    /// Polls one session for new log entries and sends what it produces at once.
    fn poll_conn(&mut self, id: ConnId, drained: bool) {
        let Some(mut c) = self.conns.remove(&id) else {
            return;
        };
        if drained {
            c.state.out.want_drain.store(false, Ordering::Relaxed);
        }
        c.state.produced = 0;
        let result = {
            let mut host = RelayHost {
                shared: &mut self.shared,
                conn: &mut c.state,
            };
            c.session.poll(&mut host)
        };
        match result {
            Ok(frames) => {
                if c.state.out_of_budget(&self.shared.config) {
                    c.state.out.want_drain.store(true, Ordering::Relaxed);
                }
                let ok = self.send(&c, frames);
                self.conns.insert(id, c);
                if !ok {
                    self.drop_conn(id, super::metrics::Reason::TooSlow);
                }
            }
            Err(e) => {
                tracing::warn!(conn = id, error = %e, "streaming to a device failed; closing");
                self.conns.insert(id, c);
                self.drop_conn(id, super::metrics::Reason::Error);
            }
        }
    }

    /// Queues frames for a connection; false if it is too far behind and must be cut off.
    fn send(&self, c: &Conn, frames: Vec<Vec<u8>>) -> bool {
        if frames.is_empty() {
            return true;
        }
        if c.state.out.queued() > self.shared.config.max_outbound_bytes {
            return false;
        }
        for f in frames {
            self.metrics.frames_out.inc();
            c.state.out.queued.fetch_add(f.len(), Ordering::Relaxed);
            if c.state.out.tx.send(f).is_err() {
                return true; // The connection is gone; its Close event follows.
            }
        }
        true
    }

    fn drop_conn(&mut self, id: ConnId, reason: super::metrics::Reason) {
        let Some(mut c) = self.conns.remove(&id) else {
            return;
        };
        c.state.stage_record(&mut self.shared.staged);
        if reason == super::metrics::Reason::TooSlow {
            tracing::warn!(conn = id, device = %c.state.device, "cut off a client that does not read");
            c.state.out.kill.notify_one();
        }
        if reason != super::metrics::Reason::Closed {
            self.metrics.disconnected(reason);
        }
        self.scanners.remove(&id);
        if let Interest::Docs(docs) = &c.state.interest {
            for d in docs {
                if let Some(list) = self.followers.get_mut(d) {
                    list.retain(|x| *x != id);
                    if list.is_empty() {
                        self.followers.remove(d);
                    }
                }
            }
        }
        self.metrics
            .device_lag
            .remove(&super::metrics::DeviceLabel::new(&c.state.device, id));
    }

    /// Commits the open batch, releases held frames, and wakes followers.
    fn commit_and_release(&mut self) {
        let changes = std::mem::take(&mut self.shared.staged.changes);
        let peers: Vec<_> = self.shared.staged.peers.drain().map(|(_, p)| p).collect();
        self.shared.staged.vv.clear();
        self.shared.staged.hashes.clear();
        let batch = Batch { changes, peers };
        let mut touched = Vec::new();
        if !batch.is_empty() {
            super::checkpoint::finish(self.shared.store.as_mut(), &self.finish_log);
            let started = Instant::now();
            self.last_commit = started;
            let result = self.shared.store.commit(&batch);
            self.metrics
                .commit_seconds
                .observe(started.elapsed().as_secs_f64());
            match result {
                Ok(committed) => {
                    if committed.previous_head > self.shared.head {
                        // Another relay committed just before us: read its entries first.
                        self.catch_up(committed.previous_head);
                    }
                    let mut entries = Vec::new();
                    let mut head = self.shared.head;
                    for (c, offset) in batch.changes.into_iter().zip(committed.offsets) {
                        if let Some(offset) = offset {
                            head = head.max(offset);
                            entries.push(LogEntry {
                                offset,
                                doc: c.doc,
                                actor: c.actor,
                                seq: c.seq,
                                hash: c.hash,
                                origin: c.origin,
                                bytes: c.bytes,
                            });
                        }
                    }
                    self.metrics.changes_in.inc_by(entries.len() as u64);
                    touched = self.shared.absorb(entries, head);
                    self.metrics
                        .log_head
                        .set(i64::try_from(self.shared.head).unwrap_or(i64::MAX));
                }
                Err(e) => {
                    tracing::error!(error = %e, "commit failed: closing the connections of this batch");
                    let ids: Vec<ConnId> = self.in_batch.drain().collect();
                    self.held.clear();
                    for id in ids {
                        self.drop_conn(id, super::metrics::Reason::Error);
                    }
                    // Reload document states: the cache may hold nothing wrong, but be safe.
                    self.shared.docs.clear();
                    return;
                }
            }
        }
        self.in_batch.clear();
        for (id, frames) in std::mem::take(&mut self.held) {
            let ok = match self.conns.get(&id) {
                Some(c) => self.send(c, frames),
                None => true,
            };
            if !ok {
                self.drop_conn(id, super::metrics::Reason::TooSlow);
            }
        }
        self.wake(&touched);
        self.compact_due(&touched);
        let closing: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.closing)
            .map(|(id, _)| *id)
            .collect();
        for id in closing {
            self.drop_conn(id, super::metrics::Reason::Closed);
        }
        self.metrics
            .connections
            .set(i64::try_from(self.conns.len()).unwrap_or(i64::MAX));
    }

    /// Polls every session that follows a touched document (except for its own changes).
    fn wake(&mut self, touched: &[(DocId, Option<DeviceId>)]) {
        if touched.is_empty() {
            return;
        }
        let mut woken: Vec<ConnId> = Vec::new();
        let mut seen: HashSet<ConnId> = HashSet::new();
        for (doc, origin) in touched {
            let listed = self.followers.get(doc).into_iter().flatten();
            for id in listed.chain(self.scanners.iter()) {
                if seen.contains(id) {
                    continue;
                }
                if let Some(c) = self.conns.get(id)
                    && Some(c.state.device) != *origin
                    && c.state.wants(doc)
                {
                    seen.insert(*id);
                    woken.push(*id);
                }
            }
        }
        for id in woken {
            self.poll_conn(id, false);
        }
    }

    /// Queues documents whose log grew past the threshold for compaction.
    fn compact_due(&mut self, touched: &[(DocId, Option<DeviceId>)]) {
        let threshold = self.shared.config.compact_after;
        let Some(tx) = &self.compactor else {
            return;
        };
        if threshold == 0 {
            return;
        }
        for (doc, _) in touched {
            if let Some(state) = self.shared.docs.get_mut(doc)
                && state.logged >= threshold
                && !state.compacting
            {
                state.compacting = true;
                let _ = tx.send(doc.clone());
            }
        }
    }

    /// Reads entries other relays committed, up to `target`, and wakes their followers.
    fn catch_up(&mut self, target: u64) {
        while self.shared.head < target {
            let after = self.shared.head;
            let entries = match self.shared.store.read_log(after, 10_000, 32 << 20) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "reading other relays' changes failed; retrying later");
                    return;
                }
            };
            let done = entries.is_empty();
            let head = if done {
                target
            } else {
                entries.last().map_or(target, |e| e.offset)
            };
            let touched = self.shared.absorb(entries, head);
            self.wake(&touched);
            if done {
                break;
            }
        }
        self.metrics
            .log_head
            .set(i64::try_from(self.shared.head).unwrap_or(i64::MAX));
    }

    /// The safety net: picks up commits whose notification was missed, and stages the
    /// device records that waited [`PEER_SAVE_EVERY`].
    fn safety_poll(&mut self) {
        for c in self.conns.values_mut() {
            if c.state.record_unsaved
                && c.state
                    .record_staged_at
                    .is_none_or(|at| at.elapsed() >= PEER_SAVE_EVERY)
            {
                c.state.stage_record(&mut self.shared.staged);
            }
        }
        match self.shared.store.head() {
            Ok(head) if head > self.shared.head => self.catch_up(head),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "checking the log head failed"),
        }
        if let Ok(n) = self.shared.store.doc_count() {
            self.metrics
                .documents
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    fn refresh_lag(&mut self) {
        for (id, c) in &self.conns {
            let lag = c.state.last_through.saturating_sub(c.session.acked());
            self.metrics
                .device_lag
                .get_or_create(&super::metrics::DeviceLabel::new(&c.state.device, *id))
                .set(i64::try_from(lag).unwrap_or(i64::MAX));
        }
    }
}

/// A `Refused` frame, to send before closing a connection.
pub(crate) fn refusal(code: RefusalCode, message: &str) -> Option<Vec<u8>> {
    let message: String = message.chars().take(1_000).collect();
    wire_encode(&Message::Refused {
        code,
        doc: None,
        message,
    })
}

/// Encodes one message (the wire encoder refuses only oversized fields).
pub(crate) fn wire_encode(message: &Message) -> Option<Vec<u8>> {
    Some(wire::encode(message))
}
