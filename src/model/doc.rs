//! [`Doc`]: one document's automerge state, with typed reads and writes.

use automerge::{ActorId, Automerge, Change, ChangeHash};

use super::{DocView, ModelError, Patch, Tx};

/// How text positions are counted. JavaScript hosts use UTF-16; Rust and most others use
/// Unicode code points. A runtime setting, chosen when a replica is opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TextUnits {
    /// One unit per Unicode code point (`char`).
    #[default]
    CodePoints,
    /// One unit per UTF-16 code unit (JavaScript string indexes).
    Utf16,
    /// One unit per UTF-8 byte.
    Utf8,
}

/// A change made locally by [`Doc::transact`], ready to be persisted and sent.
#[derive(Debug, Clone)]
pub struct LocalChange {
    /// The change's hash.
    pub hash: ChangeHash,
    /// The writer.
    pub actor: ActorId,
    /// Its sequence number for that writer (1, 2, 3, ...).
    pub seq: u64,
    /// The hashes it depends on.
    pub deps: Vec<ChangeHash>,
    /// The change in automerge's binary change format.
    pub bytes: Vec<u8>,
}

/// One document in memory: an automerge document plus typed access.
#[derive(Debug, Clone)]
pub struct Doc {
    pub(crate) inner: Automerge,
    pub(crate) units: TextUnits,
}

impl Doc {
    /// An empty document that will write as `actor`.
    pub fn new(actor: ActorId, units: TextUnits) -> Self {
        todo!("model: {actor:?} {units:?}")
    }

    /// Loads a document from a compact snapshot (automerge `save` bytes) and/or a sequence of
    /// changes and change chunks, writing as `actor` from now on. Either part may be empty.
    pub fn load(
        snapshot: Option<&[u8]>,
        changes: &[&[u8]],
        actor: ActorId,
        units: TextUnits,
    ) -> Result<Self, ModelError> {
        todo!("model: {snapshot:?} {changes:?} {actor:?} {units:?}")
    }

    /// Runs `f` as one atomic change. When `f` fails, nothing is changed. Returns `f`'s result,
    /// the change made (`None` when `f` made no operation), and, when `with_patches`, what changed.
    pub fn transact<T>(
        &mut self,
        with_patches: bool,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ModelError>,
    ) -> Result<(T, Option<LocalChange>, Vec<Patch>), ModelError> {
        let _ = (with_patches, f);
        todo!("model")
    }

    /// Whether every dependency of `change` is already applied (so it can be applied now).
    pub fn can_apply(&self, change: &Change) -> bool {
        todo!("model: {change:?}")
    }

    /// Whether the change with this hash is applied.
    pub fn has_change(&self, hash: &ChangeHash) -> bool {
        todo!("model: {hash:?}")
    }

    /// Applies remote changes whose dependencies are all present (check with
    /// [`can_apply`](Self::can_apply) first; changes already applied are ignored). Returns what
    /// changed when `with_patches`.
    pub fn apply(&mut self, changes: Vec<Change>, with_patches: bool) -> Result<Vec<Patch>, ModelError> {
        todo!("model: {changes:?} {with_patches}")
    }

    /// Merges a snapshot or bundle of changes (automerge `save`/`save_after`/bundle bytes),
    /// returning the changes that were new here in causal order, and what changed.
    pub fn merge_snapshot(
        &mut self,
        bytes: &[u8],
        with_patches: bool,
    ) -> Result<(Vec<Change>, Vec<Patch>), ModelError> {
        todo!("model: {bytes:?} {with_patches}")
    }

    /// The compact snapshot of the whole document (automerge `save`).
    pub fn save(&self) -> Vec<u8> {
        todo!("model")
    }

    /// The current heads (hashes of the changes nothing depends on yet).
    pub fn heads(&self) -> Vec<ChangeHash> {
        todo!("model")
    }

    /// The writer this document makes local changes as.
    pub fn actor(&self) -> &ActorId {
        self.inner.get_actor()
    }

    /// Read access with typed views.
    pub fn view(&self) -> DocView<'_> {
        todo!("model")
    }

    /// The whole document as JSON: maps (and OR-sets, which are maps whose keys are the
    /// members) as objects, lists as arrays, text as strings, counters as numbers, registers as
    /// their winning value. Use [`DocView`] to list conflicts.
    pub fn to_json(&self) -> serde_json::Value {
        todo!("model")
    }
}
