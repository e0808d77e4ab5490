//! [`Session`]: one connection's sync state machine. Frames in, frames out; no I/O.

use std::collections::{HashMap, HashSet};

use crate::store::{LogEntry, PeerRecord};
use crate::{DeviceId, DocId, Epoch, VersionVector};

use super::host::{ChangeFate, SyncHost};
use super::wire::{self, Limits};
use super::{
    Access, Cursor, Hello, Interest, Message, RefusalCode, Stretch, SyncError, WireChange,
    WireSnapshot,
};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 1;

/// How a session behaves.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Documents we want to receive.
    pub interest: Interest,
    /// The device we expect on the other end, if we have met it before (lets the hello carry
    /// our cursor, saving half a round trip).
    pub peer_hint: Option<DeviceId>,
    /// Access token to present (empty for none).
    pub token: String,
    /// What the peer may read and write.
    pub access: Access,
    /// Frame decoding limits.
    pub limits: Limits,
    /// Aim for frames of about this many payload bytes when streaming.
    pub frame_bytes: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            interest: Interest::All,
            peer_hint: None,
            token: String::new(),
            access: Access::full(),
            limits: Limits::default(),
            frame_bytes: 1 << 20,
        }
    }
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Waiting for the peer's hello.
    Handshaking,
    /// Changes are still flowing to catch one side up.
    CatchingUp,
    /// Both sides hold each other's logs as far as is known.
    InSync,
}

/// Something the application may want to know about, taken with [`Session::take_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The peer introduced itself.
    PeerHello {
        /// The peer.
        device: DeviceId,
        /// Its label.
        label: String,
    },
    /// The peer refused something we sent; the session goes on.
    Refused {
        /// Why.
        code: RefusalCode,
        /// The document concerned.
        doc: Option<DocId>,
        /// The peer's explanation.
        message: String,
    },
    /// We refused changes from the peer (it may not write this document).
    RefusedChanges {
        /// The document.
        doc: DocId,
    },
    /// The peer acknowledged holding our log through this offset.
    Acked {
        /// Our log offset.
        upto: u64,
    },
    /// The peer showed that this store was restored from an older copy.
    RestoredFromBackup,
}

/// Counters for status displays and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Frames received.
    pub frames_in: u64,
    /// Frames produced.
    pub frames_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes produced.
    pub bytes_out: u64,
    /// Changes received.
    pub changes_in: u64,
    /// Changes sent.
    pub changes_out: u64,
    /// Snapshots sent.
    pub snapshots_out: u64,
    /// Whether the exchange fell back to comparing version vectors.
    pub full_resync: bool,
    /// Last time a frame arrived (ms since the Unix epoch).
    pub last_contact_ms: u64,
}

#[derive(Debug, Clone)]
struct Peer {
    device: DeviceId,
    epoch: Epoch,
    head: u64,
    interest: Interest,
    /// The peer lost part of its own log (restored from a backup): send its own changes back.
    restored: bool,
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
    events: Vec<SessionEvent>,
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
            cursor: None,
            holding_back: false,
            resume_requested: None,
            summary_sent: false,
            summary_seen: HashSet::new(),
            snapshots_sent: HashMap::new(),
            acked: 0,
            events: Vec::new(),
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

    /// Takes the events gathered since the last call.
    pub fn take_events(&mut self) -> Vec<SessionEvent> {
        std::mem::take(&mut self.events)
    }

    /// Where the session stands, given the host's current log head.
    pub fn state(&self, host: &impl SyncHost) -> SessionState {
        let Some(peer) = &self.peer else {
            return SessionState::Handshaking;
        };
        let sent_all =
            matches!(self.out, Outbound::Streaming { through } if through >= host.log_head());
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
        let resume = match self.config.peer_hint {
            Some(peer) => host
                .peer(&peer)?
                .and_then(|r| r.their_log)
                .map(|(epoch, offset)| Cursor { epoch, offset }),
            None => None,
        };
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
        Ok(out)
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
            Message::Refused { code, doc, message } => {
                self.events
                    .push(SessionEvent::Refused { code, doc, message })
            }
        }
        out.extend(self.poll(host)?);
        Ok(out)
    }

    /// Frames carrying local changes made since the last call (nothing until the peer told us
    /// where to start).
    pub fn poll(&mut self, host: &mut impl SyncHost) -> Result<Vec<Vec<u8>>, SyncError> {
        let mut out = Vec::new();
        let Outbound::Streaming { through } = self.out else {
            return Ok(out);
        };
        let Some(peer) = self.peer.clone() else {
            return Ok(out);
        };
        host.commit_waiting()?;
        let head = host.log_head();
        // Entries not yet streamed may have been compacted away since the last poll: only the
        // snapshot holds them now.
        let snapshots = self.compacted_snapshots(host, &peer, through)?;
        self.send_snapshots(&mut out, snapshots);
        let mut after = through;
        while after < head {
            let (entries, last) =
                host.read_log_wanted(after, 10_000, self.config.frame_bytes, &|doc| {
                    self.shares(&peer, doc)
                })?;
            if last <= after {
                break;
            }
            let changes: Vec<WireChange> = entries
                .into_iter()
                .filter(|e| peer.restored || e.origin != Some(peer.device))
                .filter(|e| self.shares(&peer, &e.doc))
                .map(wire_change)
                .collect();
            let stretch = Stretch {
                from: after,
                to: last,
            };
            after = last;
            self.stats.changes_out += changes.len() as u64;
            self.emit(
                &mut out,
                &Message::Changes {
                    changes,
                    stretch: Some(stretch),
                },
            );
        }
        self.out = Outbound::Streaming { through: after };
        Ok(out)
    }

    fn shares(&self, peer: &Peer, doc: &DocId) -> bool {
        peer.interest.wants(doc) && self.config.access.read.contains(doc)
    }

    fn emit(&mut self, out: &mut Vec<Vec<u8>>, message: &Message) {
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
        self.events.push(SessionEvent::PeerHello {
            device: hello.device,
            label: hello.label.clone(),
        });
        self.peer = Some(Peer {
            device: hello.device,
            epoch: hello.epoch,
            head: hello.head,
            interest: hello.interest,
            restored,
        });
        let mut record = record.unwrap_or_else(|| PeerRecord {
            peer: hello.device,
            label: String::new(),
            their_log: None,
            acked: 0,
            last_contact_ms: 0,
        });
        record.label = hello.label;
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
        if record.their_log.is_none() && hello.head == 0 {
            record.their_log = Some((hello.epoch, 0));
        }
        host.save_peer(&record)?;

        // Inbound: tell the peer how far we hold its log, unless the hello already did.
        let ours = record
            .their_log
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
            return Ok(()); // They will send a summary.
        };
        let id = host.identity();
        let head = host.log_head();
        if cursor.epoch == id.epoch && cursor.offset > head {
            host.restored_from_backup()?;
            self.events.push(SessionEvent::RestoredFromBackup);
        }
        if cursor.epoch != id.epoch || cursor.offset > head {
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
        // Changes after the cursor that were compacted away exist only in snapshots.
        self.snapshots_sent.clear();
        let snapshots = self.compacted_snapshots(host, &peer, cursor.offset)?;
        self.send_snapshots(out, snapshots);
        self.out = Outbound::Streaming {
            through: cursor.offset,
        };
        Ok(())
    }

    /// Snapshots of the shared documents compacted past `after` (entries the peer has not
    /// been sent may be gone from the log), skipping those this session already sent and
    /// that were not compacted again since.
    fn compacted_snapshots(
        &mut self,
        host: &mut impl SyncHost,
        peer: &Peer,
        after: u64,
    ) -> Result<Vec<WireSnapshot>, SyncError> {
        let mut snapshots = Vec::new();
        let head = host.log_head();
        for doc in host.compacted_after(after)? {
            if !self.shares(peer, &doc) {
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
        let docs = host.versions(&|doc| interest.wants(doc))?;
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
        let head = host.log_head();
        for (doc, theirs) in docs {
            if self.shares(&peer, &doc) {
                self.send_missing(host, &doc, &theirs, out)?;
            }
            self.summary_seen.insert(doc);
        }
        if !last {
            return Ok(());
        }
        let ours = host.versions(&|doc| peer.interest.wants(doc))?;
        let empty = VersionVector::new();
        for (doc, _) in ours {
            if !self.summary_seen.contains(&doc) && self.shares(&peer, &doc) {
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
        let write = &self.config.access.write;
        let mut refused: Vec<DocId> = Vec::new();
        let snapshots: Vec<WireSnapshot> = snapshots
            .into_iter()
            .filter(|s| write.contains(&s.doc) || note_refused(&mut refused, &s.doc))
            .collect();
        let changes: Vec<WireChange> = changes
            .into_iter()
            .filter(|c| write.contains(&c.doc) || note_refused(&mut refused, &c.doc))
            .collect();
        for doc in refused {
            self.events
                .push(SessionEvent::RefusedChanges { doc: doc.clone() });
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
            return Ok(());
        }
        if from > held {
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
        });
        record.their_log = Some((peer.epoch, upto));
        record.last_contact_ms = host.now_ms();
        host.save_peer(&record)?;
        self.emit(out, &Message::Ack { upto });
        Ok(())
    }

    fn on_ack(&mut self, host: &mut impl SyncHost, upto: u64) -> Result<(), SyncError> {
        let Some(peer) = self.peer.clone() else {
            return Ok(());
        };
        let upto = upto.min(host.log_head());
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
        self.events.push(SessionEvent::Acked { upto });
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
