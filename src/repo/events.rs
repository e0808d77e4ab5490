//! Subscriptions: being told what changed in a document.

use crate::model::Patch;
use crate::{DeviceId, DocId};

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Origin {
    /// Made on this replica.
    Local,
    /// Received from a peer.
    Remote {
        /// The peer that sent it.
        #[serde(serialize_with = "crate::repo::events::device_hex")]
        peer: DeviceId,
    },
}

/// What changed in one document, delivered to subscribers after a local change or after
/// remote changes were durably applied, never in the middle of either. Every change is
/// delivered, even one whose `patches` are empty (resolving a register's conflict by writing
/// its winning value changes `conflicts()`, not the value).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocEvent {
    /// The document.
    pub doc: DocId,
    /// Where the change came from.
    pub origin: Origin,
    /// What changed, path by path.
    pub patches: Vec<Patch>,
}

/// Identifies a subscription, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

type Callback = Box<dyn FnMut(&DocEvent) + Send>;

struct Subscription {
    id: SubscriptionId,
    doc: Option<DocId>,
    /// Whether the callback wants the patches (else its events carry none, and a change
    /// that only such subscribers hear of costs no patch computation).
    patches: bool,
    callback: Callback,
}

/// The subscribers of one replica.
#[derive(Default)]
pub(crate) struct Subscribers {
    next: u64,
    subs: Vec<Subscription>,
}

impl Subscribers {
    pub(crate) fn add(
        &mut self,
        doc: Option<DocId>,
        patches: bool,
        callback: Callback,
    ) -> SubscriptionId {
        self.next += 1;
        let id = SubscriptionId(self.next);
        self.subs.push(Subscription {
            id,
            doc,
            patches,
            callback,
        });
        id
    }

    pub(crate) fn remove(&mut self, id: SubscriptionId) -> bool {
        let before = self.subs.len();
        self.subs.retain(|s| s.id != id);
        self.subs.len() != before
    }

    /// Whether anyone listens to `doc`.
    pub(crate) fn any(&self, doc: &DocId) -> bool {
        self.subs
            .iter()
            .any(|s| s.doc.as_ref().is_none_or(|d| d == doc))
    }

    /// Whether anyone listening to `doc` wants patches (so they are worth computing).
    pub(crate) fn wants_patches(&self, doc: &DocId) -> bool {
        self.subs
            .iter()
            .any(|s| s.patches && s.doc.as_ref().is_none_or(|d| d == doc))
    }

    pub(crate) fn notify(&mut self, event: &DocEvent) {
        let mut bare: Option<DocEvent> = None;
        for sub in &mut self.subs {
            if sub.doc.as_ref().is_some_and(|d| *d != event.doc) {
                continue;
            }
            if sub.patches || event.patches.is_empty() {
                (sub.callback)(event);
            } else {
                let bare = bare.get_or_insert_with(|| DocEvent {
                    doc: event.doc.clone(),
                    origin: event.origin,
                    patches: Vec::new(),
                });
                (sub.callback)(bare);
            }
        }
    }
}

pub(crate) fn device_hex<S: serde::Serializer>(d: &DeviceId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}
