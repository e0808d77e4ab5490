//! Why a store operation failed, and what to do about it.

use std::path::PathBuf;

use rusqlite::ErrorCode;
use thiserror::Error;

use crate::codec::DecodeError;
use crate::ids::IdError;

/// A store operation that failed. Nothing was written by a failed write: its transaction was
/// rolled back.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error that has no more specific variant.
    #[error(
        "SQLite failed while {op}: {source}; if it persists, run the store's integrity check \
         and restore the file from a backup or resync it from a peer"
    )]
    Sqlite {
        /// What the store was doing.
        op: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// Another connection holds the database (another instance of the application has the
    /// store open).
    #[error(
        "the store is in use by another process (database locked while {op}): close the other \
         instance of the application, then retry"
    )]
    Busy {
        /// What the store was doing.
        op: &'static str,
    },
    /// The disk (or the quota of the browser's storage) is full.
    #[error("no space left while {op}: nothing was written; free some disk space, then retry")]
    DiskFull {
        /// What the store was doing.
        op: &'static str,
    },
    /// The database file could not be opened or created (a missing directory, no permission,
    /// a read-only file system).
    #[error(
        "cannot open the store at {} ({source}): check that its directory exists and that \
         this process may read and write there",
        path.display()
    )]
    CannotOpen {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is not a SQLite database, or is one that another program made.
    #[error(
        "{} is not a Polyarch store (not a SQLite database, or one made by another program): \
         check the path, or move the file away to create a new store there",
        path.display()
    )]
    NotAStore {
        /// The file.
        path: PathBuf,
    },
    /// Bytes given as a store image are not one: not a SQLite database, or one that is not a
    /// Polyarch store.
    #[error(
        "these {len} bytes are not an image of a Polyarch store (Repo::export_image makes one): \
         check where they came from; nothing was opened or written"
    )]
    NotAnImage {
        /// How many bytes were given.
        len: usize,
    },
    /// The store was written by a newer Polyarch, with a schema this version does not know.
    #[error(
        "the store has schema version {found} but this Polyarch knows versions up to \
         {supported}: upgrade Polyarch to open it (the file was left unchanged)"
    )]
    NewerSchema {
        /// The store's schema version.
        found: u32,
        /// The newest schema version this build knows.
        supported: u32,
    },
    /// A value read from the database could not be decoded.
    #[error(
        "corrupt {what} in the store: {source}; run the store's integrity check, and resync \
         the document from a peer or restore the file from a backup"
    )]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// Why it could not be decoded.
        source: DecodeError,
    },
    /// An identifier read from the database breaks the rules of its type.
    #[error(
        "corrupt {what} in the store: {source}; run the store's integrity check, and restore \
         the file from a backup or resync from a peer"
    )]
    CorruptId {
        /// Which identifier.
        what: &'static str,
        /// Which rule it breaks.
        source: IdError,
    },
    /// A number given to the store is out of range: larger than SQLite's integers can hold,
    /// or past the end of the log. Nothing was written.
    #[error("{what} {value} is out of range (at most {max}): this is a bug in the caller")]
    OutOfRange {
        /// Which number.
        what: &'static str,
        /// The number.
        value: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// SQLite's integrity check found problems in the database file.
    #[error(
        "the database file is damaged ({}): restore it from a backup, or move it away and \
         resync from a peer",
        problems.join("; ")
    )]
    Damaged {
        /// What the check reported (at most a few lines).
        problems: Vec<String>,
    },
    /// The thread that commits groups in the background stopped (it panicked) before it said
    /// how its batch went. Those changes were never acknowledged.
    #[error(
        "the background group commit stopped before it finished: its changes were never \
         acknowledged and were dropped from memory; check the store's integrity, then make \
         them again"
    )]
    CommitterStopped,
}

impl StoreError {
    /// Wraps a SQLite error, picking the variant that tells the user what to do.
    pub(crate) fn sqlite(op: &'static str, source: rusqlite::Error) -> Self {
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy { op },
            Some(ErrorCode::DiskFull) => Self::DiskFull { op },
            _ => Self::Sqlite { op, source },
        }
    }
}

/// Names the operation a SQLite call was part of.
pub(crate) trait Context<T> {
    /// Turns a SQLite error into a [`StoreError`] that says what the store was doing.
    fn ctx(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn ctx(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::sqlite(op, e))
    }
}
