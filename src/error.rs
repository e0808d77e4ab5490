//! The umbrella error of the public API.

use thiserror::Error;

use crate::{DocId, IdError, ModelError, StoreError, TokenError, sync::SyncError};

/// Anything a [`crate::Repo`] call can fail with. Each layer's own error is inside.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A malformed identifier.
    #[error(transparent)]
    Id(#[from] IdError),
    /// A document edit or read failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The SQLite store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Syncing failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// A version token could not be read.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The document does not exist in this replica.
    #[error(
        "document {doc} does not exist in this replica: create it with Repo::create or sync it from a peer"
    )]
    NoSuchDoc {
        /// The document asked for.
        doc: DocId,
    },
}
