//! Images: a whole store as one byte string, to move a replica between hosts (a file written
//! by the native library opened in the browser, and back) or to keep a backup.
//!
//! An image is the SQLite database file itself, as `sqlite3_serialize` produces it: the same
//! format on every platform, starting with SQLite's own magic string and carrying Polyarch's
//! `application_id` and schema version in its header (see `schema.rs`). The write-ahead log is
//! folded in, and the header's file-format bytes (offsets 18 and 19) say "rollback journal" so
//! that the image also opens in memory, where there is no WAL. A replica file that was closed
//! cleanly (its WAL checkpointed into it) is an image as it is: opening one in memory rewrites
//! those two bytes in the copy, so a file written natively opens in the browser from its
//! bytes. (A file whose process died still has commits in its `-wal` file: open it once
//! natively first.)
//!
//! A store opened from an image is a **new device**: it takes a new device id, epoch and
//! actor, and forgets how far peers had acknowledged the old log. The original may still be
//! in use; two devices sharing an actor would hand out the same sequence numbers, and two
//! sharing a device id and epoch would each trust cursors that describe the other.

use std::io::{Read, Write as _};
use std::path::Path as FsPath;

use automerge::ActorId;
use rusqlite::{Connection, MAIN_DB, params};

use super::error::{Context, StoreError};
use super::schema::APPLICATION_ID;
use super::{Store, StoreOptions, load_meta};
use crate::{DeviceId, Epoch};

/// The first 16 bytes of every SQLite database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The size of SQLite's file header.
const HEADER_LEN: usize = 100;

/// Where the header holds the file-format write and read versions (1 = rollback, 2 = WAL).
const FORMAT_VERSIONS: std::ops::Range<usize> = 18..20;

/// Where the header holds the `application_id` (big-endian).
const APPLICATION_ID_AT: std::ops::Range<usize> = 68..72;

impl Store {
    /// The whole store as one byte string (see the module docs). Reads through this
    /// connection, so it works while the store is open and sees every committed write.
    ///
    /// Free pages are left out: those that deleted rows (compacted log entries) freed are
    /// given back first (`PRAGMA incremental_vacuum`), so the image is as long as the live
    /// data. A database made without incremental auto-vacuum (not one a Polyarch store ever
    /// created) is rebuilt once with `VACUUM`, switching it to incremental auto-vacuum.
    pub fn export_image(&mut self) -> Result<Vec<u8>, StoreError> {
        self.reclaim_space()?;
        if self.free_pages()? > 0 {
            self.conn
                .execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
                .ctx("rebuilding the database without its free pages")?;
        }
        let data = self
            .conn
            .serialize(MAIN_DB)
            .ctx("copying the database into an image")?;
        let mut image = data.to_vec();
        if let Some(versions) = image.get_mut(FORMAT_VERSIONS) {
            versions.fill(1);
        }
        Ok(image)
    }

    /// Pages of the database that hold no data (freed by deletions and not given back yet).
    pub fn free_pages(&self) -> Result<u64, StoreError> {
        let free: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))
            .ctx("counting free pages")?;
        super::values::from_sql("free page count", free)
    }

    /// Opens a store from an image made by [`export_image`](Self::export_image), as a new
    /// device. With a `path`, the image is written to a new file there first (an existing file
    /// is never overwritten: [`StoreError::CannotOpen`]); without one the store lives in
    /// memory.
    ///
    /// Fails with [`StoreError::NotAnImage`] when the bytes are not an image of a Polyarch
    /// store, and [`StoreError::NewerSchema`] when a newer Polyarch made it.
    pub fn open_image(
        image: &[u8],
        path: Option<&FsPath>,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        check_header(image)?;
        let opened = match path {
            Some(path) => open_image_file(image, path, options),
            None => {
                let mut conn = Connection::open_in_memory().ctx("opening an in-memory database")?;
                conn.deserialize_read_exact(MAIN_DB, rollback_header(image)?, image.len(), false)
                    .map_err(|_| not_an_image(image))?;
                Self::init(conn, None, options)
            }
        };
        let mut store = opened.map_err(|e| match e {
            StoreError::NotAStore { .. } => not_an_image(image),
            StoreError::Sqlite { source, .. }
                if source.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) =>
            {
                not_an_image(image)
            }
            other => other,
        })?;
        store.become_new_device()?;
        Ok(store)
    }

    /// Takes a new device id, epoch and actor, and forgets peers' acknowledgements of the old
    /// log (they were made under the old epoch).
    fn become_new_device(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction()
            .ctx("starting to take a new identity")?;
        tx.execute(
            "UPDATE meta SET device = ?1, epoch = ?2, actor = ?3 WHERE id = 1",
            params![
                DeviceId::random().as_bytes(),
                Epoch::random().as_bytes(),
                ActorId::random().to_bytes(),
            ],
        )
        .ctx("taking a new identity")?;
        tx.execute("UPDATE peers SET acked = 0", [])
            .ctx("forgetting acknowledgements of the old log")?;
        tx.commit().ctx("committing the new identity")?;
        let (meta, head) = load_meta(&self.conn)?;
        self.meta = meta;
        self.head = head;
        Ok(())
    }
}

/// Refuses bytes that are not a SQLite database marked as a Polyarch store, before SQLite
/// reads any of them.
fn check_header(image: &[u8]) -> Result<(), StoreError> {
    let header = image.get(..HEADER_LEN).ok_or_else(|| not_an_image(image))?;
    let magic_ok = header.get(..SQLITE_MAGIC.len()) == Some(SQLITE_MAGIC.as_slice());
    let app_ok = header.get(APPLICATION_ID_AT) == Some(APPLICATION_ID.to_be_bytes().as_slice());
    if magic_ok && app_ok {
        Ok(())
    } else {
        Err(not_an_image(image))
    }
}

/// The image as a reader whose header says "rollback journal" (see the module docs): a
/// replica file read as it is says WAL, and a database in memory cannot open a WAL.
fn rollback_header(image: &[u8]) -> Result<impl Read + '_, StoreError> {
    let (header, pages) = image
        .split_at_checked(HEADER_LEN)
        .ok_or_else(|| not_an_image(image))?;
    let mut header = header.to_vec();
    if let Some(versions) = header.get_mut(FORMAT_VERSIONS) {
        versions.fill(1);
    }
    Ok(std::io::Cursor::new(header).chain(pages))
}

/// Writes the image to a new file at `path` and opens it; removes the file if it does not open.
fn open_image_file(
    image: &[u8],
    path: &FsPath,
    options: &StoreOptions,
) -> Result<Store, StoreError> {
    let cannot_open = |e: std::io::Error| StoreError::CannotOpen {
        path: path.to_path_buf(),
        source: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(e.to_string()),
        ),
    };
    let mut file = std::fs::File::create_new(path).map_err(cannot_open)?;
    let written = file
        .write_all(image)
        .and_then(|()| file.sync_all())
        .map_err(cannot_open);
    drop(file);
    let opened = written.and_then(|()| Store::open(path, options));
    if opened.is_err() {
        let _ = std::fs::remove_file(path);
    }
    opened
}

fn not_an_image(image: &[u8]) -> StoreError {
    StoreError::NotAnImage { len: image.len() }
}
