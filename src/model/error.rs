//! [`ModelError`]: everything that can go wrong in the model layer.

use automerge::{AutomergeError, ChangeHash};
use thiserror::Error;

use super::{Kind, Path};

/// Why a model operation failed. A failed operation changes nothing: inside
/// [`Doc::transact`](super::Doc::transact) the whole transaction is rolled back when the closure
/// returns the error.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The path holds a different kind of value than the handle used expects.
    #[error(
        "expected {expected} at `{path}` but found {found}: use the handle that matches what is \
         stored there (DocView::kind tells), or delete the key first"
    )]
    TypeMismatch {
        /// Where the mismatch was found (the path or one of its prefixes).
        path: Path,
        /// What the operation needed there.
        expected: Kind,
        /// What the document holds there.
        found: Kind,
    },
    /// An operation that needs an existing value found nothing at the path.
    #[error("nothing at `{path}`: create it first (writes through a handle create missing maps)")]
    NoSuchPath {
        /// The path that holds nothing.
        path: Path,
    },
    /// A list or text position past the end. Missing list elements are never created
    /// implicitly: use `ListMut::push` or `ListMut::insert`.
    #[error(
        "index {index} is out of range at `{path}` (length {len}): use an index up to the length"
    )]
    IndexOutOfRange {
        /// The list or text.
        path: Path,
        /// The index asked for.
        index: usize,
        /// The length of the list or text.
        len: usize,
    },
    /// A text cursor that is malformed or does not point into this text.
    #[error(
        "`{cursor}` is not a cursor into this text: use a string from TextRef::cursor on the same text"
    )]
    InvalidCursor {
        /// The cursor given (cut to 100 characters).
        cursor: String,
    },
    /// A value type this version cannot represent (written by a newer automerge).
    #[error(
        "unsupported value type {type_code} at `{path}`: it was written by a newer version; \
         upgrade Polyarch to read it"
    )]
    UnsupportedValue {
        /// Where the value is.
        path: Path,
        /// automerge's code for the value's type.
        type_code: u8,
    },
    /// A change depends on changes this document does not have.
    #[error(
        "change {change} depends on {} change(s) this document lacks (first: {}): apply those \
         first; nothing was applied",
        missing.len(),
        missing.first().map(ToString::to_string).unwrap_or_default()
    )]
    MissingDependencies {
        /// The change that cannot be applied yet.
        change: ChangeHash,
        /// Its dependencies that are not applied here.
        missing: Vec<ChangeHash>,
    },
    /// Bytes that should hold one automerge change do not decode as one.
    #[error(
        "not a valid automerge change ({source}): the bytes are corrupt, truncated, or not a \
         change chunk; the document was left unchanged"
    )]
    InvalidChange {
        /// The decoder's error.
        source: automerge::LoadChangeError,
    },
    /// A change whose bytes do not match the checksum they carry: altered in transit or on disk.
    #[error(
        "change {hash} does not match its checksum: its bytes were altered in transit or on \
         disk; nothing was applied, fetch the change again from a replica that holds it"
    )]
    ChecksumMismatch {
        /// The hash of the bytes as they arrived.
        hash: ChangeHash,
    },
    /// The automerge engine failed (panicked) on data that decoded: the data is malformed in a
    /// way the decoder did not catch.
    #[error(
        "the automerge engine failed while {what}: the data is malformed; nothing was applied \
         (the document must be reloaded from its store), fetch the data again"
    )]
    EngineFailed {
        /// What the engine was doing.
        what: &'static str,
    },
    /// Snapshot or change data that automerge could not load or apply.
    #[error(
        "invalid document data ({source}): the bytes are corrupt or come from a newer \
         automerge; discard them and fetch them again"
    )]
    Corrupt {
        /// The engine's error (boxed: it is large, and errors travel in every `Result`).
        source: Box<AutomergeError>,
    },
    /// The automerge engine refused an operation on data that had already loaded. The data is
    /// not known to be corrupt: this points to a bug in Polyarch.
    #[error(
        "the automerge engine refused the operation ({source}); nothing was changed. This is a \
         bug in Polyarch: please report it"
    )]
    Automerge {
        /// The engine's error (boxed: it is large, and errors travel in every `Result`).
        source: Box<AutomergeError>,
    },
}

impl From<AutomergeError> for ModelError {
    fn from(source: AutomergeError) -> Self {
        ModelError::Automerge {
            source: Box::new(source),
        }
    }
}
