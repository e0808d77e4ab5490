//! The relay: a server that stores and forwards changes for devices that are not online at
//! the same time (feature `relay`).
//!
//! Start one in-process with [`run`] (tests bind `127.0.0.1:0`), or with the `polyarch-relay`
//! binary. Devices connect over WebSocket at `/sync`; every binary message is one protocol
//! frame ([`crate::sync::wire`]). `/healthz` answers `ok`; `/metrics` serves Prometheus text.
//!
//! ## Threads
//! - **Tokio** runs the HTTP server and one task per connection. The task decodes frames (in
//!   parallel across connections), checks the first frame's token, and forwards decoded
//!   messages to the core; it writes what the core sends back. At most
//!   [`RelayConfig::max_inflight_frames`] frames per connection wait for the core, so a
//!   flooding client only slows itself.
//! - **The core** is one plain thread that owns the store connection and every connection's
//!   [`Session`](crate::sync::Session), like Redis's single-threaded core: no locks around
//!   sessions, and a natural **group commit**. It takes every message waiting, lets each
//!   session handle its own (accepted changes are staged, frames held), commits the whole batch
//!   in one transaction, then releases the held frames (acknowledgements included) and wakes
//!   the sessions following the documents that changed. Nothing is acknowledged before it is
//!   durable.
//! - **The compactor** is a thread with its own store connection that folds long document
//!   histories into automerge snapshots.
//! - With PostgreSQL, **a listener** thread waits for `NOTIFY polyarch_log` from other relays
//!   over the same database and wakes the core; the core also checks the log head every
//!   [`RelayConfig::poll_interval`] as a safety net.
//!
//! Each connection has a bounded outbound queue: the core never blocks on a client. Catch-up
//! streaming pauses when a client's queue is half full and resumes as it drains; a client that
//! lets its queue pass [`RelayConfig::max_outbound_bytes`] is cut off.

mod checkpoint;
mod compact;
mod core;
mod host;
mod metrics;
mod server;
pub mod store;
mod tail;
pub mod token;

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::sync::Limits;

pub use crate::net::TlsIdentity;
pub use metrics::Metrics;
pub use server::{run, run_with_metrics};
pub use store::{RelayStore, RelayStoreError};
pub use token::{Claims, Rights, TokenError};

/// Where the relay keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://user@host:port/db`).
    Postgres(String),
}

impl Storage {
    /// Parses `sqlite:PATH` or `postgres://...` / `postgresql://...`.
    pub fn parse(spec: &str) -> Result<Self, RelayError> {
        if let Some(path) = spec.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(RelayError::Config {
                    what: "database",
                    reason: "sqlite: needs a file path, as in sqlite:/var/lib/polyarch/relay.db"
                        .into(),
                });
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            return Ok(Self::Postgres(spec.to_string()));
        }
        Err(RelayError::Config {
            what: "database",
            reason: format!("{spec:?} is neither sqlite:PATH nor postgres://..."),
        })
    }

    /// Opens a new connection to the storage.
    pub fn open(&self, full_sync: bool) -> Result<Box<dyn RelayStore>, RelayStoreError> {
        Ok(match self {
            Storage::Sqlite(path) => Box::new(store::SqliteStore::open(path, full_sync)?),
            Storage::Postgres(url) => Box::new(store::PgStore::connect(url)?),
        })
    }
}

/// How a relay runs. [`RelayConfig::new`] gives sensible defaults for everything but the
/// storage.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Where data lives.
    pub storage: Storage,
    /// The secret tokens are signed with; `None` serves everyone with full rights (for tests
    /// and private networks only).
    pub secret: Option<Vec<u8>>,
    /// The label the relay introduces itself with.
    pub label: String,
    /// Frame decoding limits (max frame size, changes per frame, ...).
    pub limits: Limits,
    /// Largest change accepted, in bytes.
    pub max_change_bytes: usize,
    /// Largest snapshot accepted from a device, in bytes.
    pub max_snapshot_bytes: usize,
    /// Most changes per connection waiting for missing dependencies.
    pub max_pending_changes: usize,
    /// Most bytes per connection waiting for missing dependencies.
    pub max_pending_bytes: usize,
    /// Most simultaneous connections; more are turned away with HTTP 503.
    pub max_connections: usize,
    /// A connection that sends nothing (not even a ping) for this long is closed.
    pub idle_timeout: Duration,
    /// Bytes a connection may have waiting to be sent. Streaming to it pauses at half of
    /// this until it drains; past all of it, the connection is cut off as too slow.
    pub max_outbound_bytes: usize,
    /// A frame that cannot be written for this long (the client stopped reading) ends the
    /// connection.
    pub write_timeout: Duration,
    /// Frames per connection waiting for the core.
    pub max_inflight_frames: usize,
    /// Aim for outgoing frames of about this many payload bytes.
    pub frame_bytes: usize,
    /// Compact a document once this many changes are logged after its snapshot (0: never).
    pub compact_after: u64,
    /// Log entries kept in memory for live fan-out.
    pub tail_entries: usize,
    /// Bytes of log entries kept in memory for live fan-out.
    pub tail_bytes: usize,
    /// SQLite `synchronous=FULL` (survives power loss) rather than `NORMAL` (survives a crash).
    pub full_sync: bool,
    /// How often the core checks the store's log head (a safety net for missed notifications).
    pub poll_interval: Duration,
    /// How long a graceful shutdown waits for connections to finish.
    pub shutdown_timeout: Duration,
    /// Serve TLS (`wss://`, `https://`) with this identity; `None` serves plain TCP (behind a
    /// TLS-terminating proxy, or on a private network).
    pub tls: Option<TlsIdentity>,
}

impl RelayConfig {
    /// Defaults for a relay storing its data in `storage`.
    pub fn new(storage: Storage) -> Self {
        Self {
            storage,
            secret: None,
            label: "polyarch-relay".into(),
            limits: Limits {
                max_frame_bytes: 8 << 20,
                max_decompressed_bytes: 32 << 20,
                max_changes_per_frame: 20_000,
                max_docs_per_frame: 20_000,
                max_actors_per_frame: 100_000,
            },
            max_change_bytes: 1 << 20,
            max_snapshot_bytes: 8 << 20,
            max_pending_changes: 10_000,
            max_pending_bytes: 16 << 20,
            max_connections: 20_000,
            idle_timeout: Duration::from_secs(120),
            max_outbound_bytes: 32 << 20,
            write_timeout: Duration::from_secs(30),
            max_inflight_frames: 8,
            frame_bytes: 256 << 10,
            compact_after: 2_000,
            tail_entries: 200_000,
            tail_bytes: 64 << 20,
            full_sync: true,
            poll_interval: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(10),
            tls: None,
        }
    }
}

/// Why the relay could not start or stopped with an error.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] RelayStoreError),
    /// A setting is invalid.
    #[error("invalid {what}: {reason}")]
    Config {
        /// Which setting.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A token could not be made or checked.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The network failed.
    #[error("network error while {op}: {source}")]
    Io {
        /// What the relay was doing.
        op: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The relay's core thread stopped unexpectedly.
    #[error("the relay core stopped: {reason}; see the log for the cause")]
    CoreStopped {
        /// What is known.
        reason: String,
    },
}
