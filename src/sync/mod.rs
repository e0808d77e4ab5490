//! The sync layer: the replication protocol as a state machine with no I/O.
//!
//! Each side of a connection keeps a [`Session`]. The transport (a WebSocket, a
//! `BroadcastChannel`, a test network) only moves the frames the session hands out; the
//! session never touches a socket, a timer or a thread.
//!
//! ```
//! use polyarch::{Repo, RepoConfig};
//! use polyarch::sync::{Session, SessionConfig};
//!
//! # fn main() -> Result<(), polyarch::Error> {
//! let mut laptop = Repo::in_memory(RepoConfig::default())?;
//! let mut phone = Repo::in_memory(RepoConfig::default())?;
//! laptop.change("cal", |tx| tx.register("title").set("Offsite"))?;
//! phone.change("cal", |tx| tx.counter("rsvps").increment(2))?;
//!
//! // Connect them: start both sessions, then deliver frames until neither has more to say.
//! let mut a = Session::new(SessionConfig::default());
//! let mut b = Session::new(SessionConfig::default());
//! let mut to_b = a.start(&mut laptop)?;
//! let mut to_a = b.start(&mut phone)?;
//! while !to_a.is_empty() || !to_b.is_empty() {
//!     let mut next_to_a = Vec::new();
//!     for frame in to_b.drain(..) {
//!         next_to_a.extend(b.receive(&mut phone, &frame)?);
//!     }
//!     let mut next_to_b = Vec::new();
//!     for frame in to_a.drain(..) {
//!         next_to_b.extend(a.receive(&mut laptop, &frame)?);
//!     }
//!     to_a = next_to_a;
//!     to_b = next_to_b;
//! }
//! assert_eq!(laptop.to_json("cal")?, phone.to_json("cal")?);
//! # Ok(())
//! # }
//! ```
//!
//! ## The exchange
//! Every store numbers the changes it stores, local or received, in a log (see
//! [`crate::store`]). Both sides open with a [`Hello`] naming their device, their store's epoch,
//! their log head and, when they remember it, how far they already hold the other side's log
//! (a [`Cursor`]). Each direction then runs on its own:
//! - **Resume.** If the cursor's epoch is the sender's current epoch and the offset is within its
//!   log, the sender streams its log after the offset (skipping changes that came from the
//!   receiver itself, and documents the receiver does not want or may not read). The cost is
//!   what changed since, not how many documents there are. Documents compacted after the cursor
//!   go as snapshots first.
//! - **Full resync.** Otherwise (a new peer, a wiped or replaced store, a store restored from a
//!   backup) the receiver sends a [`Message::Summary`] of its version vector per document and the
//!   sender sends exactly the changes missing, in causal order, with a snapshot where history was
//!   compacted, then `Changes { upto: head }`, after which it streams as in a resume.
//!
//! The receiver applies changes in causal order (a change whose dependencies are missing waits
//! in a bounded queue), durably, and then acknowledges with [`Message::Ack`] (at once, or up to
//! [`SessionConfig::ack_delay`] later, with a frame of its own); it remembers the
//! sender's log offset only up to where everything is applied. A valid cursor (in a hello or a
//! `Resume`) acknowledges the log up to it as well: the peer says it holds that much. Delivering a frame twice, or the
//! same change by two paths, changes nothing. When both hellos carry cursors, catching up takes
//! one round trip.

mod access;
mod error;
mod host;
mod local;
mod message;
mod session;
pub mod wire;

pub use access::{Access, Scope};
pub use error::SyncError;
pub use host::{Applied, ChangeFate, HostIdentity, SyncHost, checked_change, parse_change};
pub use local::{Exchange, run_until_quiet};
pub use message::{
    Cursor, Hello, Interest, Message, RefusalCode, Stretch, WireChange, WireSnapshot,
};
pub use session::{
    MAX_EVENTS, PROTOCOL_VERSION, Session, SessionConfig, SessionEvent, SessionState, SessionStats,
};
pub use wire::{Limits, WireError};
