//! [`SyncHost`]: what the protocol needs from a replica. The device's [`crate::Repo`]
//! implements it; so does the relay, over its own storage.

use crate::store::{LogEntry, Missing, PeerRecord};
use crate::{DeviceId, DocId, Epoch, VersionVector};

use super::{Interest, SyncError, WireChange, WireSnapshot};

/// Decodes a change received from a peer and checks it against its envelope: well-formed, its
/// checksum intact, and naming the writer and sequence number the envelope claims. Hosts call
/// it on every incoming change before applying anything.
pub fn checked_change(c: WireChange) -> Result<(DocId, automerge::Change), SyncError> {
    let change = parse_change(&c)?;
    Ok((c.doc, change))
}

/// Like [`checked_change`], leaving the envelope to the caller.
pub fn parse_change(c: &WireChange) -> Result<automerge::Change, SyncError> {
    let invalid = |reason: String| SyncError::InvalidChange {
        doc: c.doc.clone(),
        reason,
    };
    if c.seq == 0 {
        return Err(invalid("sequence number 0".into()));
    }
    let change = crate::model::Doc::decode_change(&c.bytes).map_err(|e| invalid(e.to_string()))?;
    if change.actor_id() != &c.actor || change.seq() != c.seq {
        return Err(invalid(
            "its envelope names another writer or sequence number than its bytes".into(),
        ));
    }
    Ok(change)
}

/// Who a host is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    /// The host's device.
    pub device: DeviceId,
    /// The host's store epoch.
    pub epoch: Epoch,
    /// A human label shown to peers.
    pub label: String,
}

/// What happened to one incoming change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeFate {
    /// Applied and durable.
    Applied,
    /// Already held: nothing to do.
    Duplicate,
    /// Its dependencies are missing: it waits in the bounded pending queue.
    Pending,
}

/// The outcome of [`SyncHost::apply`], one fate per change in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// One entry per incoming change.
    pub fates: Vec<ChangeFate>,
}

/// A replica as the sync protocol sees it: a log to stream, version vectors to compare, a way
/// to apply changes durably, and a place to remember peers.
///
/// Every method that returns must have finished its durable effects (an `apply` that returns
/// `Ok` has committed what it reports as applied).
pub trait SyncHost {
    /// The host's identity.
    fn identity(&self) -> HostIdentity;

    /// The highest offset in the host's log.
    fn log_head(&self) -> u64;

    /// Commits local changes that are still waiting (a group commit), so that the log holds
    /// them before a session reads its head. Sessions call it before streaming; the default
    /// does nothing (a host that commits every change at once has nothing waiting).
    fn commit_waiting(&mut self) -> Result<(), SyncError> {
        Ok(())
    }

    /// Log entries after `after`, in order, bounded by count and bytes.
    fn read_log(
        &mut self,
        after: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>, SyncError>;

    /// Log entries after `after` that `want` accepts, in order, bounded like
    /// [`read_log`](Self::read_log), and the offset through which the log was examined: at
    /// least the last entry's offset, or `after` when nothing more can be read now.
    ///
    /// The default reads with [`read_log`](Self::read_log) and filters. A host that can skip
    /// unwanted entries cheaply (a relay holding many documents) overrides it, and may return
    /// `(vec![], after)` to pause streaming (flow control): the next poll resumes from there.
    fn read_log_wanted(
        &mut self,
        after: u64,
        max_entries: usize,
        max_bytes: usize,
        want: &dyn Fn(&DocId) -> bool,
    ) -> Result<(Vec<LogEntry>, u64), SyncError> {
        let entries = self.read_log(after, max_entries, max_bytes)?;
        let through = entries.last().map_or(after, |e| e.offset);
        Ok((
            entries.into_iter().filter(|e| want(&e.doc)).collect(),
            through,
        ))
    }

    /// Documents whose history was compacted at an offset after `after`: the session sends
    /// their snapshots, since the log may no longer hold their entries. A host whose
    /// [`read_log_wanted`](Self::read_log_wanted) still returns every entry after `after` may
    /// leave them out.
    fn compacted_after(&mut self, after: u64) -> Result<Vec<DocId>, SyncError>;

    /// A document's snapshot, if it has one.
    fn snapshot(&mut self, doc: &DocId) -> Result<Option<Vec<u8>>, SyncError>;

    /// The version vector of every document `interest` wants that the host holds (a
    /// document holding nothing may be left out). For [`Interest::Docs`] a host should look
    /// the listed documents up rather than scan every document it holds: a device following
    /// a few documents then costs the same to greet whatever the store's size.
    fn versions(&mut self, interest: &Interest) -> Result<Vec<(DocId, VersionVector)>, SyncError>;

    /// What a peer holding `theirs` of `doc` lacks.
    fn missing(&mut self, doc: &DocId, theirs: &VersionVector) -> Result<Missing, SyncError>;

    /// Applies changes and snapshots received from `from`, durably and in causal order.
    /// Snapshots are applied first. Every change must be checked (well-formed, envelope
    /// consistent with its bytes); one bad change fails the whole call and changes nothing.
    fn apply(
        &mut self,
        from: DeviceId,
        snapshots: Vec<WireSnapshot>,
        changes: Vec<WireChange>,
    ) -> Result<Applied, SyncError>;

    /// How many changes received from `peer` wait in the host's queue for their dependencies,
    /// if the host can tell. While any wait, a session does not move its cursor into the
    /// peer's log past them; once they are applied it moves on. `None` (the default) makes a
    /// session hold its cursor for the rest of the connection after any change had to wait.
    fn waiting_from(&self, peer: &DeviceId) -> Option<usize> {
        let _ = peer;
        None
    }

    /// What the host knows about `peer`.
    fn peer(&mut self, peer: &DeviceId) -> Result<Option<PeerRecord>, SyncError>;

    /// Saves what the host knows about a peer.
    fn save_peer(&mut self, record: &PeerRecord) -> Result<(), SyncError>;

    /// Called when a peer proves this store was restored from an older copy (the peer holds
    /// more of our log than we do): the host must stop writing as its old actor.
    fn restored_from_backup(&mut self) -> Result<(), SyncError>;

    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}
