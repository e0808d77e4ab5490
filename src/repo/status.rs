//! Where things stand: the replica's equivalent of Redis `INFO replication`.

use crate::store::PeerRecord;
use crate::{DeviceId, DocId, Epoch, Error, IntoDocId, VersionVector};

use super::{Receipt, Repo};

/// One peer as this replica knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerStatus {
    /// The peer's device id (hex).
    pub peer: String,
    /// Its label ("relay", a host name).
    pub label: String,
    /// How far the peer acknowledged holding our log.
    pub acked: u64,
    /// Entries of our log after that point: what the peer still lacks from us.
    pub unacked: u64,
    /// The peer's epoch (hex) and how far we hold its log, if known.
    pub their_log: Option<(String, u64)>,
    /// Last time we heard from it (ms since the Unix epoch; 0 = never).
    pub last_contact_ms: u64,
}

/// The replica as a whole.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplicationStatus {
    /// This device (hex).
    pub device: String,
    /// This store's epoch (hex).
    pub epoch: String,
    /// The actor this device writes as (hex).
    pub actor: String,
    /// The log head: how many changes this store has numbered.
    pub log_head: u64,
    /// Number of documents.
    pub documents: usize,
    /// Local changes waiting for their group commit.
    pub unflushed: usize,
    /// Remote changes waiting for missing dependencies.
    pub pending: usize,
    /// Every peer ever synced with.
    pub peers: Vec<PeerStatus>,
}

/// One document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DocStatus {
    /// The document.
    pub doc: DocId,
    /// What this replica holds of it, per writer (actor hex -> highest seq).
    pub version: Vec<(String, u64)>,
    /// The same, as a token another replica can check with `has_caught_up`.
    pub version_token: String,
    /// Changes logged since the last compaction, and their bytes.
    pub logged_changes: u64,
    /// Bytes of those changes.
    pub logged_bytes: u64,
    /// Bytes of the compacted snapshot (0 when never compacted).
    pub snapshot_bytes: u64,
}

/// How far a local change has travelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptStatus {
    /// Committed to this device's SQLite.
    pub on_disk: bool,
    /// Peers that acknowledged holding it (the relay among them, when connected to one).
    pub acked_by: Vec<DeviceId>,
}

fn peer_status(record: PeerRecord, head: u64) -> PeerStatus {
    PeerStatus {
        peer: record.peer.to_string(),
        label: record.label,
        acked: record.acked,
        unacked: head.saturating_sub(record.acked),
        their_log: record
            .their_log
            .map(|(epoch, offset): (Epoch, u64)| (epoch.to_string(), offset)),
        last_contact_ms: record.last_contact_ms,
    }
}

impl Repo {
    /// Where the replica stands, with every peer it knows.
    pub fn status(&self) -> Result<ReplicationStatus, Error> {
        let head = self.commits.store().log_head();
        let peers = self
            .commits
            .store()
            .peers()?
            .into_iter()
            .map(|r| peer_status(r, head))
            .collect();
        Ok(ReplicationStatus {
            device: self.device_id().to_string(),
            epoch: self.epoch().to_string(),
            actor: self.actor.to_hex_string(),
            log_head: head,
            documents: self.doc_ids()?.len(),
            unflushed: self.unflushed(),
            pending: self.pending.len(),
            peers,
        })
    }

    /// Where one document stands.
    pub fn doc_status(&mut self, doc: impl IntoDocId) -> Result<DocStatus, Error> {
        let doc = doc.into_doc_id()?;
        let version: VersionVector = self.version(&doc)?;
        let (logged_changes, logged_bytes) = self.commits.store().tail_stats(&doc)?;
        let snapshot_bytes = self
            .commits
            .store()
            .snapshot(&doc)?
            .map_or(0, |(s, _)| s.len() as u64);
        Ok(DocStatus {
            version: version
                .iter()
                .map(|(a, s)| (a.to_hex_string(), s))
                .collect(),
            version_token: version.to_token(),
            doc,
            logged_changes,
            logged_bytes,
            snapshot_bytes,
        })
    }

    /// How far a local change has travelled: on disk, and which peers acknowledged it.
    ///
    /// A receipt made before its group commit (its `offset` is `None`) is looked up in the log:
    /// it shows on disk once its batch has committed, whether by a later change, a timer or
    /// [`flush`](Self::flush). Only while the change is in the log: once compacted into a
    /// snapshot, or after the replica changed actor, only the receipt with its offset (from
    /// `flush`) tells.
    pub fn receipt_status(&self, receipt: &Receipt) -> Result<ReceiptStatus, Error> {
        let offset = match receipt.offset {
            Some(offset) => Some(offset),
            None => self.committed_offset(receipt)?,
        };
        let Some(offset) = offset else {
            return Ok(ReceiptStatus {
                on_disk: false,
                acked_by: Vec::new(),
            });
        };
        let acked_by = self
            .commits
            .store()
            .peers()?
            .into_iter()
            .filter(|p| p.acked >= offset)
            .map(|p| p.peer)
            .collect();
        Ok(ReceiptStatus {
            on_disk: true,
            acked_by,
        })
    }

    /// The offset of a receipt's change when the store has committed it since the receipt was
    /// made, as this replica's actor in that document.
    fn committed_offset(&self, receipt: &Receipt) -> Result<Option<u64>, Error> {
        let actor = self.actor_for(&receipt.doc);
        Ok(self
            .commits
            .store()
            .logged_offset(&receipt.doc, actor, receipt.seq, &receipt.hash)?)
    }
}
