//! `PolyarchReplica`: one device's replica: opening, images, the whole document as JSON, and
//! the plumbing the typed edits and reads (`crdt.rs`) share.

use std::ffi::c_char;
use std::path::Path as FsPath;
use std::sync::{Mutex, MutexGuard};

use polyarch::{DocView, ModelError, Path, Repo, RepoConfig, Tx};

use crate::memory::{borrow_bytes, borrow_str, give_bytes, put, put_string};
use crate::status::{Failure, PolyarchStatus, guard};

/// A replica: opened with `polyarch_replica_open` or `polyarch_replica_from_image`, freed with
/// `polyarch_replica_free`. Safe to use from several threads (calls take turns).
pub struct PolyarchReplica {
    repo: Mutex<Repo>,
}

impl PolyarchReplica {
    /// Locks the replica for one call.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Repo>, Failure> {
        self.repo.lock().map_err(|_| {
            Failure::invalid("the replica was left broken by an earlier panic; free it")
        })
    }
}

/// Borrows the replica behind a pointer from C.
///
/// # Safety
/// `r` is NULL or a live replica from this library.
pub(crate) unsafe fn replica<'a>(
    r: *const PolyarchReplica,
) -> Result<&'a PolyarchReplica, Failure> {
    // SAFETY: the caller promises NULL or a live replica.
    unsafe { r.as_ref() }.ok_or_else(|| Failure::invalid("the replica is NULL"))
}

/// Hands a new replica to C through `out` (freed again if `out` is NULL).
///
/// # Safety
/// `out` is NULL or valid for a write.
unsafe fn hand_out(repo: Repo, out: *mut *mut PolyarchReplica) -> Result<(), Failure> {
    let boxed = Box::into_raw(Box::new(PolyarchReplica {
        repo: Mutex::new(repo),
    }));
    // SAFETY: the caller promises NULL or valid for a write (`put` checks NULL).
    unsafe { put(out, boxed, "out") }.inspect_err(|_| {
        // SAFETY: made just above and never handed out.
        drop(unsafe { Box::from_raw(boxed) });
    })
}

/// A path of map keys separated by `/`.
fn path(text: &str) -> Result<Path, Failure> {
    if text.is_empty() {
        return Err(Failure::invalid("the path is empty"));
    }
    Ok(Path::from(text.split('/').collect::<Vec<_>>().as_slice()))
}

/// The replica, document id and path of a typed edit or read, from C arguments.
///
/// # Safety
/// `r` is NULL or a live replica; `doc` and `at` are NULL or NUL-terminated strings.
unsafe fn target<'a>(
    r: *const PolyarchReplica,
    doc: *const c_char,
    at: *const c_char,
) -> Result<(&'a PolyarchReplica, &'a str, Path), Failure> {
    // SAFETY: forwarded from the caller's contract.
    let (r, doc, at) = unsafe {
        (
            replica(r)?,
            borrow_str(doc, "the document id")?,
            borrow_str(at, "the path")?,
        )
    };
    Ok((r, doc, path(at)?))
}

/// Makes one change to `doc` at `path` from C arguments.
///
/// # Safety
/// As for every exported edit: `r` a live replica, `doc` and `at` NUL-terminated strings.
pub(crate) unsafe fn change(
    r: *const PolyarchReplica,
    doc: *const c_char,
    at: *const c_char,
    f: impl FnOnce(&mut Tx<'_>, Path) -> Result<(), ModelError>,
) -> Result<(), Failure> {
    // SAFETY: forwarded from the caller's contract.
    let (r, doc, at) = unsafe { target(r, doc, at)? };
    r.lock()?.change(doc, |tx| f(tx, at))?;
    Ok(())
}

/// Reads `doc` at `path` from C arguments. A missing document fails with `NO_SUCH_DOC`.
///
/// # Safety
/// As for every exported read: `r` a live replica, `doc` and `at` NUL-terminated strings.
pub(crate) unsafe fn read<T>(
    r: *const PolyarchReplica,
    doc: *const c_char,
    at: *const c_char,
    f: impl FnOnce(&DocView<'_>, Path) -> Result<T, ModelError>,
) -> Result<T, Failure> {
    // SAFETY: forwarded from the caller's contract.
    let (r, doc, at) = unsafe { target(r, doc, at)? };
    Ok(r.lock()?.view(doc, |d| f(d, at))??)
}

/// Opens the replica stored in the SQLite file at `path` (created if missing), or a new one in
/// memory when `path` is NULL. On success `*out` is a replica to free with
/// `polyarch_replica_free`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_replica_open(
    path: *const c_char,
    out: *mut *mut PolyarchReplica,
) -> PolyarchStatus {
    guard(|| {
        let repo = if path.is_null() {
            Repo::in_memory(RepoConfig::default())?
        } else {
            // SAFETY: not NULL; the caller promises a NUL-terminated string.
            let path = unsafe { borrow_str(path, "the path")? };
            Repo::open(path, RepoConfig::default())?
        };
        // SAFETY: the caller promises `out` is valid for a write.
        unsafe { hand_out(repo, out) }
    })
}

/// Opens a replica from an image made by `polyarch_replica_export_image` (on any host: the
/// npm package makes the same images), as a new device. With `path`, the image becomes a new
/// file there (never overwriting one); with NULL it lives in memory. Bytes that are not an
/// image fail with code `STORE_NOT_AN_IMAGE`.
///
/// # Safety
/// `image` points to `len` readable bytes; `path` is NULL or a NUL-terminated string; `out`
/// is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_replica_from_image(
    image: *const u8,
    len: usize,
    path: *const c_char,
    out: *mut *mut PolyarchReplica,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises `len` readable bytes.
        let image = unsafe { borrow_bytes(image, len, "the image")? };
        let path = if path.is_null() {
            None
        } else {
            // SAFETY: not NULL; the caller promises a NUL-terminated string.
            Some(FsPath::new(unsafe { borrow_str(path, "the path")? }))
        };
        let repo = Repo::from_image(image, path, RepoConfig::default())?;
        // SAFETY: the caller promises `out` is valid for a write.
        unsafe { hand_out(repo, out) }
    })
}

/// The whole replica as bytes (an image): `*data` and `*len` receive a buffer to free with
/// `polyarch_bytes_free(data, len)`.
///
/// # Safety
/// `r` is a live replica; `data` and `len` are valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_replica_export_image(
    r: *const PolyarchReplica,
    data: *mut *mut u8,
    len: *mut usize,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises a live replica.
        let r = unsafe { replica(r)? };
        if data.is_null() || len.is_null() {
            return Err(Failure::invalid("data or len is NULL"));
        }
        let image = r.lock()?.export_image()?;
        let (ptr, n) = give_bytes(image);
        // SAFETY: both checked non-NULL above; the caller promises they are valid for writes.
        unsafe {
            data.write(ptr);
            len.write(n);
        }
        Ok(())
    })
}

/// Closes the replica (committing waiting changes) and frees it. NULL is allowed.
///
/// # Safety
/// `r` is NULL or a replica from this library, not freed before, and no session call using it
/// is running.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_replica_free(r: *mut PolyarchReplica) {
    if !r.is_null() {
        let _ = guard(|| {
            // SAFETY: made by `Box::into_raw` in an open function, freed once.
            drop(unsafe { Box::from_raw(r) });
            Ok(())
        });
    }
}

/// The whole document as JSON (registers in conflict show their winner): `*out` receives a
/// string to free with `polyarch_string_free`. A missing document fails with `NO_SUCH_DOC`.
///
/// # Safety
/// `r` is a live replica; `doc` is a NUL-terminated string; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_doc_to_json(
    r: *const PolyarchReplica,
    doc: *const c_char,
    out: *mut *mut c_char,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises a live replica and a NUL-terminated string.
        let (r, doc) = unsafe { (replica(r)?, borrow_str(doc, "the document id")?) };
        let json = r.lock()?.to_json(doc)?.to_string();
        // SAFETY: the caller promises `out` is NULL or valid for a write.
        unsafe { put_string(out, &json) }
    })
}
