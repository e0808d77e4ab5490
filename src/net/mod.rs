//! Native networking (feature `net`): keep a [`Repo`](crate::Repo) in sync with a relay or
//! a peer over WebSocket.
//!
//! - [`SyncClient`] connects to a relay (or a peer serving with [`serve`]), resumes from its
//!   cursor, streams local changes as they are made, reconnects with exponential backoff after
//!   network loss, and reports its [`ClientState`] and the relay's durability receipts.
//! - [`serve`] accepts peers on a TCP listener (two laptops on a LAN, no relay), over plain
//!   `ws://` or, given a [`TlsIdentity`] in its [`ServeConfig`], over `wss://`.
//!
//! The replica is shared as `Arc<Mutex<Repo>>`: the application edits it through
//! [`SyncClient::change`] (or locks it directly and then calls [`SyncClient::notify`]), and
//! every connection locks it briefly to apply what arrives. A device may run a client to a
//! relay and peer connections at the same time: changes are idempotent, nothing is applied
//! twice.
//!
//! Session work runs on the Tokio worker that drives the connection, under the replica's lock;
//! it is short (a batch of changes and one SQLite commit).

mod client;
mod drive;
mod peer;
mod refusals;
mod tls;
mod tls_server;

use std::time::Duration;

use thiserror::Error;

pub use client::SyncClient;
pub use peer::{ServeConfig, serve};
#[cfg(feature = "relay")]
pub(crate) use tls_server::TlsListener;
pub use tls_server::{TlsIdentity, TlsIdentityError};

use crate::sync::{Interest, Limits};

/// Bytes a device's WebSocket reads from the socket at a time. tungstenite zeroes this much
/// before every read, so its default (128 KiB) costs a 128 KiB `memset` per small frame; a
/// frame larger than this is still read whole, in several reads.
pub const READ_BUFFER_BYTES: usize = 16 << 10;

/// The WebSocket settings of device connections (to a relay or between peers): reads of
/// [`READ_BUFFER_BYTES`], and frames and messages bounded by `limits`.
fn websocket_config(limits: &Limits) -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(Some(limits.max_frame_bytes))
        .max_frame_size(Some(limits.max_frame_bytes))
}

/// Most refusal messages a [`SyncClient`] keeps (see [`SyncClient::refused`]).
pub const MAX_REFUSALS_KEPT: usize = 100;

/// Where a client stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Opening a connection.
    Connecting,
    /// Connected; changes still flow to catch one side up.
    CatchingUp,
    /// Connected, and both sides hold everything the other had.
    InSync,
    /// Not connected (waiting to retry, stopped, or refused).
    Offline,
}

/// [`ClientConfig::ack_delay`]'s default. Someone typing makes a change every 150 to 200 ms,
/// so while they type, the acknowledgement of what the others typed travels with their own
/// next change; a device that only reads acknowledges 5 times a second, whatever it receives.
pub const DEFAULT_ACK_DELAY: Duration = Duration::from_millis(200);

/// How a [`SyncClient`] connects.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `ws://host:port/sync`, or `wss://host/sync` over TLS.
    pub url: String,
    /// PEM certificates to trust for `wss://` besides the public web roots: the relay's own
    /// certificate (or its CA's) when it is private or self-signed. Empty for none.
    pub trusted_certs_pem: Vec<u8>,
    /// Access token (empty for none).
    pub token: String,
    /// Documents to sync.
    pub interest: Interest,
    /// The relay's device id, if known from a previous run (saves half a round trip). When
    /// `None`, the client uses the most recently contacted peer labelled
    /// [`relay_label`](Self::relay_label), and then remembers the one it meets.
    pub peer_hint: Option<crate::DeviceId>,
    /// The label the relay introduces itself with.
    pub relay_label: String,
    /// First delay before reconnecting; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest delay between reconnection attempts.
    pub max_backoff: Duration,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
    /// Period of the ping, the group-commit flush and the safety poll.
    pub tick: Duration,
    /// How long the client's acknowledgement of the relay's log may wait to travel with a
    /// frame of its own ([`SessionConfig::ack_delay`](crate::sync::SessionConfig::ack_delay)).
    /// It never delays the relay's receipts for this replica's changes, nor any change: only
    /// how soon the relay learns how far this replica holds its log (its lag figure, and where
    /// it resumes after a disconnection).
    pub ack_delay: Duration,
    /// Frame decoding limits.
    pub limits: Limits,
}

impl ClientConfig {
    /// Defaults for connecting to `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            trusted_certs_pem: Vec::new(),
            token: String::new(),
            interest: Interest::All,
            peer_hint: None,
            relay_label: "polyarch-relay".into(),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            tick: Duration::from_secs(1),
            ack_delay: DEFAULT_ACK_DELAY,
            limits: Limits::default(),
        }
    }
}

/// Why a client call failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The change was not committed yet (under group commit): flush the replica first.
    #[error(
        "the change has no log offset yet: call Repo::flush (or use Durability::Immediate) before waiting for the relay"
    )]
    NotCommitted,
    /// The client stopped (closed, or refused by the relay) before the wait was over.
    #[error("the sync client stopped: {reason}")]
    Stopped {
        /// Why, if known.
        reason: String,
    },
    /// The relay refused to store changes to this document (the token may only read it).
    /// The change stays in this replica.
    #[error(
        "the relay refused to store changes to document {doc}: this connection's token may only read it; connect with a read-write token for it"
    )]
    WriteRefused {
        /// The document.
        doc: crate::DocId,
    },
    /// The replica failed.
    #[error(transparent)]
    Repo(#[from] crate::Error),
    /// The replica's lock was poisoned by a panic in another thread.
    #[error("the replica's lock is poisoned: a thread panicked while holding it")]
    Poisoned,
    /// A network operation failed.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
}
