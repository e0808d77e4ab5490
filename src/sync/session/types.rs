//! What a [`Session`](super::Session) is configured with, and what it reports: its settings,
//! state, events and counters.

use std::time::Duration;

use crate::sync::wire::Limits;
use crate::sync::{Access, Interest, RefusalCode};
use crate::{DeviceId, DocId};

/// How a session behaves.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Documents we want to receive. Anything but [`Interest::All`] reconciles by version
    /// vectors on every connection instead of resuming from a cursor (the cursor would skip
    /// the history of documents followed later).
    pub interest: Interest,
    /// The device we expect on the other end, if we have met it before (lets the hello carry
    /// our cursor, saving half a round trip).
    pub peer_hint: Option<DeviceId>,
    /// Access token to present (empty for none).
    pub token: String,
    /// What the peer may read and write.
    pub access: Access,
    /// Frame decoding limits.
    pub limits: Limits,
    /// Aim for frames of about this many payload bytes when streaming.
    pub frame_bytes: usize,
    /// How long an acknowledgement of the peer's log may wait for a frame of ours to travel
    /// with (zero: acknowledge every stretch at once). Acknowledgements are cumulative, so one
    /// sent later covers every stretch received before it: a device that receives many small
    /// frames a second (live typing by others) sends one acknowledgement per frame of its own,
    /// in the same write, or one per delay while it only reads, instead of one per frame
    /// received. The stretches of our own log that hold only what the peer sent us (it does
    /// not need its own changes back) wait the same way: the next stretch with changes of ours
    /// covers them. An acknowledgement is never sent before what it covers is stored: waiting
    /// only makes it later. When one is owed, [`Session::due_ms`](super::Session::due_ms) says when to call
    /// [`Session::poll`](super::Session::poll) to send it.
    pub ack_delay: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            interest: Interest::All,
            peer_hint: None,
            token: String::new(),
            access: Access::full(),
            limits: Limits::default(),
            frame_bytes: 1 << 20,
            ack_delay: Duration::ZERO,
        }
    }
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Waiting for the peer's hello.
    Handshaking,
    /// Changes are still flowing to catch one side up.
    CatchingUp,
    /// Both sides hold each other's logs as far as is known.
    InSync,
}

/// Something the application may want to know about, taken with [`Session::take_events`](super::Session::take_events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The peer introduced itself.
    PeerHello {
        /// The peer.
        device: DeviceId,
        /// Its label.
        label: String,
    },
    /// The peer refused something we sent; the session goes on.
    Refused {
        /// Why.
        code: RefusalCode,
        /// The document concerned.
        doc: Option<DocId>,
        /// The peer's explanation.
        message: String,
    },
    /// We refused changes from the peer (it may not write this document).
    RefusedChanges {
        /// The document.
        doc: DocId,
    },
    /// The peer acknowledged holding our log through this offset.
    Acked {
        /// Our log offset.
        upto: u64,
    },
    /// The peer showed that this store was restored from an older copy.
    RestoredFromBackup,
}

/// Counters for status displays and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Frames received.
    pub frames_in: u64,
    /// Frames produced.
    pub frames_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes produced.
    pub bytes_out: u64,
    /// Changes received.
    pub changes_in: u64,
    /// Changes sent.
    pub changes_out: u64,
    /// Snapshots sent.
    pub snapshots_out: u64,
    /// Whether the exchange fell back to comparing version vectors.
    pub full_resync: bool,
    /// Last time a frame arrived (ms since the Unix epoch).
    pub last_contact_ms: u64,
}
