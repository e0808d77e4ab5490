//! The umbrella error of the public API.

use thiserror::Error;

use crate::{DocId, IdError, ModelError, StoreError, TokenError, sync::SyncError};

/// Anything a [`crate::Repo`] call can fail with. Each layer's own error is inside.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A malformed identifier.
    #[error(transparent)]
    Id(#[from] IdError),
    /// A document edit or read failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The SQLite store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Syncing failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// A version token could not be read.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The document does not exist in this replica.
    #[error(
        "document {doc} does not exist in this replica: create it with Repo::create or sync it from a peer"
    )]
    NoSuchDoc {
        /// The document asked for.
        doc: DocId,
    },
    /// A [`crate::RepoConfig::lease`] that cannot be used here, or a claim without one.
    #[error("invalid lease: {why}")]
    InvalidLease {
        /// What is wrong, and what to do instead.
        why: &'static str,
    },
}

impl Error {
    /// A stable code naming the layer and the variant, for bindings to hand to other
    /// languages (their exceptions carry it): `NO_SUCH_DOC`, `ID_DOC_ID`, `MODEL_TYPE_MISMATCH`,
    /// `STORE_BUSY`, `STORE_NOT_AN_IMAGE`, `SYNC_WIRE`, `TOKEN_...`. Codes are derived from the
    /// Rust variant names, so renaming a variant changes its code.
    pub fn code(&self) -> String {
        let (layer, inner) = match self {
            Error::NoSuchDoc { .. } => return "NO_SUCH_DOC".into(),
            Error::InvalidLease { .. } => return "INVALID_LEASE".into(),
            Error::Id(i) => ("ID", format!("{i:?}")),
            Error::Model(m) => ("MODEL", format!("{m:?}")),
            Error::Store(s) => ("STORE", format!("{s:?}")),
            Error::Sync(s) => ("SYNC", format!("{s:?}")),
            Error::Token(t) => ("TOKEN", format!("{t:?}")),
        };
        format!("{layer}_{}", variant_code(&inner))
    }
}

/// `TypeMismatch { .. }` -> `TYPE_MISMATCH`: the Rust variant name, from its `Debug` form.
fn variant_code(debug: &str) -> String {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    if out.is_empty() {
        "UNKNOWN".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_name_the_variant() {
        assert_eq!(variant_code("TypeMismatch { path: .. }"), "TYPE_MISMATCH");
        assert_eq!(variant_code("Busy"), "BUSY");
        assert_eq!(variant_code("Wire(Truncated)"), "WIRE");
        assert_eq!(variant_code(""), "UNKNOWN");
        let e = Error::Store(crate::StoreError::NotAnImage { len: 3 });
        assert_eq!(e.code(), "STORE_NOT_AN_IMAGE");
    }
}
