//! [`Doc`]: one document's automerge state, with typed reads and writes.

use std::collections::HashSet;

use automerge::transaction::Transactable;
use automerge::{
    ActorId, Automerge, AutomergeError, Change, ChangeHash, LoadOptions, OnPartialLoad, PatchLog,
    ReadDoc, TextEncoding, VerificationMode,
};

use super::local::{self, Recorder, TextWindow};
use super::{DocView, ModelError, Patch, Tx, event};

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
///
/// ```
/// use polyarch::model::{Doc, TextUnits};
/// # fn main() -> Result<(), polyarch::model::ModelError> {
/// let mut phone = Doc::new(automerge::ActorId::random(), TextUnits::CodePoints);
/// let ((), change, _) = phone.transact(false, |tx| tx.set(["attendees"]).add("alice"))?;
/// let change = change.expect("the transaction wrote");
///
/// // Another device loads the change from its bytes.
/// let laptop = Doc::load(None, &[&change.bytes], automerge::ActorId::random(), TextUnits::Utf16)?;
/// assert_eq!(laptop.view().set(["attendees"]).members()?, ["alice"]);
/// assert_eq!(laptop.heads(), [change.hash]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Doc {
    pub(crate) inner: Automerge,
    pub(crate) units: TextUnits,
    window: TextWindow,
}

impl TextUnits {
    /// automerge's name for these units.
    pub(crate) fn encoding(self) -> TextEncoding {
        match self {
            TextUnits::CodePoints => TextEncoding::UnicodeCodePoint,
            TextUnits::Utf16 => TextEncoding::Utf16CodeUnit,
            TextUnits::Utf8 => TextEncoding::Utf8CodeUnit,
        }
    }
}

impl Doc {
    /// An empty document that will write as `actor`.
    pub fn new(actor: ActorId, units: TextUnits) -> Self {
        Self::from_automerge(Automerge::new_with_encoding(units.encoding()), actor, units)
    }

    fn from_automerge(mut inner: Automerge, actor: ActorId, units: TextUnits) -> Self {
        inner.set_actor(actor);
        Self {
            inner,
            units,
            window: TextWindow::default(),
        }
    }

    /// Loads a document from a compact snapshot (automerge `save` bytes) and/or a sequence of
    /// changes and change chunks, writing as `actor` from now on. Either part may be empty.
    ///
    /// Fails with [`ModelError::Corrupt`] when any part does not load, and with
    /// [`ModelError::MissingDependencies`] when a change depends on one that is in neither part.
    pub fn load(
        snapshot: Option<&[u8]>,
        changes: &[&[u8]],
        actor: ActorId,
        units: TextUnits,
    ) -> Result<Self, ModelError> {
        let inner = match snapshot {
            Some(bytes) if !bytes.is_empty() => guarded("loading a snapshot", || {
                Automerge::load_with_options(bytes, strict(units)).map_err(corrupt)
            })?,
            _ => Automerge::new_with_encoding(units.encoding()),
        };
        let mut doc = Self::from_automerge(inner, actor, units);
        let mut batch = Vec::new();
        for bytes in changes {
            match Change::try_from(*bytes) {
                Ok(change) => {
                    check_checksum(&change)?;
                    batch.push(change);
                }
                Err(_) => {
                    let ready = std::mem::take(&mut batch);
                    guarded("applying stored changes", || {
                        doc.inner.apply_changes(ready).map_err(corrupt)
                    })?;
                    guarded("loading stored change chunks", || {
                        load_checked(&mut doc.inner, bytes, units, &mut PatchLog::inactive())
                    })?;
                }
            }
        }
        guarded("applying stored changes", || {
            doc.inner.apply_changes(batch).map_err(corrupt)
        })?;
        doc.check_complete()?;
        Ok(doc)
    }

    /// Fails when automerge holds changes back because their dependencies are missing.
    fn check_complete(&self) -> Result<(), ModelError> {
        let missing = self.inner.get_missing_deps(&[]);
        match missing.first() {
            None => Ok(()),
            Some(first) => Err(ModelError::MissingDependencies {
                change: *first,
                missing,
            }),
        }
    }

    /// Runs `f` as one atomic change. When `f` fails, nothing is changed. Returns `f`'s result,
    /// the change made (`None` when `f` made no operation), and, when `with_patches`, what changed.
    pub fn transact<T>(
        &mut self,
        with_patches: bool,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ModelError>,
    ) -> Result<(T, Option<LocalChange>, Vec<Patch>), ModelError> {
        let window = match self.window.is_current(&self.inner) {
            true => Some(&mut self.window),
            false => None,
        };
        let actor = self.inner.get_actor().clone();
        let inner = if with_patches {
            self.inner
                .transaction_log_patches(PatchLog::active())
                .map_err(AutomergeError::from)?
        } else {
            self.inner.transaction()
        };
        // In a block of its own so that its borrows of `self` end with it.
        let (value, ops, recording, hash, mut log) = {
            let mut tx = Tx {
                inner,
                rec: Recorder::new(window, self.units),
                actor,
            };
            let result = f(&mut tx);
            let Tx { inner, rec, .. } = tx;
            let value = match result {
                Ok(value) => value,
                Err(e) => {
                    inner.rollback();
                    return Err(e);
                }
            };
            let ops = inner.pending_ops();
            let (hash, log) = inner.commit();
            (value, ops, rec.finish(), hash, log)
        };
        let patches = if with_patches {
            event::from_automerge(&self.inner, self.inner.make_patches(&mut log))
        } else {
            Vec::new()
        };
        let change = match hash {
            Some(hash) => Some(local::local_change(
                &self.inner,
                hash,
                ops,
                recording,
                &mut self.window,
                self.units,
            )?),
            None => None,
        };
        Ok((value, change, patches))
    }

    /// Decodes one change from its bytes (as in [`LocalChange::bytes`]), checking the checksum
    /// it carries: automerge's own decoder does not.
    pub fn decode_change(bytes: &[u8]) -> Result<Change, ModelError> {
        let change =
            Change::try_from(bytes).map_err(|source| ModelError::InvalidChange { source })?;
        check_checksum(&change)?;
        Ok(change)
    }

    /// Like [`decode_change`](Self::decode_change), taking ownership of the bytes.
    pub fn decode_change_owned(bytes: Vec<u8>) -> Result<Change, ModelError> {
        let change =
            Change::from_bytes(bytes).map_err(|source| ModelError::InvalidChange { source })?;
        check_checksum(&change)?;
        Ok(change)
    }

    /// Whether every dependency of `change` is already applied (so it can be applied now).
    pub fn can_apply(&self, change: &Change) -> bool {
        change.deps().iter().all(|dep| self.has_change(dep))
    }

    /// Whether the change with this hash is applied.
    pub fn has_change(&self, hash: &ChangeHash) -> bool {
        self.inner.get_change_meta_by_hash(hash).is_some()
    }

    /// Applies remote changes whose dependencies are all present (check with
    /// [`can_apply`](Self::can_apply) first; changes already applied are ignored). Returns what
    /// changed when `with_patches`.
    ///
    /// A change may also depend on one that comes before it in `changes`. When any dependency
    /// is missing, nothing is applied and the error is [`ModelError::MissingDependencies`].
    pub fn apply(
        &mut self,
        changes: Vec<Change>,
        with_patches: bool,
    ) -> Result<Vec<Patch>, ModelError> {
        let batch: HashSet<ChangeHash> = changes.iter().map(Change::hash).collect();
        for change in &changes {
            let missing: Vec<ChangeHash> = change
                .deps()
                .iter()
                .filter(|dep| !batch.contains(dep) && !self.has_change(dep))
                .copied()
                .collect();
            if !missing.is_empty() {
                return Err(ModelError::MissingDependencies {
                    change: change.hash(),
                    missing,
                });
            }
        }
        let mut log = PatchLog::new(with_patches);
        guarded("applying changes", || {
            self.inner
                .apply_changes_log_patches(changes, &mut log)
                .map_err(corrupt)
        })?;
        Ok(self.patches_from(log, with_patches))
    }

    fn patches_from(&self, mut log: PatchLog, with_patches: bool) -> Vec<Patch> {
        if with_patches {
            event::from_automerge(&self.inner, self.inner.make_patches(&mut log))
        } else {
            Vec::new()
        }
    }

    /// Merges a snapshot or bundle of changes (automerge `save`/`save_after`/bundle bytes),
    /// returning the changes that were new here in causal order, and what changed.
    ///
    /// The bytes are loaded and checked in full before anything is merged: when they are
    /// corrupt or incomplete, the document is left unchanged.
    pub fn merge_snapshot(
        &mut self,
        bytes: &[u8],
        with_patches: bool,
    ) -> Result<(Vec<Change>, Vec<Patch>), ModelError> {
        let old_heads = self.inner.get_heads();
        let mut log = PatchLog::new(with_patches);
        let loaded = guarded("loading a snapshot", || {
            Ok(Automerge::load_with_options(bytes, strict(self.units)))
        })?;
        match loaded {
            // Complete on its own (a snapshot): merge what is new.
            Ok(mut other) if other.get_missing_deps(&[]).is_empty() => {
                if other.get_heads().iter().all(|h| self.has_change(h)) {
                    return Ok((Vec::new(), Vec::new()));
                }
                if old_heads.is_empty() && !with_patches {
                    // Nothing here yet: the loaded snapshot is the merge. Merging would apply
                    // every one of its changes again (a new device's or page's first sync).
                    other.set_actor(self.inner.get_actor().clone());
                    self.inner = other;
                    return Ok((self.inner.get_changes(&[]), Vec::new()));
                }
                guarded("merging a snapshot", || {
                    self.inner
                        .merge_and_log_patches(&mut other, &mut log)
                        .map_err(corrupt)
                })?;
            }
            // Well-formed, but builds on changes it does not hold (`save_after`, a bundle):
            // load into a copy, and keep it only if nothing is missing.
            Ok(_) | Err(AutomergeError::MissingDeps) => {
                let mut trial = self.inner.clone();
                guarded("loading a bundle of changes", || {
                    trial
                        .load_incremental_log_patches(bytes, &mut log)
                        .map_err(corrupt)
                })?;
                let missing = trial.get_missing_deps(&[]);
                if let Some(first) = missing.first() {
                    return Err(ModelError::MissingDependencies {
                        change: *first,
                        missing,
                    });
                }
                self.inner = trial;
            }
            Err(source) => return Err(corrupt(source)),
        }
        let new = self.inner.get_changes(&old_heads);
        Ok((new, self.patches_from(log, with_patches)))
    }

    /// The compact snapshot of the whole document (automerge `save`).
    pub fn save(&self) -> Vec<u8> {
        self.inner.save()
    }

    /// The current heads (hashes of the changes nothing depends on yet).
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.inner.get_heads()
    }

    /// The writer this document makes local changes as.
    pub fn actor(&self) -> &ActorId {
        self.inner.get_actor()
    }

    /// How this document counts text positions.
    pub fn text_units(&self) -> TextUnits {
        self.units
    }

    /// Read access with typed views.
    pub fn view(&self) -> DocView<'_> {
        DocView::new(&self.inner)
    }

    /// The whole document as JSON, as the typed handles read it: maps (merged over concurrent
    /// copies, and OR-sets, which are maps whose keys are the members) as objects, lists as
    /// arrays, text as strings, counters as numbers, registers as their winning value. Use
    /// [`DocView`] to list conflicts.
    pub fn to_json(&self) -> serde_json::Value {
        self.view().to_json()
    }
}

/// Options that make automerge refuse anything it cannot load in full.
fn strict(units: TextUnits) -> LoadOptions<'static> {
    LoadOptions::new()
        .text_encoding(units.encoding())
        .on_partial_load(OnPartialLoad::Error)
        .verification_mode(VerificationMode::Check)
}

/// Runs an engine call on data from outside (the network, the disk), turning a panic in the
/// engine into [`ModelError::EngineFailed`]. After such a failure the document the call was
/// changing may be inconsistent: callers drop it and reload it from the store.
fn guarded<T>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, ModelError>,
) -> Result<T, ModelError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or(Err(ModelError::EngineFailed { what }))
}

/// Fails when a change's bytes do not match the checksum in its header (the first four bytes of
/// its hash, which automerge computes from the bytes but does not compare).
fn check_checksum(change: &Change) -> Result<(), ModelError> {
    let hash = change.hash();
    match change.raw_bytes().get(4..8) {
        Some(sum) if sum == &hash.0[..4] => Ok(()),
        _ => Err(ModelError::ChecksumMismatch { hash }),
    }
}

/// An error from loading bytes.
fn corrupt(source: AutomergeError) -> ModelError {
    ModelError::Corrupt {
        source: Box::new(source),
    }
}

/// Loads a snapshot or change chunks into `doc` after checking that they parse in full
/// (automerge's incremental load would skip what follows a corrupt chunk).
fn load_checked(
    doc: &mut Automerge,
    bytes: &[u8],
    units: TextUnits,
    log: &mut PatchLog,
) -> Result<(), ModelError> {
    match Automerge::load_with_options(bytes, strict(units)) {
        Ok(_) | Err(AutomergeError::MissingDeps) => {}
        Err(source) => return Err(corrupt(source)),
    }
    doc.load_incremental_log_patches(bytes, log)
        .map_err(corrupt)?;
    Ok(())
}
