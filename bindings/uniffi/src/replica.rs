//! [`Replica`]: one device's replica, shared by every handle, session and client made from it.

use std::path::Path as FsPath;
use std::sync::{Arc, Mutex, MutexGuard};

use polyarch::{ModelError, Path, Repo, RepoConfig, Seg, Tx};

use crate::error::PolyarchError;
use crate::events::{EventThread, Notifiers};
use crate::handles::{Counter, ListHandle, MapHandle, OrSet, Register, Text};
use crate::value::{Value, values};

/// Proof that a local change was made, to ask how far it has travelled.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Receipt {
    /// The document.
    pub doc: String,
    /// The change's hash, in hex.
    pub hash: String,
    /// Its sequence number for this device's actor.
    pub seq: u64,
    /// Its offset in this replica's log once committed to SQLite.
    pub offset: Option<u64>,
}

/// A register holding concurrent values (see [`Replica::conflicts`]); setting it resolves
/// the conflict.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Conflict {
    /// Where: map keys from the document's root (a list index as its decimal digits).
    pub path: Vec<String>,
    /// Every concurrent value, the winner (what the register's `get` reads) first.
    pub values: Vec<Value>,
}

/// How far a local change has travelled.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceiptStatus {
    /// Committed to this device's SQLite ("on disk").
    pub on_disk: bool,
    /// Device ids of the peers (a relay among them) that acknowledged holding it.
    pub acked_by: Vec<String>,
}

impl From<polyarch::Receipt> for Receipt {
    fn from(r: polyarch::Receipt) -> Self {
        Self {
            doc: r.doc.to_string(),
            hash: r.hash.to_string(),
            seq: r.seq,
            offset: r.offset,
        }
    }
}

impl TryFrom<&Receipt> for polyarch::Receipt {
    type Error = PolyarchError;

    fn try_from(r: &Receipt) -> Result<Self, PolyarchError> {
        Ok(Self {
            doc: polyarch::DocId::new(r.doc.clone()).map_err(polyarch::Error::from)?,
            hash: r
                .hash
                .parse()
                .map_err(|_| PolyarchError::invalid("the receipt's hash is not a change hash"))?,
            seq: r.seq,
            offset: r.offset,
        })
    }
}

/// One device's replica of a set of documents, stored in SQLite. Reads see every local write
/// at once; a write returns once committed. Safe to share between threads.
#[derive(uniffi::Object)]
pub struct Replica {
    pub(crate) repo: Arc<Mutex<Repo>>,
    pub(crate) events: EventThread,
    pub(crate) notifiers: Notifiers,
}

impl Replica {
    fn wrap(repo: Repo) -> Arc<Self> {
        Arc::new(Self {
            repo: Arc::new(Mutex::new(repo)),
            events: EventThread::default(),
            notifiers: Notifiers::default(),
        })
    }

    /// Locks the replica for one call.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Repo>, PolyarchError> {
        self.repo.lock().map_err(|_| PolyarchError::poisoned())
    }

    /// Makes one change and tells relay clients to stream it now.
    pub(crate) fn change(
        &self,
        doc: &str,
        f: impl FnOnce(&mut Tx<'_>) -> Result<(), ModelError>,
    ) -> Result<Option<Receipt>, PolyarchError> {
        let committed = self.lock()?.change(doc, f)?;
        self.notifiers.notify();
        Ok(committed.receipt.map(Receipt::from))
    }

    /// A handle's target: the document and the path in it.
    fn target(doc: String, path: Vec<String>) -> (String, Path) {
        (
            doc,
            Path::from(
                path.iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice(),
            ),
        )
    }
}

#[uniffi::export]
impl Replica {
    /// Opens the replica stored in the SQLite file at `path`, creating it if missing. One
    /// process at a time may have a file open (another gets `STORE_BUSY`).
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Self>, PolyarchError> {
        Ok(Self::wrap(Repo::open(path, RepoConfig::default())?))
    }

    /// A new replica in memory, gone when dropped.
    #[uniffi::constructor]
    pub fn in_memory() -> Result<Arc<Self>, PolyarchError> {
        Ok(Self::wrap(Repo::in_memory(RepoConfig::default())?))
    }

    /// Opens a replica from an image made by [`export_image`](Self::export_image) (or by the
    /// npm package's `exportImage`), as a new device: in memory, or as a new file at `path`
    /// (never overwriting one). Bytes that are not an image fail with `STORE_NOT_AN_IMAGE`.
    #[uniffi::constructor]
    pub fn from_image(image: Vec<u8>, path: Option<String>) -> Result<Arc<Self>, PolyarchError> {
        let path = path.as_deref().map(FsPath::new);
        Ok(Self::wrap(Repo::from_image(
            &image,
            path,
            RepoConfig::default(),
        )?))
    }

    /// The whole replica as bytes: a backup, or a way to carry it to another host.
    pub fn export_image(&self) -> Result<Vec<u8>, PolyarchError> {
        Ok(self.lock()?.export_image()?)
    }

    /// This device's id (hex).
    pub fn device_id(&self) -> Result<String, PolyarchError> {
        Ok(self.lock()?.device_id().to_string())
    }

    /// Every document in the replica, sorted.
    pub fn doc_ids(&self) -> Result<Vec<String>, PolyarchError> {
        let ids = self.lock()?.doc_ids()?;
        Ok(ids.iter().map(ToString::to_string).collect())
    }

    /// The document as JSON (a register in conflict shows its winner).
    pub fn to_json(&self, doc: String) -> Result<String, PolyarchError> {
        Ok(self.lock()?.to_json(doc.as_str())?.to_string())
    }

    /// Every register of the document holding concurrent values, anywhere in it, in one
    /// pass (instead of asking each register for its `conflicts`).
    pub fn conflicts(&self, doc: String) -> Result<Vec<Conflict>, PolyarchError> {
        let found = self.lock()?.view(doc.as_str(), |v| v.conflicts())?;
        Ok(found
            .into_iter()
            .map(|c| Conflict {
                path: c
                    .path
                    .segments()
                    .iter()
                    .map(|seg| match seg {
                        Seg::Key(k) => k.clone(),
                        Seg::Index(i) => i.to_string(),
                    })
                    .collect(),
                values: values(c.values),
            })
            .collect())
    }

    /// The register at `path` (map keys from the document's root) in `doc`.
    pub fn register(self: Arc<Self>, doc: String, path: Vec<String>) -> Arc<Register> {
        let (doc, path) = Self::target(doc, path);
        Arc::new(Register::new(self, doc, path))
    }

    /// The counter at `path` in `doc`.
    pub fn counter(self: Arc<Self>, doc: String, path: Vec<String>) -> Arc<Counter> {
        let (doc, path) = Self::target(doc, path);
        Arc::new(Counter::new(self, doc, path))
    }

    /// The OR-set (add wins) at `path` in `doc`.
    pub fn or_set(self: Arc<Self>, doc: String, path: Vec<String>) -> Arc<OrSet> {
        let (doc, path) = Self::target(doc, path);
        Arc::new(OrSet::new(self, doc, path))
    }

    /// The collaborative text at `path` in `doc`.
    pub fn text(self: Arc<Self>, doc: String, path: Vec<String>) -> Arc<Text> {
        let (doc, path) = Self::target(doc, path);
        Arc::new(Text::new(self, doc, path))
    }

    /// The map at `path` in `doc`.
    pub fn map(self: Arc<Self>, doc: String, path: Vec<String>) -> Arc<MapHandle> {
        let (doc, path) = Self::target(doc, path);
        Arc::new(MapHandle::new(self, doc, path))
    }

    /// The list at `path` in `doc`.
    pub fn list(self: Arc<Self>, doc: String, path: Vec<String>) -> Arc<ListHandle> {
        let (doc, path) = Self::target(doc, path);
        Arc::new(ListHandle::new(self, doc, path))
    }

    /// How far a local change has travelled: on disk, and which peers hold it.
    pub fn receipt_status(&self, receipt: Receipt) -> Result<ReceiptStatus, PolyarchError> {
        let receipt = polyarch::Receipt::try_from(&receipt)?;
        let status = self.lock()?.receipt_status(&receipt)?;
        Ok(ReceiptStatus {
            on_disk: status.on_disk,
            acked_by: status.acked_by.iter().map(ToString::to_string).collect(),
        })
    }

    /// Where the replica stands (device, log head, peers, lag), as JSON.
    pub fn status_json(&self) -> Result<String, PolyarchError> {
        let status = self.lock()?.status()?;
        serde_json::to_string(&status)
            .map_err(|e| PolyarchError::failed("ENCODE", format!("the status as JSON: {e}")))
    }
}
