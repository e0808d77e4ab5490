//! Subscriptions: listeners implemented in the host language, called on Polyarch's event
//! thread; and the notifiers that tell relay clients about local changes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, Weak};

use polyarch::{DocEvent, DocId, Origin, SubscriptionId};

use crate::error::PolyarchError;
use crate::replica::Replica;

/// What changed in one document: after a local change commits, or after changes from a peer
/// are durably applied.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DocChange {
    /// The document.
    pub doc: String,
    /// The device the change came from (hex), or `None` for a change made on this replica.
    pub peer: Option<String>,
    /// What changed, path by path, as JSON (the core's `Patch` list).
    pub patches_json: String,
}

impl From<&DocEvent> for DocChange {
    fn from(e: &DocEvent) -> Self {
        Self {
            doc: e.doc.to_string(),
            peer: match e.origin {
                Origin::Local => None,
                Origin::Remote { peer } => Some(peer.to_string()),
            },
            patches_json: serde_json::to_string(&e.patches).unwrap_or_else(|_| "[]".into()),
        }
    }
}

/// Implemented by the app to hear about changes. Called on Polyarch's event thread (one per
/// replica), one change at a time, in commit order; it may call back into the replica. An
/// exception it raises is dropped (and does not stop later events).
#[uniffi::export(with_foreign)]
pub trait DocListener: Send + Sync {
    /// A document changed.
    fn on_change(&self, change: DocChange);
}

type Job = Box<dyn FnOnce() + Send>;

/// The replica's event thread, started by the first subscription.
#[derive(Default)]
pub(crate) struct EventThread {
    sender: Mutex<Option<Sender<Job>>>,
}

impl EventThread {
    /// A way to queue work on the thread (starting it if needed).
    fn sender(&self) -> Result<Sender<Job>, PolyarchError> {
        let mut slot = self.sender.lock().map_err(|_| PolyarchError::poisoned())?;
        if let Some(tx) = slot.as_ref() {
            return Ok(tx.clone());
        }
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("polyarch-events".into())
            .spawn(move || {
                // Ends when every sender is gone: the replica and its subscriptions dropped.
                for job in rx {
                    let _ = catch_unwind(AssertUnwindSafe(job));
                }
            })
            .map_err(|e| PolyarchError::failed("THREAD", format!("cannot start a thread: {e}")))?;
        *slot = Some(tx.clone());
        Ok(tx)
    }
}

/// Callbacks run after every local change made through the bindings (relay clients stream
/// the change at once instead of at their next tick).
#[derive(Default)]
pub(crate) struct Notifiers {
    list: Mutex<Vec<Weak<dyn Fn() + Send + Sync>>>,
}

impl Notifiers {
    /// Adds a notifier; it is dropped from the list once its `Arc` is gone.
    pub(crate) fn add(&self, notifier: &Arc<dyn Fn() + Send + Sync>) {
        if let Ok(mut list) = self.list.lock() {
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(notifier));
        }
    }

    /// Calls every live notifier.
    pub(crate) fn notify(&self) {
        let live: Vec<_> = match self.list.lock() {
            Ok(list) => list.iter().filter_map(Weak::upgrade).collect(),
            Err(_) => return,
        };
        for notifier in live {
            notifier();
        }
    }
}

/// A live subscription: call [`cancel`](Self::cancel) to stop it (dropping it does not).
#[derive(uniffi::Object)]
pub struct Subscription {
    replica: Weak<Replica>,
    id: Mutex<Option<SubscriptionId>>,
}

#[uniffi::export]
impl Subscription {
    /// Stops the listener (events already queued may still arrive). Returns whether it was
    /// still active.
    pub fn cancel(&self) -> bool {
        let Some(id) = self.id.lock().ok().and_then(|mut id| id.take()) else {
            return false;
        };
        let Some(replica) = self.replica.upgrade() else {
            return false;
        };
        replica.lock().is_ok_and(|mut r| r.unsubscribe(id))
    }
}

#[uniffi::export]
impl Replica {
    /// Calls `listener` after every change to `doc` (every document with `None`), local or
    /// from a peer, on the replica's event thread.
    pub fn subscribe(
        self: Arc<Self>,
        doc: Option<String>,
        listener: Arc<dyn DocListener>,
    ) -> Result<Arc<Subscription>, PolyarchError> {
        let doc = doc
            .map(DocId::new)
            .transpose()
            .map_err(polyarch::Error::from)?;
        let sender = self.events.sender()?;
        let id = self.lock()?.subscribe(doc.as_ref(), move |event| {
            let change = DocChange::from(event);
            let listener = listener.clone();
            // The receiver only stops when the replica is gone; nothing to do then.
            let _ = sender.send(Box::new(move || listener.on_change(change)));
        });
        Ok(Arc::new(Subscription {
            replica: Arc::downgrade(&self),
            id: Mutex::new(Some(id)),
        }))
    }
}
