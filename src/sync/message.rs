//! The protocol's messages, as values. Their binary form is in [`super::wire`].

use automerge::ActorId;

use crate::{DeviceId, DocId, Epoch, VersionVector};

/// "I have your log up to `offset` under your epoch `epoch`."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The epoch of the store whose log this is.
    pub epoch: Epoch,
    /// How far that log is held.
    pub offset: u64,
}

/// A stretch `(from, to]` of a sender's log. `from == 0` means from the very beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stretch {
    /// The offset the stretch starts after.
    pub from: u64,
    /// The last offset it covers.
    pub to: u64,
}

pub use crate::interest::Interest;

/// The first message each side sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Lowest and highest protocol versions the sender speaks.
    pub versions: (u8, u8),
    /// The sender's device.
    pub device: DeviceId,
    /// The sender's store epoch.
    pub epoch: Epoch,
    /// The sender's log head (highest offset).
    pub head: u64,
    /// A human label for status displays ("relay", a host name).
    pub label: String,
    /// How far the sender already has the receiver's log, if it remembers.
    pub resume: Option<Cursor>,
    /// What the sender wants to receive.
    pub interest: Interest,
    /// An access token for servers that require one (empty when none).
    pub token: String,
}

/// One change in transit. The envelope (document, writer, sequence number, log offset) is kept
/// apart from the payload (automerge change bytes), so a relay can route and store changes
/// without reading them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireChange {
    /// Its document.
    pub doc: DocId,
    /// Its writer.
    pub actor: ActorId,
    /// Its sequence number for that writer.
    pub seq: u64,
    /// Its offset in the sender's log (0 when it is not from the sender's log stream).
    pub offset: u64,
    /// The automerge change bytes.
    pub bytes: Vec<u8>,
}

/// A document's compacted history, sent when changes a peer needs exist only in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireSnapshot {
    /// Its document.
    pub doc: DocId,
    /// The automerge snapshot (compact save) bytes.
    pub bytes: Vec<u8>,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// The token was missing, malformed, forged or for another server.
    Unauthorized,
    /// The token has expired.
    Expired,
    /// The token does not allow this document, or allows only reading it.
    Forbidden,
    /// The message was malformed or broke a limit.
    BadRequest,
    /// The other side is overloaded or shutting down; retry later.
    Unavailable,
}

/// A protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Opens the exchange.
    Hello(Hello),
    /// Changes, in causal order. `stretch`, when set, means: these are all the changes of my
    /// log in `(from, to]` that you want; if you held my log through `from` (or `from` is 0),
    /// you now hold it through `to`.
    Changes {
        /// The changes.
        changes: Vec<WireChange>,
        /// The stretch of the sender's log these complete, if they do.
        stretch: Option<Stretch>,
    },
    /// Compacted histories; followed by the changes logged after them.
    Snapshots(Vec<WireSnapshot>),
    /// The sender's version vector per document, so the receiver can send what is missing.
    /// Sent when a cursor cannot be honoured. `last` marks the final part of a summary.
    Summary {
        /// Documents and what the sender has of each.
        docs: Vec<(DocId, VersionVector)>,
        /// Whether this is the final part.
        last: bool,
    },
    /// "I have your log up to this cursor": sent after the hellos when the sender could not
    /// name the cursor in its hello (it did not know who it was talking to).
    Resume(Cursor),
    /// "Your cursor cannot be honoured (other epoch, log went backwards or was compacted past
    /// it): send me your summary instead."
    NeedSummary,
    /// "I have durably stored your log through `upto`."
    Ack {
        /// The acknowledged offset of the receiver's log.
        upto: u64,
    },
    /// A request was refused; the connection stays usable.
    Refused {
        /// Why.
        code: RefusalCode,
        /// The document concerned, if any.
        doc: Option<DocId>,
        /// What the user should do.
        message: String,
    },
}
