//! Errors as JavaScript sees them: real `Error` objects with `name === "PolyarchError"` and a
//! stable `code`.
//!
//! Codes name the layer and the Rust variant in SCREAMING_SNAKE_CASE: `MODEL_TYPE_MISMATCH`,
//! `MODEL_INDEX_OUT_OF_RANGE`, `STORE_BUSY`, `SYNC_WIRE`, `ID_DOC_ID`, `NO_SUCH_DOC`, ... plus the
//! bindings' own ([`BindingError`]): `INVALID_ARGUMENT`, `REPO_BUSY`, `STORAGE_UNAVAILABLE`,
//! `CLOSED`.

use std::fmt;

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

/// The `name` of every error this package throws.
pub const ERROR_NAME: &str = "PolyarchError";

/// What the bindings themselves reject, before the core is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingError {
    /// An argument of the wrong type or shape.
    InvalidArgument {
        /// What was expected.
        what: String,
    },
    /// The repo was used from inside one of its own callbacks (a `change` callback calling
    /// `change` again, for instance).
    RepoBusy,
    /// The requested storage cannot be used here (OPFS outside a dedicated Worker, or in Node).
    StorageUnavailable {
        /// Why.
        why: String,
    },
    /// The repo was closed.
    Closed,
}

impl BindingError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            BindingError::InvalidArgument { .. } => "INVALID_ARGUMENT",
            BindingError::RepoBusy => "REPO_BUSY",
            BindingError::StorageUnavailable { .. } => "STORAGE_UNAVAILABLE",
            BindingError::Closed => "CLOSED",
        }
    }
}

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindingError::InvalidArgument { what } => {
                write!(f, "invalid argument: expected {what}")
            }
            BindingError::RepoBusy => f.write_str(
                "the repo is busy: it cannot be used from inside its own change callback; \
                 make the call after the callback returns",
            ),
            BindingError::StorageUnavailable { why } => write!(f, "storage unavailable: {why}"),
            BindingError::Closed => f.write_str("the repo is closed: open it again"),
        }
    }
}

impl From<BindingError> for JsValue {
    fn from(e: BindingError) -> JsValue {
        js_error(e.code(), &e.to_string())
    }
}

/// A core error as a JS `Error`, with the core's stable code ([`polyarch::Error::code`]).
pub fn core(e: polyarch::Error) -> JsValue {
    js_error(&e.code(), &e.to_string())
}

/// A sync error as a JS `Error`.
pub fn sync(e: polyarch::sync::SyncError) -> JsValue {
    core(polyarch::Error::Sync(e))
}

/// Shorthand for an invalid argument.
pub fn invalid(what: impl Into<String>) -> JsValue {
    BindingError::InvalidArgument { what: what.into() }.into()
}

/// `new Error(message)` with `name` and `code` set.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name(ERROR_NAME);
    // Setting a property on a fresh Error cannot fail; if it ever did, the Error still stands.
    let _ = Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}
