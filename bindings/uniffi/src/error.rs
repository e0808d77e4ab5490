//! The one error every call raises: the host's exception, with a stable code.

/// A failed call. `code` is stable (`STORE_BUSY`, `MODEL_TYPE_MISMATCH`, `SYNC_WIRE`,
/// `NO_SUCH_DOC`, ... from the core; `INVALID_ARGUMENT`, `NETWORK`, `CLOSED` from the
/// bindings); `detail` says what happened and what to do next.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum PolyarchError {
    /// The call failed; nothing it would have written was written.
    #[error("{code}: {detail}")]
    Failed {
        /// Stable code: layer and variant.
        code: String,
        /// What happened and what to do next.
        detail: String,
    },
}

impl PolyarchError {
    /// An argument the caller got wrong.
    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::failed("INVALID_ARGUMENT", detail)
    }

    /// An error of the bindings themselves.
    pub(crate) fn failed(code: &str, detail: impl Into<String>) -> Self {
        Self::Failed {
            code: code.into(),
            detail: detail.into(),
        }
    }

    /// A replica whose lock a panic poisoned.
    pub(crate) fn poisoned() -> Self {
        Self::failed(
            "POISONED",
            "the replica was left broken by an earlier panic: open it again",
        )
    }
}

impl From<polyarch::Error> for PolyarchError {
    fn from(e: polyarch::Error) -> Self {
        Self::Failed {
            code: e.code(),
            detail: e.to_string(),
        }
    }
}

impl From<polyarch::ModelError> for PolyarchError {
    fn from(e: polyarch::ModelError) -> Self {
        polyarch::Error::Model(e).into()
    }
}

impl From<polyarch::sync::SyncError> for PolyarchError {
    fn from(e: polyarch::sync::SyncError) -> Self {
        polyarch::Error::Sync(e).into()
    }
}
