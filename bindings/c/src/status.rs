//! Status codes, the per-thread last error, and the guard every exported function runs in.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a call returned. On anything but `POLYARCH_STATUS_OK`, the last error says more.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolyarchStatus {
    /// It worked.
    Ok = 0,
    /// Polyarch refused or failed (a corrupt frame, a type mismatch, a busy file, ...).
    Failed = 1,
    /// An argument was NULL, not UTF-8, or otherwise unusable.
    InvalidArgument = 2,
    /// A bug inside Polyarch: the call was stopped before it could unwind into C. The
    /// objects it touched should be freed and not used again.
    Panicked = 3,
}

/// Why a call failed: a stable code and a message.
pub(crate) struct Failure {
    status: PolyarchStatus,
    code: String,
    message: String,
}

impl Failure {
    /// An argument the caller got wrong.
    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        Self {
            status: PolyarchStatus::InvalidArgument,
            code: "INVALID_ARGUMENT".into(),
            message: format!("invalid argument: {}", what.into()),
        }
    }
}

impl From<polyarch::Error> for Failure {
    fn from(e: polyarch::Error) -> Self {
        Self {
            status: PolyarchStatus::Failed,
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<polyarch::sync::SyncError> for Failure {
    fn from(e: polyarch::sync::SyncError) -> Self {
        polyarch::Error::Sync(e).into()
    }
}

impl From<polyarch::ModelError> for Failure {
    fn from(e: polyarch::ModelError) -> Self {
        polyarch::Error::Model(e).into()
    }
}

struct LastError {
    code: CString,
    message: CString,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// A C string from Rust text, with any NUL replaced (they cannot appear in a C string).
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

fn set_last_error(failure: Failure) -> PolyarchStatus {
    let status = failure.status;
    LAST_ERROR.with(|last| {
        *last.borrow_mut() = Some(LastError {
            code: c_string(&failure.code),
            message: c_string(&failure.message),
        });
    });
    status
}

/// Runs the body of an exported function: clears the last error, turns a failure into its
/// status, and stops a panic at the boundary.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> PolyarchStatus {
    LAST_ERROR.with(|last| last.borrow_mut().take());
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => PolyarchStatus::Ok,
        Ok(Err(failure)) => set_last_error(failure),
        Err(_) => set_last_error(Failure {
            status: PolyarchStatus::Panicked,
            code: "PANICKED".into(),
            message: "a bug in Polyarch stopped this call; please report it".into(),
        }),
    }
}

/// The stable code of this thread's last error ("STORE_BUSY", "INVALID_ARGUMENT", ...), or
/// NULL if the last call succeeded. Borrowed: valid until the next polyarch call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn polyarch_last_error_code() -> *const c_char {
    LAST_ERROR.with(|last| {
        last.borrow()
            .as_ref()
            .map_or(std::ptr::null(), |e| e.code.as_ptr())
    })
}

/// The message of this thread's last error (what happened and what to do next), or NULL if
/// the last call succeeded. Borrowed: valid until the next polyarch call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn polyarch_last_error_message() -> *const c_char {
    LAST_ERROR.with(|last| {
        last.borrow()
            .as_ref()
            .map_or(std::ptr::null(), |e| e.message.as_ptr())
    })
}
