//! Errors of the sync layer.

use thiserror::Error;

use crate::DocId;
use crate::store::StoreError;

use super::WireError;

/// Why a sync step failed. The replica is unchanged by a failed step.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A frame could not be decoded.
    #[error("bad frame from peer: {0}")]
    Wire(#[from] WireError),
    /// The peer speaks no protocol version we do.
    #[error(
        "the peer speaks sync protocol versions {theirs_min}..={theirs_max}, we speak {ours_min}..={ours_max}: upgrade the older side"
    )]
    Incompatible {
        /// Lowest version the peer speaks.
        theirs_min: u8,
        /// Highest version the peer speaks.
        theirs_max: u8,
        /// Lowest version we speak.
        ours_min: u8,
        /// Highest version we speak.
        ours_max: u8,
    },
    /// A message arrived before the peer's hello, or a second hello arrived.
    #[error("protocol violation: {what}; reconnect to start a new exchange")]
    Protocol {
        /// What the peer did wrong.
        what: &'static str,
    },
    /// A change's bytes are not an automerge change, or its envelope disagrees with them.
    #[error("invalid change for document {doc}: {reason}; the peer sent corrupt data")]
    InvalidChange {
        /// Its document.
        doc: DocId,
        /// What is wrong with it.
        reason: String,
    },
    /// Too many changes are waiting for dependencies that never arrived.
    #[error(
        "{waiting} changes already wait for missing dependencies (limit {limit}); the peer is sending changes out of order or withholding their dependencies"
    )]
    PendingOverflow {
        /// How many wait.
        waiting: usize,
        /// The limit.
        limit: usize,
    },
    /// The peer refused something we sent.
    #[error("the peer refused: {message}")]
    Refused {
        /// Why, as a code.
        code: super::RefusalCode,
        /// The document concerned.
        doc: Option<DocId>,
        /// The peer's explanation.
        message: String,
    },
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The local replica failed to apply a change.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// A host's own storage failed (the relay's database, for example).
    #[error("storage failed: {source}")]
    Host {
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
