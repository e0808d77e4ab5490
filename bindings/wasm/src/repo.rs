//! `Repo`: one device's replica, as JavaScript sees it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex};

use js_sys::{Array, Function, Uint8Array};
use polyarch::sync::Interest;
use polyarch::{DocEvent, DocId, Durability, Path, RepoConfig, SubscriptionId, TextUnits};
use wasm_bindgen::prelude::*;

use crate::convert;
use crate::error::{self, BindingError};
use crate::gathering::{self, Gathering, Held};
use crate::handles::{
    CounterHandle, ListHandle, MapHandle, RegisterHandle, SetHandle, Target, TextHandle,
};
use crate::storage::{self, Storage};
use crate::transaction::{Op, Transaction};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str, error: &JsValue);
}

/// Events queued by the core's subscriptions (which must be `Send`), delivered to the JS
/// listeners once the core call has returned.
type Queue = Arc<Mutex<Vec<(u32, DocEvent)>>>;

/// What a `Repo` and its handles and sessions share.
pub(crate) struct Shared {
    repo: RefCell<Option<polyarch::Repo>>,
    queue: Queue,
    listeners: RefCell<HashMap<u32, (SubscriptionId, Function)>>,
    next_listener: RefCell<u32>,
    on_error: Option<Function>,
    /// Itself, for the group-commit timer's callback.
    me: Weak<Shared>,
    /// Whether a timer is set to commit the changes waiting for their group.
    flush_timer: Cell<bool>,
    /// Text splices held back under group commit (see [`gathering`](crate::gathering)).
    held: RefCell<Held>,
    /// A text known to hold only characters one UTF-16 unit wide, so that gathering its
    /// splices needs no read of it. Forgotten at every use of the replica but gathering's own.
    narrow: RefCell<Option<(DocId, Path)>>,
}

impl Shared {
    /// Runs `f` on the core repo, then delivers the events it queued.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut polyarch::Repo) -> Result<T, JsValue>,
    ) -> Result<T, JsValue> {
        let result = {
            let mut guard = self
                .repo
                .try_borrow_mut()
                .map_err(|_| JsValue::from(BindingError::RepoBusy))?;
            let repo = guard.as_mut().ok_or(BindingError::Closed)?;
            self.narrow.take();
            let result = self.make_held(repo).and_then(|()| f(repo));
            self.arm_flush_timer(repo);
            result
        };
        self.dispatch();
        result
    }

    /// One atomic change of recorded `ops`; returns its receipt (or `null` if it changed
    /// nothing). Under group commit, a change that only splices one text may be gathered with
    /// the ones before it (see [`gathering`](crate::gathering)).
    pub(crate) fn change(&self, doc: DocId, ops: Vec<Op>) -> Result<JsValue, JsValue> {
        let splices = gathering::text_splices(&ops);
        if let Some((path, splices)) = &splices
            && let Some(receipt) = self.gather(&doc, path, splices)?
        {
            return Ok(receipt);
        }
        let narrow_kept = match (&splices, &*self.narrow.borrow()) {
            (Some((path, splices)), Some((d, p))) => {
                *d == doc && p == *path && splices.iter().all(|s| gathering::narrow(s.2))
            }
            _ => false,
        };
        let splice_path = splices.map(|(path, _)| path.clone());
        let made = self.with(|r| {
            let done = r
                .change(&doc, |t| ops.iter().try_for_each(|op| op.apply(t)))
                .map_err(error::core)?;
            let Some(receipt) = done.receipt else {
                return Ok(JsValue::NULL);
            };
            if let Some(path) = splice_path
                && gathering::limits(r.config().durability).is_some()
                && !r.is_watched(&doc)
            {
                *self.held.borrow_mut() = Held::Armed {
                    doc: doc.clone(),
                    path,
                    seq: receipt.seq + 1,
                };
            }
            Ok(convert::receipt(&receipt))
        });
        if narrow_kept && made.is_ok() {
            *self.narrow.borrow_mut() = splice_path_of(&ops).map(|p| (doc, p));
        }
        made
    }

    /// Gathers a transaction's splices of the text at `path` when it can: returns its receipt,
    /// or `None` to make the change as usual.
    fn gather(
        &self,
        doc: &DocId,
        path: &Path,
        splices: &[gathering::SpliceArgs<'_>],
    ) -> Result<Option<JsValue>, JsValue> {
        let mut held = self.held.borrow_mut();
        let receipt = match &mut *held {
            Held::Gathering(g) if g.continues(doc, path) => {
                if !g.run.push(splices) {
                    return Ok(None);
                }
                let receipt = g.receipt();
                let due = g.due();
                drop(held);
                if due {
                    // Only the gathered splices are made: the text stays narrow.
                    let narrow = self.narrow.take();
                    self.with(|r| r.flush().map(drop).map_err(error::core))?;
                    *self.narrow.borrow_mut() = narrow;
                }
                return Ok(Some(receipt));
            }
            Held::Armed {
                doc: d, path: p, ..
            } if d == doc && p == path => {
                let Held::Armed { doc, path, seq } = std::mem::take(&mut *held) else {
                    return Ok(None);
                };
                drop(held);
                // Read the text only when not known to be narrow: its length is enough then.
                let known = self.narrow.take().filter(|(d, p)| *d == doc && *p == path);
                let (len, limits) = self.with(|r| {
                    let len = r.view(&doc, |v| match known {
                        Some(_) => v.text(&path).len().map(Some),
                        None => v
                            .text(&path)
                            .to_string()
                            .map(|t| gathering::narrow(&t).then(|| t.encode_utf16().count())),
                    });
                    let len = len
                        .map_err(error::core)?
                        .map_err(|e| error::core(e.into()))?;
                    Ok((len, gathering::limits(r.config().durability)))
                })?;
                let (Some(len), Some(limits)) = (len, limits) else {
                    return Ok(None);
                };
                *self.narrow.borrow_mut() = Some((doc.clone(), path.clone()));
                let Some(mut g) = Gathering::start((doc, path, seq), len, splices, limits) else {
                    return Ok(None);
                };
                let receipt = g.receipt();
                let delay = limits.1;
                *self.held.borrow_mut() = Held::Gathering(g);
                self.arm_gather_timer(delay);
                receipt
            }
            _ => return Ok(None),
        };
        Ok(Some(receipt))
    }

    /// Makes the change of the splices gathered, if any, and commits its group if due. Any
    /// other use of the replica comes after it.
    fn make_held(&self, repo: &mut polyarch::Repo) -> Result<(), JsValue> {
        let Held::Gathering(g) = std::mem::take(&mut *self.held.borrow_mut()) else {
            return Ok(());
        };
        let done = repo
            .change(&g.doc, |t| {
                let mut text = t.text(&g.path);
                g.run
                    .splices()
                    .iter()
                    .try_for_each(|s| text.splice(s.pos, s.delete, &s.insert))
            })
            .map_err(error::core)?;
        let made = done
            .receipt
            .ok_or_else(|| error::invalid("gathered splices that change the text"))?;
        let committed = match g.due() {
            true => repo.flush().map_err(error::core)?,
            false => Vec::new(),
        };
        g.complete(&made, committed.iter().find(|c| c.hash == made.hash));
        Ok(())
    }

    /// Sets a timer that commits a gathering's group when its first transaction has waited
    /// the group's delay (once per gathering).
    fn arm_gather_timer(&self, delay_ms: f64) {
        let weak = self.me.clone();
        let fire = Closure::once_into_js(move || {
            let Some(shared) = weak.upgrade().filter(|s| !s.is_closed()) else {
                return;
            };
            let flushed = shared.with(|r| r.flush().map(drop).map_err(error::core));
            if let Err(e) = flushed {
                shared.report(&e);
            }
        });
        set_timeout(&fire, delay_ms);
    }

    /// Under group commit, sets a timer (once) that commits the changes waiting for their group
    /// when the oldest has waited `max_delay`: WebAssembly has no thread to do it, and a change
    /// must not wait for the next one to become durable.
    fn arm_flush_timer(&self, repo: &polyarch::Repo) {
        let Durability::Group { max_delay, .. } = repo.config().durability else {
            return;
        };
        if self.flush_timer.get() || repo.unflushed() == 0 {
            return;
        }
        let weak = self.me.clone();
        let fire = Closure::once_into_js(move || {
            let Some(shared) = weak.upgrade().filter(|s| !s.is_closed()) else {
                return;
            };
            shared.flush_timer.set(false);
            let flushed = shared.with(|r| r.flush_due().map(drop).map_err(error::core));
            if let Err(e) = flushed {
                shared.report(&e);
            }
        });
        if set_timeout(&fire, max_delay.as_millis() as f64) {
            self.flush_timer.set(true);
        }
    }

    /// Calls the listeners of every queued event. A listener that throws is reported and the
    /// others still run.
    fn dispatch(&self) {
        loop {
            let batch = match self.queue.lock() {
                Ok(mut q) => std::mem::take(&mut *q),
                Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
            };
            if batch.is_empty() {
                return;
            }
            for (key, event) in batch {
                let listener = self.listeners.borrow().get(&key).map(|(_, f)| f.clone());
                if let Some(listener) = listener {
                    let js_event = convert::serialize(&event);
                    if let Err(thrown) = listener.call1(&JsValue::NULL, &js_event) {
                        self.report(&thrown);
                    }
                }
            }
        }
    }

    /// Whether the replica was closed (a timer set before then has nothing left to commit:
    /// `close` committed it).
    fn is_closed(&self) -> bool {
        self.repo.try_borrow().is_ok_and(|r| r.is_none())
    }

    /// Reports an error thrown by a listener: to `onError` if given, else `console.error`.
    fn report(&self, thrown: &JsValue) {
        let reported = self
            .on_error
            .as_ref()
            .is_some_and(|f| f.call1(&JsValue::NULL, thrown).is_ok());
        if !reported {
            console_error("polyarch: a subscriber threw", thrown);
        }
    }
}

/// The text path of `ops` when they only splice one text.
fn splice_path_of(ops: &[Op]) -> Option<Path> {
    gathering::text_splices(ops).map(|(path, _)| path.clone())
}

/// Calls `f` after `delay_ms` with the host's `setTimeout`; returns whether it was set.
fn set_timeout(f: &JsValue, delay_ms: f64) -> bool {
    let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    set_timeout.is_some_and(|set| {
        set.call2(&JsValue::NULL, f, &JsValue::from_f64(delay_ms))
            .is_ok()
    })
}

/// One device's replica of a set of documents.
///
/// ```js
/// const repo = await Repo.open({ name: "notes", storage: "memory" });
/// repo.text("note-1", "body").splice(0, 0, "Hello");
/// repo.text("note-1", "body").toString(); // "Hello"
/// ```
#[wasm_bindgen]
pub struct Repo {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl Repo {
    /// Opens a replica: `{ name, storage: "memory" | "opfs", image?, device?, actor?, onError? }`.
    /// `"opfs"` persists it with SQLite in the Origin Private File System and works only in a
    /// dedicated Worker. `image` (a `Uint8Array` from [`export_image`](Self::export_image),
    /// here or in the native library: the format is the same) opens a copy of that replica in
    /// memory, as a new device; bytes that are not an image fail with `STORE_NOT_AN_IMAGE`.
    ///
    /// `device` and `actor` (hex) lease an identity for an in-memory replica (a browser tab
    /// slot's): it presents that device id, and writes as that actor only in documents
    /// [claimed](Self::claim_actor) (as its own new actor elsewhere). A lease on any other
    /// replica fails with `INVALID_LEASE`; malformed ids with `INVALID_ARGUMENT`.
    ///
    /// `durability`: `"immediate"` (the default: each change commits before `change` returns),
    /// `"group"` (changes made close together commit together: batches of up to 1,024 changes
    /// or 10 ms), or `{ maxChanges, maxDelayMs }`. Under group commit a change's receipt has
    /// `offset: null` until its batch commits; a timer commits a batch whose oldest change has
    /// waited `maxDelayMs`, and `flush()` commits at once and returns the receipts.
    /// Consecutive changes that only splice one text are gathered into one change (see the
    /// package README, "Typing is gathered into one change").
    pub async fn open(options: JsValue) -> Result<Repo, JsValue> {
        let name = convert::prop(&options, "name")
            .map(|n| {
                n.as_string()
                    .ok_or_else(|| error::invalid("`name` to be a string"))
            })
            .transpose()?
            .unwrap_or_else(|| "polyarch".into());
        let storage = match convert::prop(&options, "storage").and_then(|s| s.as_string()) {
            None => Storage::Memory,
            Some(s) => Storage::parse(&s)?,
        };
        let image = convert::prop(&options, "image")
            .map(|i| {
                i.dyn_into::<Uint8Array>()
                    .map(|bytes| bytes.to_vec())
                    .map_err(|_| error::invalid("`image` to be a Uint8Array"))
            })
            .transpose()?;
        let on_error =
            convert::prop(&options, "onError").and_then(|f| f.dyn_into::<Function>().ok());
        let config = RepoConfig {
            text_units: TextUnits::Utf16,
            label: convert::prop(&options, "label")
                .and_then(|l| l.as_string())
                .unwrap_or_default(),
            lease: convert::lease(&options)?,
            durability: convert::durability(&options)?,
            ..RepoConfig::default()
        };
        let repo = storage::open(storage, &name, image.as_deref(), config).await?;
        Ok(Repo {
            shared: Rc::new_cyclic(|me| Shared {
                repo: RefCell::new(Some(repo)),
                queue: Arc::default(),
                listeners: RefCell::default(),
                next_listener: RefCell::new(0),
                on_error,
                me: me.clone(),
                flush_timer: Cell::new(false),
                held: RefCell::default(),
                narrow: RefCell::default(),
            }),
        })
    }

    /// This device's id (hex).
    #[wasm_bindgen(getter, js_name = deviceId)]
    pub fn device_id(&self) -> Result<String, JsValue> {
        self.shared.with(|r| Ok(r.device_id().to_string()))
    }

    /// Writes as the leased actor (`Repo.open({ device, actor })`) from now on in `docs` (an
    /// array of document ids), or in every document with `null`. Call it only once this
    /// replica holds every change that actor ever made to them: after a completed sync with a
    /// replica that holds them all, since the lease was taken (else the actor's sequence
    /// numbers are handed out twice, which corrupts the documents). Fails with
    /// `INVALID_LEASE` without a lease.
    #[wasm_bindgen(js_name = claimActor)]
    pub fn claim_actor(&self, docs: JsValue) -> Result<(), JsValue> {
        let interest = if docs.is_null() || docs.is_undefined() {
            Interest::All
        } else {
            Interest::Docs(convert::doc_ids(docs, "docs")?)
        };
        self.shared
            .with(|r| r.claim_actor(&interest).map_err(error::core))
    }

    /// The actors that wrote the document, each with its highest sequence number:
    /// `{ [actorHex]: seq }` (committed changes; an empty object for a document not here).
    pub fn actors(&self, doc: &str) -> Result<JsValue, JsValue> {
        let id = convert::doc_id(doc)?;
        self.shared.with(|r| {
            let version = r.version(id).map_err(error::core)?;
            let obj = js_sys::Object::new();
            for (actor, seq) in version.iter() {
                let (k, v) = (actor.to_hex_string(), seq as f64);
                let _ = js_sys::Reflect::set(&obj, &k.into(), &v.into());
            }
            Ok(obj.into())
        })
    }

    /// The ids of every document in this replica.
    #[wasm_bindgen(js_name = docIds)]
    pub fn doc_ids(&self) -> Result<Array, JsValue> {
        self.shared.with(|r| {
            let ids = r.doc_ids().map_err(error::core)?;
            Ok(ids.iter().map(|d| JsValue::from_str(d.as_ref())).collect())
        })
    }

    /// Creates an empty document; returns whether it was new.
    pub fn create(&self, doc: &str) -> Result<bool, JsValue> {
        let id = convert::doc_id(doc)?;
        self.shared.with(|r| r.create(id).map_err(error::core))
    }

    /// Whether the document exists.
    pub fn has(&self, doc: &str) -> Result<bool, JsValue> {
        let id = convert::doc_id(doc)?;
        self.shared.with(|r| r.contains(id).map_err(error::core))
    }

    /// One atomic change: `callback(tx)` records operations on `tx` (a [`Transaction`]), which
    /// land together when it returns, or not at all if it throws (the error is rethrown).
    /// Returns the receipt, or `null` if nothing was changed.
    pub fn change(&self, doc: &str, callback: &Function) -> Result<JsValue, JsValue> {
        let id = convert::doc_id(doc)?;
        let tx = Transaction::new();
        callback.call1(&JsValue::NULL, &JsValue::from(tx.clone()))?;
        self.shared.change(id, tx.finish())
    }

    /// The document as plain JS objects (text as strings, counters as numbers, sets as arrays).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self, doc: &str) -> Result<JsValue, JsValue> {
        let id = convert::doc_id(doc)?;
        self.shared.with(|r| {
            r.to_json(id)
                .map(|j| convert::json(&j))
                .map_err(error::core)
        })
    }

    /// Every register of the document holding concurrent values:
    /// `[{ path, values }]`, `path` as keys and indexes from the root, `values` the winner
    /// first. One call for a whole view, instead of one `register(...).conflicts` each.
    pub fn conflicts(&self, doc: &str) -> Result<Array, JsValue> {
        let id = convert::doc_id(doc)?;
        self.shared.with(|r| {
            let found = r.view(id, |v| v.conflicts()).map_err(error::core)?;
            Ok(found.iter().map(convert::conflict).collect())
        })
    }

    /// `{ json, conflicts }`: [`toJSON`](Self::to_json) and [`conflicts`](Self::conflicts)
    /// read together, in one walk over the document instead of two (a view showing values and
    /// their conflicts reads both).
    #[wasm_bindgen(js_name = toJSONWithConflicts)]
    pub fn to_json_with_conflicts(&self, doc: &str) -> Result<JsValue, JsValue> {
        let id = convert::doc_id(doc)?;
        self.shared.with(|r| {
            let (json, found) = r
                .view(id, |v| v.to_json_and_conflicts())
                .map_err(error::core)?;
            let conflicts: Array = found.iter().map(convert::conflict).collect();
            let obj = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&obj, &"json".into(), &convert::json(&json));
            let _ = js_sys::Reflect::set(&obj, &"conflicts".into(), &conflicts);
            Ok(obj.into())
        })
    }

    /// A register (last writer wins, concurrent values kept as conflicts) at `path`.
    pub fn register(&self, doc: &str, path: JsValue) -> Result<RegisterHandle, JsValue> {
        Ok(RegisterHandle::new(self.target(doc, &path)?))
    }

    /// A counter at `path`.
    pub fn counter(&self, doc: &str, path: JsValue) -> Result<CounterHandle, JsValue> {
        Ok(CounterHandle::new(self.target(doc, &path)?))
    }

    /// An add-wins set of strings at `path`.
    pub fn set(&self, doc: &str, path: JsValue) -> Result<SetHandle, JsValue> {
        Ok(SetHandle::new(self.target(doc, &path)?))
    }

    /// Collaborative text at `path` (positions in UTF-16 code units).
    pub fn text(&self, doc: &str, path: JsValue) -> Result<TextHandle, JsValue> {
        Ok(TextHandle::new(self.target(doc, &path)?))
    }

    /// A map at `path`.
    pub fn map(&self, doc: &str, path: JsValue) -> Result<MapHandle, JsValue> {
        Ok(MapHandle::new(self.target(doc, &path)?))
    }

    /// A list of scalars at `path`.
    pub fn list(&self, doc: &str, path: JsValue) -> Result<ListHandle, JsValue> {
        Ok(ListHandle::new(self.target(doc, &path)?))
    }

    /// Calls `listener(event)` after every change to `doc` (local, or remote once applied);
    /// `doc` may be `null` for every document. Returns a function that unsubscribes.
    /// `event` is `{ doc, origin, patches }`. With `options.patches === false`, `patches` is
    /// always empty and computing them is saved (most of the cost of applying remote changes,
    /// when no other listener wants them): for a view that rereads what it shows.
    pub fn subscribe(
        &self,
        doc: Option<String>,
        listener: Function,
        options: JsValue,
    ) -> Result<Function, JsValue> {
        let id = doc.as_deref().map(convert::doc_id).transpose()?;
        let patches = convert::prop(&options, "patches").is_none_or(|p| p.as_bool() != Some(false));
        let key = {
            let mut next = self.shared.next_listener.borrow_mut();
            *next += 1;
            *next
        };
        let queue = self.shared.queue.clone();
        let sub = self.shared.with(|r| {
            let push = move |event: &polyarch::DocEvent| {
                if let Ok(mut q) = queue.lock() {
                    q.push((key, event.clone()));
                }
            };
            Ok(match patches {
                true => r.subscribe(id.as_ref(), push),
                false => r.watch(id.as_ref(), push),
            })
        })?;
        self.shared
            .listeners
            .borrow_mut()
            .insert(key, (sub, listener));
        let weak = Rc::downgrade(&self.shared);
        // Callable any number of times: only the first call unsubscribes.
        let unsubscribe = Closure::<dyn FnMut()>::new(move || {
            if let Some(shared) = weak.upgrade() {
                let removed = shared.listeners.borrow_mut().remove(&key);
                if let Some((sub, _)) = removed {
                    let _ = shared.with(|r| Ok(r.unsubscribe(sub)));
                }
            }
        })
        .into_js_value();
        Ok(unsubscribe.unchecked_into())
    }

    /// Commits changes waiting for a group commit; returns their receipts.
    pub fn flush(&self) -> Result<Array, JsValue> {
        self.shared.with(|r| {
            let receipts = r.flush().map_err(error::core)?;
            Ok(receipts.iter().map(convert::receipt).collect())
        })
    }

    /// How far a change has travelled: `{ onDisk, ackedBy: string[] }`.
    #[wasm_bindgen(js_name = receiptStatus)]
    pub fn receipt_status(&self, receipt: JsValue) -> Result<JsValue, JsValue> {
        // Inside `with`: a gathered change is made first, completing its receipts.
        self.shared.with(|r| {
            let receipt = convert::receipt_from(&receipt)?;
            let status = r.receipt_status(&receipt).map_err(error::core)?;
            let acked: Vec<String> = status.acked_by.iter().map(|d| d.to_string()).collect();
            let obj = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&obj, &"onDisk".into(), &status.on_disk.into());
            let _ = js_sys::Reflect::set(&obj, &"ackedBy".into(), &convert::strings(&acked));
            Ok(obj.into())
        })
    }

    /// A version token for the document (carry it to another replica's `hasCaughtUp`).
    pub fn version(&self, doc: &str) -> Result<String, JsValue> {
        let id = convert::doc_id(doc)?;
        self.shared
            .with(|r| Ok(r.version(id).map_err(error::core)?.to_token()))
    }

    /// Whether this replica holds everything a version token from `version` names
    /// (read-your-writes across devices).
    #[wasm_bindgen(js_name = hasCaughtUp)]
    pub fn has_caught_up(&self, doc: &str, token: &str) -> Result<bool, JsValue> {
        let id = convert::doc_id(doc)?;
        let version =
            polyarch::VersionVector::from_token(token).map_err(|e| error::core(e.into()))?;
        self.shared
            .with(|r| r.has_caught_up(id, &version).map_err(error::core))
    }

    /// The replica's status: device, epoch, log head, peers and their lag.
    pub fn status(&self) -> Result<JsValue, JsValue> {
        self.shared
            .with(|r| Ok(convert::serialize(&r.status().map_err(error::core)?)))
    }

    /// Folds the document's logged changes into one compact snapshot (the automerge save),
    /// committing waiting changes first: the replica then opens the document, and stores it,
    /// without replaying its history. Peers that had not yet received some of those changes
    /// are sent the snapshot. Throws `NO_SUCH_DOC` for a document not here.
    pub fn compact(&self, doc: &str) -> Result<(), JsValue> {
        let id = convert::doc_id(doc)?;
        self.shared.with(|r| r.compact(id).map_err(error::core))
    }

    /// Commits waiting changes and compacts every loaded document with a long history (at
    /// least 1,000 logged changes that outweigh its snapshot); returns how many it compacted.
    /// Call it when the replica is idle; `close` does. With `{ all: true }`, documents not
    /// loaded too (each is loaded, replaying its history, then dropped): once, after opening
    /// a database whose last owner may have ended without compacting; `exportImage` does.
    pub fn maintain(&self, options: JsValue) -> Result<u32, JsValue> {
        let all = convert::prop(&options, "all").is_some_and(|a| a.is_truthy());
        self.shared.with(|r| {
            let n = if all { r.maintain_all() } else { r.maintain() };
            Ok(u32::try_from(n.map_err(error::core)?).unwrap_or(u32::MAX))
        })
    }

    /// The whole replica as one `Uint8Array` (its SQLite database): a backup, or a way to
    /// carry it to another host. `Repo.open({ image })` opens it here, and the native library
    /// (`Repo::from_image`, or the file written as it is) there. Waiting changes are committed
    /// and long histories compacted first (`maintain({ all: true })`), so the image is about as
    /// small as the documents' compact saves and opens without replaying history.
    #[wasm_bindgen(js_name = exportImage)]
    pub fn export_image(&self) -> Result<Vec<u8>, JsValue> {
        self.shared.with(|r| r.export_image().map_err(error::core))
    }

    /// Closes the replica (committing waiting changes and compacting long histories first, as
    /// `maintain` does). Every later call throws `CLOSED`.
    pub fn close(&self) -> Result<(), JsValue> {
        self.shared.with(|_| Ok(()))?;
        let repo = self
            .shared
            .repo
            .try_borrow_mut()
            .map_err(|_| JsValue::from(BindingError::RepoBusy))?
            .take();
        match repo {
            Some(repo) => repo.close().map_err(error::core),
            None => Ok(()),
        }
    }
}

impl Repo {
    fn target(&self, doc: &str, path: &JsValue) -> Result<Target, JsValue> {
        Ok(Target {
            shared: self.shared.clone(),
            doc: convert::doc_id(doc)?,
            path: convert::path(path)?,
        })
    }

    /// The state shared with sessions.
    pub(crate) fn shared(&self) -> Rc<Shared> {
        self.shared.clone()
    }
}
