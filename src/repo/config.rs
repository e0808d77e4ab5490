//! How a [`super::Repo`] is set up.

use std::time::Duration;

use automerge::ActorId;

use crate::DeviceId;
use crate::model::TextUnits;
use crate::store::StoreOptions;

/// When local changes reach the disk (and so count as acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every change commits its own SQLite transaction before [`super::Repo::change`] returns.
    Immediate,
    /// Changes made close together share one transaction: a batch commits when it holds
    /// `max_changes`, when a change finds the oldest one waiting longer than `max_delay`, or when
    /// the host calls [`super::Repo::flush`] (or [`super::Repo::flush_due`] from a timer). A
    /// change counts as acknowledged only once its batch commits; its [`super::Receipt`] says so.
    ///
    /// Natively, a batch that falls due while changes are being made commits on a background
    /// thread, so that the SQLite transaction and its `fsync` do not stall the caller: `flush`
    /// waits for it and returns its receipts, and every other use of the store finishes it
    /// first. In WebAssembly every batch commits on the caller's thread.
    Group {
        /// Largest batch.
        max_changes: usize,
        /// Longest a change waits for its batch.
        max_delay: Duration,
    },
}

impl Durability {
    /// Group commit with batches of up to 1,024 changes or 10 ms. The delay bounds how long
    /// a change waits for its acknowledgement; the count only bounds a batch in a burst (a
    /// paste, an import), where 1,024 lets the 10 ms decide instead of committing every
    /// couple of milliseconds (B1: about 7% faster than 256 with `synchronous=FULL`).
    pub fn group() -> Self {
        Durability::Group {
            max_changes: 1_024,
            max_delay: Duration::from_millis(10),
        }
    }
}

/// Settings of a replica.
#[derive(Debug, Clone)]
pub struct RepoConfig {
    /// How text positions are counted (UTF-16 for JavaScript hosts).
    pub text_units: TextUnits,
    /// When local changes are committed.
    pub durability: Durability,
    /// SQLite settings.
    pub store: StoreOptions,
    /// Most remote changes that may wait for missing dependencies at once.
    pub max_pending_changes: usize,
    /// Most bytes of remote changes that may wait for missing dependencies at once.
    pub max_pending_bytes: usize,
    /// A label shown to peers (a host name, "relay").
    pub label: String,
    /// An identity an in-memory replica takes over from the replicas that held it before
    /// (a browser tab slot): `None` (the default) makes a new one. In-memory replicas only
    /// ([`super::Repo::in_memory`]); the other constructors refuse it.
    pub lease: Option<Lease>,
}

/// An identity leased by an in-memory replica that stands for a long-lived writer, so that
/// short-lived replicas (page loads) do not each add a new device to their peers' tables and a
/// new actor to the documents they write.
///
/// The leased actor wrote before, in earlier replicas: its next sequence number in a document
/// is safe to hand out only where this replica holds every change it ever made to that
/// document. So the replica writes a document as the leased actor only after the host claims
/// it for that document ([`super::Repo::claim_actor`]); until then it writes as its own new
/// actor. Two replicas must never hold one lease at once (the npm package leases tab slots
/// with Web Locks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The device id this replica presents to its peers.
    pub device: DeviceId,
    /// The actor to write as where claimed: 1 to 64 bytes (the longest a version token names).
    pub actor: ActorId,
}

impl Default for RepoConfig {
    fn default() -> Self {
        Self {
            text_units: TextUnits::default(),
            durability: Durability::Immediate,
            store: StoreOptions::default(),
            max_pending_changes: 10_000,
            max_pending_bytes: 64 << 20,
            label: String::new(),
            lease: None,
        }
    }
}
