//! What crosses the boundary: C strings and byte buffers in, owned strings and buffers out,
//! and the functions that free what was handed out.

use std::ffi::{CStr, CString, c_char};

use crate::status::{Failure, c_string};

/// Borrows a NUL-terminated UTF-8 string from C for the length of a call.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that lives through the call.
pub(crate) unsafe fn borrow_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string that outlives the call.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| Failure::invalid(format!("{what} is not UTF-8")))
}

/// Borrows `len` bytes from C for the length of a call (NULL is allowed when `len` is 0).
///
/// # Safety
/// `ptr` points to `len` readable bytes that live through the call.
pub(crate) unsafe fn borrow_bytes<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // SAFETY: not NULL, and the caller promises `len` readable bytes that outlive the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Writes `value` through an out-parameter, failing if it is NULL.
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub(crate) unsafe fn put<T>(out: *mut T, value: T, what: &str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // SAFETY: not NULL, and the caller promises it is valid for writes.
    unsafe { out.write(value) };
    Ok(())
}

/// Hands a string to C through `out`; the caller frees it with [`polyarch_string_free`].
/// Nothing is allocated when `out` is NULL.
///
/// # Safety
/// `out` is NULL or valid for a write.
pub(crate) unsafe fn put_string(out: *mut *mut c_char, s: &str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::invalid("out is NULL"));
    }
    // SAFETY: not NULL, and the caller promises it is valid for writes.
    unsafe { out.write(c_string(s).into_raw()) };
    Ok(())
}

/// Hands bytes to C; the caller frees them with [`polyarch_bytes_free`] and the same length.
pub(crate) fn give_bytes(bytes: Vec<u8>) -> (*mut u8, usize) {
    let boxed = bytes.into_boxed_slice();
    let len = boxed.len();
    (Box::into_raw(boxed).cast::<u8>(), len)
}

/// Frees a string this library returned. NULL is allowed.
///
/// # Safety
/// `s` is NULL or a string returned by this library, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: made by `CString::into_raw` in `put_string`, freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Frees a byte buffer this library returned, given with the length it came with. NULL is
/// allowed.
///
/// # Safety
/// `data` is NULL or a buffer returned by this library with exactly `len` bytes, not freed
/// before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_bytes_free(data: *mut u8, len: usize) {
    if !data.is_null() {
        // SAFETY: made by `Box::into_raw` of a boxed slice of `len` bytes in `give_bytes`.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
    }
}
