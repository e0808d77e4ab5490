//! Polyarch for Swift, Kotlin and Python, through UniFFI (proc-macros, no UDL).
//!
//! - [`Replica`]: one device's replica (a SQLite file, memory, or an image), its documents, and
//!   handles to the typed CRDTs in them: [`Register`] (conflicts listed and resolvable),
//!   [`Counter`], [`OrSet`], [`Text`], [`MapHandle`], [`ListHandle`].
//! - [`DocListener`]: subscriptions, implemented in the host language.
//! - [`SyncSession`]: the sans-IO sync protocol for a transport of the app's own (bytes in,
//!   bytes out).
//! - [`RelayClient`]: keeps a replica in sync with a relay over WebSocket, with durability
//!   receipts.
//! - [`PolyarchError`]: every failure, with a stable code, raised as the host's exception.
//!
//! ## What runs where
//! Every object is `Send + Sync`: a replica is one `Mutex<Repo>`, so calls from several host
//! threads take turns and never interleave inside a change. Calls run on the caller's thread
//! and return once done (a change returns once committed to SQLite). Listeners run on
//! Polyarch's own event thread (one per replica), one event at a time, in commit order, after
//! the change committed: they may call back into the replica, and a slow listener delays only
//! later events. A relay client runs its connection on its own network thread.
#![deny(missing_docs)]

uniffi::setup_scaffolding!();

mod error;
mod events;
mod handles;
mod relay;
mod replica;
mod session;
mod value;

pub use error::PolyarchError;
pub use events::{DocChange, DocListener, Subscription};
pub use handles::{Counter, ListHandle, MapHandle, OrSet, Register, Text};
pub use relay::{ConnectionState, RelayClient};
pub use replica::{Conflict, Receipt, ReceiptStatus, Replica};
pub use session::SyncSession;
pub use value::Value;
