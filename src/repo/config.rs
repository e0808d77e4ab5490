//! How a [`super::Repo`] is set up.

use std::time::Duration;

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
    Group {
        /// Largest batch.
        max_changes: usize,
        /// Longest a change waits for its batch.
        max_delay: Duration,
    },
}

impl Durability {
    /// Group commit with batches of up to 256 changes or 10 ms.
    pub fn group() -> Self {
        Durability::Group {
            max_changes: 256,
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
        }
    }
}
