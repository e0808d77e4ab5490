#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod codec;
mod error;
mod ids;
mod interest;
pub mod model;
#[cfg(feature = "net")]
pub mod net;
#[cfg(feature = "relay")]
pub mod relay;
mod repo;
pub mod store;
pub mod sync;
mod version;

pub use error::Error;
pub use ids::{DeviceId, DocId, Epoch, IdError, IntoDocId, MAX_DOC_ID_LEN};
pub use model::{
    Conflict, Doc, DocView, ModelError, Patch, PatchAction, Path, Seg, TextUnits, Tx, Value,
};
pub use repo::{
    Committed, DocEvent, DocStatus, Durability, Lease, Origin, PeerStatus, Receipt, ReceiptStatus,
    ReplicationStatus, Repo, RepoConfig, SubscriptionId,
};
pub use store::{StoreError, StoreOptions};
pub use version::{TokenError, VersionVector};

/// Automerge, the CRDT engine under Polyarch, for callers that need its types
/// (`ActorId`, `ChangeHash`).
pub use automerge;
