//! The typed CRDTs at a path in a document: registers, counters, sets and text. Each edit is
//! one change (committed before the call returns); each read sees the replica as it is now.

use std::ffi::c_char;

use polyarch::model::SetMut;
use polyarch::{DocView, ModelError, Path, Value};
use serde::Serialize;

use crate::memory::{borrow_str, put, put_string};
use crate::replica::{PolyarchReplica, change, read};
use crate::status::{Failure, PolyarchStatus, guard};

/// Reads `doc` at `path` and hands the result to C as JSON text in `*out`.
///
/// # Safety
/// As for every exported read: `r` a live replica, `doc` and `path` NUL-terminated strings,
/// `out` valid for a write.
unsafe fn read_json<T: Serialize>(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    out: *mut *mut c_char,
    f: impl FnOnce(&DocView<'_>, Path) -> Result<T, ModelError>,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let value = unsafe { read(r, doc, path, f)? };
        let json = serde_json::to_string(&value)
            .map_err(|e| Failure::invalid(format!("a value cannot be written as JSON: {e}")))?;
        // SAFETY: the caller promises `out` is NULL or valid for a write.
        unsafe { put_string(out, &json) }
    })
}

/// Sets the register at `path` in `doc` to a string. A concurrent set by another device keeps
/// both values as a conflict (see `polyarch_register_conflicts_json`); setting the register
/// again, on any device, replaces every value it has seen: that resolves the conflict.
///
/// # Safety
/// `r` is a live replica; `doc`, `path` and `value` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_register_set_string(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    value: *const c_char,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises NUL-terminated strings and a live replica.
        unsafe {
            let value = borrow_str(value, "the value")?;
            change(r, doc, path, |tx, at| tx.register(at).set(value))
        }
    })
}

/// Sets the register at `path` in `doc` to an integer (resolving a conflict, as
/// `polyarch_register_set_string` does).
///
/// # Safety
/// `r` is a live replica; `doc` and `path` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_register_set_int(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    value: i64,
) -> PolyarchStatus {
    // SAFETY: forwarded from the caller's contract.
    guard(|| unsafe { change(r, doc, path, |tx, at| tx.register(at).set(value)) })
}

/// Sets the register at `path` in `doc` to a value of any type, written as the JSON object
/// the reads return: `{"type": "str", "value": "Daily"}`, `{"type": "int", "value": 7}`,
/// `{"type": "bool", "value": true}`, `{"type": "f64", ...}`, `{"type": "timestamp", ...}`
/// (milliseconds), `{"type": "bytes", "value": [1, 2]}` or `{"type": "null"}`. To resolve a
/// conflict in favour of one of the values, pass that element of
/// `polyarch_register_conflicts_json` back: every concurrent value is replaced by it. JSON
/// that is not such an object fails with `POLYARCH_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `r` is a live replica; `doc`, `path` and `value_json` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_register_set_json(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    value_json: *const c_char,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises NUL-terminated strings and a live replica.
        unsafe {
            let text = borrow_str(value_json, "the value")?;
            let value: Value = serde_json::from_str(text).map_err(|e| {
                Failure::invalid(format!(
                    "the value is not a {{\"type\": ..., \"value\": ...}} object: {e}"
                ))
            })?;
            change(r, doc, path, |tx, at| tx.register(at).set(value))
        }
    })
}

/// The winning value of the register at `path` (the same on every replica that has seen the
/// same changes), as a JSON object `{"type": ..., "value": ...}` (the types are listed at
/// `polyarch_register_set_json`), or `null` when the register was never set: `*out` receives
/// a string to free with `polyarch_string_free`.
///
/// # Safety
/// `r` is a live replica; `doc` and `path` are NUL-terminated strings; `out` is valid for a
/// write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_register_get_json(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    out: *mut *mut c_char,
) -> PolyarchStatus {
    // SAFETY: forwarded from the caller's contract.
    unsafe { read_json(r, doc, path, out, |d, at| d.register(at).get()) }
}

/// Every concurrent value of the register at `path`, winner first, as a JSON array of
/// `{"type": ..., "value": ...}` (more than one element means a conflict): `*out` receives a
/// string to free with `polyarch_string_free`.
///
/// # Safety
/// `r` is a live replica; `doc` and `path` are NUL-terminated strings; `out` is valid for a
/// write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_register_conflicts_json(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    out: *mut *mut c_char,
) -> PolyarchStatus {
    // SAFETY: forwarded from the caller's contract.
    unsafe { read_json(r, doc, path, out, |d, at| d.register(at).conflicts()) }
}

/// Adds `by` (negative to subtract) to the counter at `path`; concurrent increments sum.
///
/// # Safety
/// `r` is a live replica; `doc` and `path` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_counter_increment(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    by: i64,
) -> PolyarchStatus {
    // SAFETY: forwarded from the caller's contract.
    guard(|| unsafe { change(r, doc, path, |tx, at| tx.counter(at).increment(by)) })
}

/// The value of the counter at `path` (0 when it was never incremented) into `*out`.
///
/// # Safety
/// `r` is a live replica; `doc` and `path` are NUL-terminated strings; `out` is valid for a
/// write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_counter_value(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    out: *mut i64,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises a live replica and NUL-terminated strings.
        let value = unsafe { read(r, doc, path, |d, at| d.counter(at).value())? };
        // SAFETY: the caller promises `out` is NULL or valid for a write.
        unsafe { put(out, value, "out") }
    })
}

/// Adds `member` to the set at `path` (add wins over a concurrent remove).
///
/// # Safety
/// `r` is a live replica; `doc`, `path` and `member` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_set_add(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    member: *const c_char,
) -> PolyarchStatus {
    // SAFETY: forwarded from the caller's contract.
    unsafe { set_edit(r, doc, path, member, |set, m| set.add(m)) }
}

/// Removes `member` from the set at `path`: the adds this replica has seen. An add made
/// concurrently on another device wins; removing a member that is not there does nothing.
///
/// # Safety
/// `r` is a live replica; `doc`, `path` and `member` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_set_remove(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    member: *const c_char,
) -> PolyarchStatus {
    // SAFETY: forwarded from the caller's contract.
    unsafe { set_edit(r, doc, path, member, |set, m| set.remove(m)) }
}

/// One edit of a set by member, from C arguments.
///
/// # Safety
/// As for [`polyarch_set_add`].
unsafe fn set_edit(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    member: *const c_char,
    f: impl FnOnce(&mut SetMut<'_, '_>, &str) -> Result<(), ModelError>,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises NUL-terminated strings and a live replica.
        unsafe {
            let member = borrow_str(member, "the member")?;
            change(r, doc, path, |tx, at| f(&mut tx.set(at), member))
        }
    })
}

/// The members of the set at `path`, sorted, as a JSON array of strings (`[]` when nothing is
/// there): `*out` receives a string to free with `polyarch_string_free`.
///
/// # Safety
/// `r` is a live replica; `doc` and `path` are NUL-terminated strings; `out` is valid for a
/// write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_set_members_json(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    out: *mut *mut c_char,
) -> PolyarchStatus {
    // SAFETY: forwarded from the caller's contract.
    unsafe { read_json(r, doc, path, out, |d, at| d.set(at).members()) }
}

/// Whether `member` is in the set at `path`, into `*out`.
///
/// # Safety
/// `r` is a live replica; `doc`, `path` and `member` are NUL-terminated strings; `out` is
/// valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_set_contains(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    member: *const c_char,
    out: *mut bool,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises NUL-terminated strings, a live replica and `out` NULL
        // or valid for a write.
        unsafe {
            let member = borrow_str(member, "the member")?;
            let found = read(r, doc, path, |d, at| d.set(at).contains(member))?;
            put(out, found, "out")
        }
    })
}

/// Edits the collaborative text at `path`: at character `pos` (counted in Unicode code
/// points), deletes `delete_count` characters, then inserts `insert` (NULL inserts nothing).
/// The text, and missing maps above it, are created when missing. Concurrent splices on
/// other replicas interleave; none is lost. A range past the end fails with code
/// `MODEL_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `r` is a live replica; `doc` and `path` are NUL-terminated strings; `insert` is NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_text_splice(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    pos: usize,
    delete_count: usize,
    insert: *const c_char,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises NUL-terminated strings (or a NULL `insert`) and a live
        // replica.
        unsafe {
            let insert = if insert.is_null() {
                ""
            } else {
                borrow_str(insert, "the inserted text")?
            };
            change(r, doc, path, |tx, at| {
                tx.text(at).splice(pos, delete_count, insert)
            })
        }
    })
}

/// The collaborative text at `path` (empty when nothing is there): `*out` receives a string
/// to free with `polyarch_string_free`.
///
/// # Safety
/// `r` is a live replica; `doc` and `path` are NUL-terminated strings; `out` is valid for a
/// write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_text_value(
    r: *const PolyarchReplica,
    doc: *const c_char,
    path: *const c_char,
    out: *mut *mut c_char,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises a live replica and NUL-terminated strings.
        let text = unsafe { read(r, doc, path, |d, at| d.text(at).to_string())? };
        // SAFETY: the caller promises `out` is NULL or valid for a write.
        unsafe { put_string(out, &text) }
    })
}
