//! [`Session`]: one connection's sync state machine. Frames in, frames out; no I/O.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::store::{LogEntry, PeerRecord};
use crate::{DeviceId, DocId, Epoch, VersionVector};

use super::host::{ChangeFate, SyncHost};
use super::wire;
use super::{
    Cursor, Hello, Interest, Message, RefusalCode, Stretch, SyncError, WireChange, WireSnapshot,
};

mod delayed_acks;
mod types;

pub use types::{SessionConfig, SessionEvent, SessionState, SessionStats};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 1;

/// Most events a session keeps for [`Session::take_events`]; past it the oldest go.
pub const MAX_EVENTS: usize = 1_000;

#[derive(Debug, Clone)]
struct Peer {
    device: DeviceId,
    epoch: Epoch,
    head: u64,
    /// Shared: a relay clones a session's peer at every poll and acknowledgement.
    interest: Arc<Interest>,
    /// The peer lost part of its own log (restored from a backup): send its own changes back.
    restored: bool,
}

/// What a session streamed before the peer's hello, presuming that the peer still holds our
/// log as far as it last acknowledged and wants what it asked for last time.
#[derive(Debug, Clone)]
struct Presumed {
    /// The device we expected (another may answer).
    device: DeviceId,
    /// The offset the stream started after: the peer's last acknowledgement.
    from: u64,
    /// The documents streamed.
    interest: Interest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outbound {
    /// Waiting for the peer's cursor or summary.
    Waiting,
    /// Everything in our log up to `through` that the peer wants has been sent.
    Streaming { through: u64 },
}

/// One connection's sync state. Create one per connection, call [`start`](Self::start), then
/// feed every received frame to [`receive`](Self::receive) and call [`poll`](Self::poll) after
/// local changes; send every frame they return, in order.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    started: bool,
    sent_resume: Option<Cursor>,
    peer: Option<Peer>,
    out: Outbound,
    /// Set while a stream sent before the peer's hello awaits its confirmation.
    presumed: Option<Presumed>,
    /// Whether changes or snapshots went out since the last stretch we sent.
    content_since_stretch: bool,
    /// Stretches we sent that carried nothing the peer lacks (its own changes, documents it
    /// does not want): the peer does not acknowledge them, and holds each once it holds
    /// everything before it.
    empty_stretches: std::collections::VecDeque<Stretch>,
    /// Whether changes or snapshots arrived since our last acknowledgement.
    received_since_ack: bool,
    /// An acknowledgement not sent yet (see [`SessionConfig::ack_delay`]): the offset it
    /// carries, and when it must go (ms, as [`SyncHost::now_ms`] counts).
    ack_owed: Option<(u64, u64)>,
    /// A stretch of our log holding nothing for the peer, not sent yet (see
    /// [`SessionConfig::ack_delay`]): how far it reaches, and when it must go.
    empty_owed: Option<(u64, u64)>,
    /// How far we hold the peer's log (under `peer.epoch`).
    cursor: Option<u64>,
    /// Changes from the peer wait for dependencies: the cursor must not move past them.
    holding_back: bool,
    /// The cursor we last asked the peer to resend from, after noticing a gap.
    resume_requested: Option<u64>,
    summary_sent: bool,
    summary_seen: HashSet<DocId>,
    /// Documents whose snapshot this session sent, with our log head at the time: a later
    /// compaction covering no further than that head needs no new snapshot.
    snapshots_sent: HashMap<DocId, u64>,
    acked: u64,
    events: VecDeque<SessionEvent>,
    stats: SessionStats,
}

impl Session {
    /// A new session.
    pub fn new(config: SessionConfig) -> Self {
        Self {
            config,
            started: false,
            sent_resume: None,
            peer: None,
            out: Outbound::Waiting,
            presumed: None,
            content_since_stretch: false,
            empty_stretches: Default::default(),
            received_since_ack: false,
            ack_owed: None,
            empty_owed: None,
            cursor: None,
            holding_back: false,
            resume_requested: None,
            summary_sent: false,
            summary_seen: HashSet::new(),
            snapshots_sent: HashMap::new(),
            acked: 0,
            events: VecDeque::new(),
            stats: SessionStats::default(),
        }
    }

    /// Whether [`start`](Self::start) was called (directly or by the first `receive`).
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The peer's device, once its hello arrived.
    pub fn peer(&self) -> Option<DeviceId> {
        self.peer.as_ref().map(|p| p.device)
    }

    /// Counters for this session.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// How far the peer has acknowledged our log in this session.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Takes the events gathered since the last call: at most [`MAX_EVENTS`] of them, the
    /// newest (a session whose events nobody takes does not grow without bound), with
    /// consecutive acknowledgements merged into the latest.
    pub fn take_events(&mut self) -> Vec<SessionEvent> {
        std::mem::take(&mut self.events).into()
    }

    fn push_event(&mut self, event: SessionEvent) {
        if let (SessionEvent::Acked { upto }, Some(SessionEvent::Acked { upto: last })) =
            (&event, self.events.back_mut())
        {
            *last = (*last).max(*upto);
            return;
        }
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Where the session stands, given the host's current log head.
    pub fn state(&self, host: &impl SyncHost) -> SessionState {
        let Some(peer) = &self.peer else {
            return SessionState::Handshaking;
        };
        // A stretch holding nothing for the peer counts as sent before it goes.
        let owed = self.empty_owed.map_or(0, |(to, _)| to);
        let sent_all = matches!(self.out, Outbound::Streaming { through } if through.max(owed) >= host.log_head());
        let have_all = self.cursor.unwrap_or(0) >= peer.head;
        if sent_all && have_all {
            SessionState::InSync
        } else {
            SessionState::CatchingUp
        }
    }

    /// Opens the exchange: returns the hello (and a summary when we cannot resume).
    pub fn start(&mut self, host: &mut impl SyncHost) -> Result<Vec<Vec<u8>>, SyncError> {
        if self.started {
            return Err(SyncError::Protocol {
                what: "start called twice",
            });
        }
        self.started = true;
        host.commit_waiting()?;
        let id = host.identity();
        let record = match self.config.peer_hint {
            Some(peer) => host.peer(&peer)?,
            None => None,
        };
        let resume = record
            .as_ref()
            .and_then(|r| r.their_log)
            .filter(|_| !self.partial())
            .map(|(epoch, offset)| Cursor { epoch, offset });
        self.sent_resume = resume;
        let hello = Message::Hello(Hello {
            versions: (PROTOCOL_VERSION, PROTOCOL_VERSION),
            device: id.device,
            epoch: id.epoch,
            head: host.log_head(),
            label: id.label,
            resume,
            interest: self.config.interest.clone(),
            token: self.config.token.clone(),
        });
        let mut out = Vec::new();
        self.emit(&mut out, &hello);
        if let Some(record) = record {
            self.stream_presumed(host, record, &mut out)?;
        } else if host.log_head() == 0 {
            // We hold nothing and know no cursor: whatever the peer's hello says, reconciling
            // starts from our summary (an empty one). Sent now, it saves a round trip: a new
            // device's, or a browser page's, first exchange.
            self.send_summary(host, &mut out)?;
        }
        Ok(out)
    }

    /// Right behind the hello, to a peer we have met: streams our log after what it last
    /// acknowledged, filtered by what it asked for last time, so that a reconnection takes one
    /// round trip instead of two. The peer's hello confirms the guess or corrects it (see
    /// [`on_cursor`](Self::on_cursor)); what was sent needlessly is skipped by the peer.
    fn stream_presumed(
        &mut self,
        host: &mut impl SyncHost,
        record: PeerRecord,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), SyncError> {
        // A peer following only some documents keeps no cursor (see `partial`): it will send a
        // summary, which would make the presumed stream wasted bytes.
        let Some(interest) = record.interest.filter(|i| *i == Interest::All) else {
            return Ok(());
        };
        if record.acked > host.log_head() {
            return Ok(()); // We were restored from a backup: wait for the peer's cursor.
        }
        let through = self.stream(
            host,
            record.peer,
            false,
            &interest,
            record.acked,
            false,
            out,
        )?;
        self.empty_owed = None;
        self.out = Outbound::Streaming { through };
        self.presumed = Some(Presumed {
            device: record.peer,
            from: record.acked,
            interest,
        });
        Ok(())
    }

    /// Whether we follow only some documents. Such a session neither trusts nor stores a cursor
    /// into the peer's log: a cursor earned while following some documents says nothing about
    /// the others, so following more of them later would skip their history. It reconciles by
    /// summary instead, which costs what the followed documents hold, not the whole store.
    fn partial(&self) -> bool {
        self.config.interest != Interest::All
    }

    /// Handles one received frame; returns the frames to send back. On error the replica is
    /// unchanged by this frame.
    pub fn receive(
        &mut self,
        host: &mut impl SyncHost,
        frame: &[u8],
    ) -> Result<Vec<Vec<u8>>, SyncError> {
        let message = wire::decode(frame, &self.config.limits)?;
        self.stats.frames_in += 1;
        self.stats.bytes_in += frame.len() as u64;
        self.stats.last_contact_ms = host.now_ms();
        self.handle(host, message)
    }

    /// Handles a message already decoded (a relay decodes the hello itself to check the token).
    pub fn handle(
        &mut self,
        host: &mut impl SyncHost,
        message: Message,
    ) -> Result<Vec<Vec<u8>>, SyncError> {
        let mut out = Vec::new();
        if !self.started {
            out.extend(self.start(host)?);
        }
        match message {
            Message::Hello(hello) => self.on_hello(host, hello, &mut out)?,
            // A server that refuses our hello (a bad token) answers with a refusal, not a
            // hello: an event for the application, which stops reconnecting.
            Message::Refused { code, doc, message } => {
                self.push_event(SessionEvent::Refused { code, doc, message })
            }
            other if self.peer.is_none() => {
                let _ = other;
                return Err(SyncError::Protocol {
                    what: "a message arrived before the peer's hello",
                });
            }
            Message::Resume(cursor) => self.on_cursor(host, Some(cursor), &mut out)?,
            Message::NeedSummary => self.send_summary(host, &mut out)?,
            Message::Summary { docs, last } => self.on_summary(host, docs, last, &mut out)?,
            Message::Changes { changes, stretch } => {
                self.on_changes(host, Vec::new(), changes, stretch, &mut out)?
            }
            Message::Snapshots(snapshots) => {
                self.on_changes(host, snapshots, Vec::new(), None, &mut out)?
            }
            Message::Ack { upto } => self.on_ack(host, upto)?,
        }
        self.poll_into(host, &mut out)?;
        Ok(out)
    }

    /// Frames carrying local changes made since the last call (nothing until the peer told us
    /// where to start), and the acknowledgements that are due or can travel with them (see
    /// [`SessionConfig::ack_delay`]).
    pub fn poll(&mut self, host: &mut impl SyncHost) -> Result<Vec<Vec<u8>>, SyncError> {
        let mut out = Vec::new();
        self.poll_into(host, &mut out)?;
        Ok(out)
    }

    /// [`poll`](Self::poll), adding to `out`: frames already in it are going anyway, so
    /// whatever acknowledgement waits goes with them.
    fn poll_into(
        &mut self,
        host: &mut impl SyncHost,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), SyncError> {
        if let (Outbound::Streaming { through }, Some(peer)) = (self.out, self.peer.clone()) {
            host.commit_waiting()?;
            let after = self.stream(
                host,
                peer.device,
                peer.restored,
                &peer.interest,
                through,
                true,
                out,
            )?;
            self.out = Outbound::Streaming { through: after };
        }
        self.settle(host, out);
        self.on_ack(host, 0)?; // Settles the empty stretches just sent.
        Ok(())
    }

    /// Streams our log after `through` to `device` (which wants `interest`), its own changes
    /// too when it was `restored`; returns how far the stream now reaches. When `lazy` (live
    /// streaming) and [`SessionConfig::ack_delay`] is set, a stretch holding nothing for the
    /// peer (the changes it sent us, logged here too) is not sent at once: the next stretch
    /// with changes covers it, or [`settle`](Self::settle) sends it when due.
    #[allow(clippy::too_many_arguments)]
    fn stream(
        &mut self,
        host: &mut impl SyncHost,
        device: DeviceId,
        restored: bool,
        interest: &Interest,
        through: u64,
        lazy: bool,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<u64, SyncError> {
        let lazy = lazy && !self.config.ack_delay.is_zero();
        let head = host.log_head();
        // Entries not yet streamed may have been compacted away since the last poll: only the
        // snapshot holds them now.
        let snapshots = self.compacted_snapshots(host, interest, through)?;
        self.send_snapshots(out, snapshots);
        let mut after = through;
        // Read on after a stretch that holds nothing for the peer and is not sent yet.
        let mut read = match self.empty_owed {
            Some((to, _)) if lazy => to.max(through),
            _ => through,
        };
        while read < head {
            let (entries, last) =
                host.read_log_wanted(read, 10_000, self.config.frame_bytes, &|doc| {
                    self.shares(interest, doc)
                })?;
            if last <= read {
                break;
            }
            let changes: Vec<WireChange> = entries
                .into_iter()
                .filter(|e| restored || e.origin != Some(device))
                .filter(|e| self.shares(interest, &e.doc))
                .map(wire_change)
                .collect();
            read = last;
            if lazy && changes.is_empty() && !self.content_since_stretch {
                let due = match self.empty_owed {
                    Some((_, due)) => due,
                    None => host.now_ms().saturating_add(self.delay_ms()),
                };
                self.empty_owed = Some((last, due));
                continue;
            }
            self.empty_owed = None;
            let stretch = Stretch {
                from: after,
                to: last,
            };
            after = last;
            self.stats.changes_out += changes.len() as u64;
            self.emit(
                out,
                &Message::Changes {
                    changes,
                    stretch: Some(stretch),
                },
            );
        }
        Ok(after)
    }

    fn shares(&self, interest: &Interest, doc: &DocId) -> bool {
        interest.wants(doc) && self.config.access.read.contains(doc)
    }

    fn emit(&mut self, out: &mut Vec<Vec<u8>>, message: &Message) {
        match message {
            Message::Changes { changes, stretch } => {
                self.content_since_stretch |= !changes.is_empty();
                if let Some(stretch) = stretch {
                    if !self.content_since_stretch {
                        self.empty_stretches.push_back(*stretch);
                    }
                    self.content_since_stretch = false;
                }
            }
            Message::Snapshots(_) => self.content_since_stretch = true,
            Message::Ack { .. } => {
                self.received_since_ack = false;
                self.ack_owed = None;
            }
            _ => {}
        }
        let frame = wire::encode(message);
        self.stats.frames_out += 1;
        self.stats.bytes_out += frame.len() as u64;
        out.push(frame);
    }

    fn on_hello(
        &mut self,
        host: &mut impl SyncHost,
        hello: Hello,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), SyncError> {
        if self.peer.is_some() {
            return Err(SyncError::Protocol {
                what: "a second hello arrived",
            });
        }
        let (lo, hi) = hello.versions;
        if lo > PROTOCOL_VERSION || hi < PROTOCOL_VERSION {
            return Err(SyncError::Incompatible {
                theirs_min: lo,
                theirs_max: hi,
                ours_min: PROTOCOL_VERSION,
                ours_max: PROTOCOL_VERSION,
            });
        }
        let record = host.peer(&hello.device)?;
        // Their log went backwards under the same epoch: they were restored from a backup.
        let restored = record
            .as_ref()
            .and_then(|r| r.their_log)
            .is_some_and(|(epoch, offset)| epoch == hello.epoch && offset > hello.head);
        self.push_event(SessionEvent::PeerHello {
            device: hello.device,
            label: hello.label.clone(),
        });
        self.peer = Some(Peer {
            device: hello.device,
            epoch: hello.epoch,
            head: hello.head,
            interest: Arc::new(hello.interest.clone()),
            restored,
        });
        let mut record = record.unwrap_or_else(|| PeerRecord {
            peer: hello.device,
            label: String::new(),
            their_log: None,
            acked: 0,
            last_contact_ms: 0,
            interest: None,
        });
        record.label = hello.label;
        record.interest = Some(hello.interest);
        record.last_contact_ms = host.now_ms();
        if record.their_log.is_some_and(|(e, _)| e != hello.epoch) || restored {
            record.their_log = None;
        }
        if record.acked > host.log_head() {
            record.acked = 0;
        }
        // An empty log is held in full: resume from its start rather than exchange summaries,
        // and remember it, so that the next connection resumes too (a peer first met while its
        // log was empty, such as a new relay, would otherwise cost a full resync again). Every
        // change a store holds has a log offset, so a head of 0 means it holds nothing.
        let partial = self.partial();
        if !partial && record.their_log.is_none() && hello.head == 0 {
            record.their_log = Some((hello.epoch, 0));
        }
        host.save_peer(&record)?;

        // Inbound: tell the peer how far we hold its log, unless the hello already did.
        let ours = if partial {
            (hello.head == 0).then_some((hello.epoch, 0))
        } else {
            record.their_log
        }
        .map(|(epoch, offset)| Cursor { epoch, offset });
        match ours {
            Some(cursor) => {
                self.cursor = Some(cursor.offset);
                if self.sent_resume != Some(cursor) {
                    self.emit(out, &Message::Resume(cursor));
                }
            }
            None => self.send_summary(host, out)?,
        }
        // Outbound: where to start sending our log.
        self.on_cursor(host, hello.resume, out)
    }

    fn on_cursor(
        &mut self,
        host: &mut impl SyncHost,
        cursor: Option<Cursor>,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), SyncError> {
        let Some(cursor) = cursor else {
            // They will send a summary, or a `Resume` (a relay cannot name our cursor before
            // our hello): a stream sent before their hello waits for the one or the other.
            return Ok(());
        };
        // A stream sent before the hello stands only if the cursor confirms what it presumed.
        let presumed = self.presumed.take();
        let id = host.identity();
        let head = host.log_head();
        if cursor.epoch == id.epoch && cursor.offset > head {
            host.restored_from_backup()?;
            self.push_event(SessionEvent::RestoredFromBackup);
        }
        if cursor.epoch != id.epoch || cursor.offset > head {
            self.out = Outbound::Waiting;
            self.empty_owed = None;
            self.stats.full_resync = true;
            self.emit(out, &Message::NeedSummary);
            return Ok(());
        }
        let Some(peer) = self.peer.clone() else {
            return Ok(());
        };
        // The peer holds our log up to the cursor: that is an acknowledgement too. Without it,
        // a peer that already had everything would never acknowledge (nothing is streamed).
        self.on_ack(host, cursor.offset)?;
        let confirmed = presumed.filter(|p| {
            p.device == peer.device
                && p.interest == *peer.interest
                && !peer.restored
                && cursor.offset >= p.from
        });
        let through = match (confirmed, self.out) {
            // The peer held at least what the stream started from: it goes on.
            (Some(_), Outbound::Streaming { through }) => through.max(cursor.offset),
            _ => {
                // What was left out as the peer's own may be what it lost: no stretch sent so
                // far stands for it.
                self.empty_stretches.clear();
                // Changes after the cursor that were compacted away exist only in snapshots.
                self.snapshots_sent.clear();
                let snapshots = self.compacted_snapshots(host, &peer.interest, cursor.offset)?;
                self.send_snapshots(out, snapshots);
                cursor.offset
            }
        };
        self.out = Outbound::Streaming { through };
        self.empty_owed = None;
        Ok(())
    }

    /// Snapshots of the shared documents compacted past `after` (entries the peer has not
    /// been sent may be gone from the log), skipping those this session already sent and
    /// that were not compacted again since.
    fn compacted_snapshots(
        &mut self,
        host: &mut impl SyncHost,
        interest: &Interest,
        after: u64,
    ) -> Result<Vec<WireSnapshot>, SyncError> {
        let mut snapshots = Vec::new();
        let head = host.log_head();
        for doc in host.compacted_after(after)? {
            if !self.shares(interest, &doc) {
                continue;
            }
            if let Some(&sent_at) = self.snapshots_sent.get(&doc)
                && sent_at >= after
                && !host.compacted_after(sent_at)?.contains(&doc)
            {
                continue;
            }
            if let Some(bytes) = host.snapshot(&doc)? {
                self.snapshots_sent.insert(doc.clone(), head);
                snapshots.push(WireSnapshot { doc, bytes });
            }
        }
        Ok(snapshots)
    }

    fn send_snapshots(&mut self, out: &mut Vec<Vec<u8>>, snapshots: Vec<WireSnapshot>) {
        let mut batch = Vec::new();
        let mut bytes = 0;
        for snapshot in snapshots {
            bytes += snapshot.bytes.len();
            batch.push(snapshot);
            if bytes >= self.config.frame_bytes {
                self.stats.snapshots_out += batch.len() as u64;
                self.emit(out, &Message::Snapshots(std::mem::take(&mut batch)));
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.stats.snapshots_out += batch.len() as u64;
            self.emit(out, &Message::Snapshots(batch));
        }
    }

    fn send_summary(
        &mut self,
        host: &mut impl SyncHost,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), SyncError> {
        if self.summary_sent {
            return Ok(());
        }
        self.summary_sent = true;
        self.stats.full_resync = true;
        let interest = self.config.interest.clone();
        let docs = host.versions(&interest)?;
        let per_frame = 10_000;
        let mut chunks = docs.chunks(per_frame).peekable();
        if chunks.peek().is_none() {
            self.emit(
                out,
                &Message::Summary {
                    docs: Vec::new(),
                    last: true,
                },
            );
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            self.emit(
                out,
                &Message::Summary {
                    docs: chunk.to_vec(),
                    last,
                },
            );
        }
        Ok(())
    }

    fn on_summary(
        &mut self,
        host: &mut impl SyncHost,
        docs: Vec<(DocId, VersionVector)>,
        last: bool,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), SyncError> {
        let Some(peer) = self.peer.clone() else {
            return Ok(());
        };
        if self.presumed.take().is_some() {
            // The peer does not know how far it holds our log: the summary decides.
            self.empty_stretches.clear();
        }
        let head = host.log_head();
        for (doc, theirs) in docs {
            if self.shares(&peer.interest, &doc) {
                self.send_missing(host, &doc, &theirs, out)?;
            }
            self.summary_seen.insert(doc);
        }
        if !last {
            return Ok(());
        }
        let ours = host.versions(&peer.interest)?;
        let empty = VersionVector::new();
        for (doc, _) in ours {
            if !self.summary_seen.contains(&doc) && self.shares(&peer.interest, &doc) {
                self.send_missing(host, &doc, &empty, out)?;
            }
        }
        self.summary_seen.clear();
        self.emit(
            out,
            &Message::Changes {
                changes: Vec::new(),
                stretch: Some(Stretch { from: 0, to: head }),
            },
        );
        self.out = Outbound::Streaming { through: head };
        self.empty_owed = None;
        Ok(())
    }

    fn send_missing(
        &mut self,
        host: &mut impl SyncHost,
        doc: &DocId,
        theirs: &VersionVector,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), SyncError> {
        let missing = host.missing(doc, theirs)?;
        if let Some(bytes) = missing.snapshot {
            self.send_snapshots(
                out,
                vec![WireSnapshot {
                    doc: doc.clone(),
                    bytes,
                }],
            );
        }
        let mut batch = Vec::new();
        let mut bytes = 0;
        for entry in missing.entries {
            bytes += entry.bytes.len();
            batch.push(WireChange {
                offset: 0,
                ..wire_change(entry)
            });
            if bytes >= self.config.frame_bytes {
                self.send_changes(out, std::mem::take(&mut batch));
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.send_changes(out, batch);
        }
        Ok(())
    }

    fn send_changes(&mut self, out: &mut Vec<Vec<u8>>, changes: Vec<WireChange>) {
        self.stats.changes_out += changes.len() as u64;
        self.emit(
            out,
            &Message::Changes {
                changes,
                stretch: None,
            },
        );
    }

    fn on_changes(
        &mut self,
        host: &mut impl SyncHost,
        snapshots: Vec<WireSnapshot>,
        changes: Vec<WireChange>,
        stretch: Option<Stretch>,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), SyncError> {
        let Some(peer) = self.peer.clone() else {
            return Ok(());
        };
        let arrived = !snapshots.is_empty() || !changes.is_empty();
        let write = &self.config.access.write;
        // Documents we did not ask for are skipped, not refused: a stream sent before our hello
        // presumed what we asked for last time.
        let wanted = &self.config.interest;
        let mut refused: Vec<DocId> = Vec::new();
        let snapshots: Vec<WireSnapshot> = snapshots
            .into_iter()
            .filter(|s| wanted.wants(&s.doc))
            .filter(|s| write.contains(&s.doc) || note_refused(&mut refused, &s.doc))
            .collect();
        let changes: Vec<WireChange> = changes
            .into_iter()
            .filter(|c| wanted.wants(&c.doc))
            .filter(|c| write.contains(&c.doc) || note_refused(&mut refused, &c.doc))
            .collect();
        for doc in refused {
            self.push_event(SessionEvent::RefusedChanges { doc: doc.clone() });
            self.emit(
                out,
                &Message::Refused {
                    code: RefusalCode::Forbidden,
                    message: format!("this connection may not change document {doc}"),
                    doc: Some(doc),
                },
            );
        }
        self.stats.changes_in += changes.len() as u64;
        self.received_since_ack |= arrived;
        let mut waited = false;
        if !snapshots.is_empty() || !changes.is_empty() {
            let applied = host.apply(peer.device, snapshots, changes)?;
            waited = applied.fates.contains(&ChangeFate::Pending);
        }
        self.holding_back = match host.waiting_from(&peer.device) {
            Some(waiting) => waiting > 0,
            None => self.holding_back || waited,
        };
        let Some(Stretch { from, to: upto }) = stretch else {
            return Ok(());
        };
        let held = self.cursor.unwrap_or(0);
        if held >= upto {
            // A stretch held already, sent again (a `Resume` of ours crossed the stream it
            // asked for): its sender may be waiting for an acknowledgement that was lost.
            if self.received_since_ack {
                self.emit(out, &Message::Ack { upto: held });
            }
            return Ok(());
        }
        if from > held {
            if self.cursor.is_none() && self.summary_sent {
                // Streamed before our hello, presuming a cursor we do not have: the summary
                // we sent will bring what we lack.
                return Ok(());
            }
            // A frame went missing (or arrives late): ask for the log again from our cursor.
            if self.resume_requested != Some(held) {
                self.resume_requested = Some(held);
                let cursor = Cursor {
                    epoch: peer.epoch,
                    offset: held,
                };
                self.emit(out, &Message::Resume(cursor));
            }
            return Ok(());
        }
        if self.holding_back {
            return Ok(());
        }
        self.cursor = Some(upto);
        let mut record = host.peer(&peer.device)?.unwrap_or_else(|| PeerRecord {
            peer: peer.device,
            label: String::new(),
            their_log: None,
            acked: 0,
            last_contact_ms: 0,
            interest: None,
        });
        if !self.partial() {
            record.their_log = Some((peer.epoch, upto));
        }
        record.last_contact_ms = host.now_ms();
        host.save_peer(&record)?;
        // A stretch that brought nothing needs no acknowledgement (see `empty_stretches`).
        if self.received_since_ack {
            self.owe_ack(host, upto, out);
        }
        Ok(())
    }

    fn on_ack(&mut self, host: &mut impl SyncHost, upto: u64) -> Result<(), SyncError> {
        let Some(peer) = self.peer.clone() else {
            return Ok(());
        };
        let mut upto = upto.min(host.log_head()).max(self.acked);
        while let Some(empty) = self.empty_stretches.front() {
            if empty.to <= upto {
                self.empty_stretches.pop_front();
            } else if empty.from <= upto {
                upto = empty.to.min(host.log_head());
                self.empty_stretches.pop_front();
            } else {
                break;
            }
        }
        if upto <= self.acked {
            return Ok(());
        }
        self.acked = upto;
        if let Some(mut record) = host.peer(&peer.device)?
            && upto > record.acked
        {
            record.acked = upto;
            record.last_contact_ms = host.now_ms();
            host.save_peer(&record)?;
        }
        self.push_event(SessionEvent::Acked { upto });
        Ok(())
    }
}

fn note_refused(refused: &mut Vec<DocId>, doc: &DocId) -> bool {
    if !refused.contains(doc) {
        refused.push(doc.clone());
    }
    false
}

fn wire_change(entry: LogEntry) -> WireChange {
    WireChange {
        doc: entry.doc,
        actor: entry.actor,
        seq: entry.seq,
        offset: entry.offset,
        bytes: entry.bytes,
    }
}
