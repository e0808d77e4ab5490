//! Identifiers: documents, devices, store epochs.

use std::fmt;

use thiserror::Error;

/// The longest document id accepted, in bytes.
pub const MAX_DOC_ID_LEN: usize = 256;

/// A document's name, chosen by the application (`"calendar/team-7"`).
///
/// 1 to [`MAX_DOC_ID_LEN`] bytes of UTF-8 without control characters. Ids are compared
/// byte for byte; a `/` has no meaning to Polyarch but lets access scopes use prefixes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocId(String);

/// An identifier that does not meet the rules of its type.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IdError {
    /// A document id was empty, too long or held control characters.
    #[error(
        "invalid document id {id:?}: use 1 to {MAX_DOC_ID_LEN} bytes of text without control characters"
    )]
    DocId {
        /// The rejected id (cut to 64 characters).
        id: String,
    },
    /// A device id or epoch was not 16 bytes (32 hex digits).
    #[error("invalid {what}: expected 16 bytes written as 32 hex digits")]
    Bytes16 {
        /// Which kind of id it was.
        what: &'static str,
    },
}

impl DocId {
    /// Checks `id` and makes a document id of it.
    pub fn new(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_DOC_ID_LEN || id.chars().any(char::is_control) {
            return Err(IdError::DocId {
                id: id.chars().take(64).collect(),
            });
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DocId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::new(s)
    }
}

impl TryFrom<&str> for DocId {
    type Error = IdError;
    fn try_from(s: &str) -> Result<Self, IdError> {
        Self::new(s)
    }
}

impl From<DocId> for String {
    fn from(id: DocId) -> String {
        id.0
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({:?})", self.0)
    }
}

impl AsRef<str> for DocId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

macro_rules! bytes16_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; 16]);

        impl $name {
            /// A new random id.
            pub fn random() -> Self {
                Self(random16())
            }

            /// The id from its 16 bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// The id's 16 bytes.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }

            /// Reads an id from a slice that must be 16 bytes long.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, IdError> {
                <[u8; 16]>::try_from(bytes)
                    .map(Self)
                    .map_err(|_| IdError::Bytes16 { what: $what })
            }

            /// Parses the 32-hex-digit form that `Display` writes.
            pub fn from_hex(s: &str) -> Result<Self, IdError> {
                let bytes = hex_decode(s).ok_or(IdError::Bytes16 { what: $what })?;
                Self::from_slice(&bytes)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }
    };
}

bytes16_id!(
    /// A device's stable identity: made once when its store is created, kept for the store's life.
    DeviceId,
    "device id"
);
bytes16_id!(
    /// A store's epoch: a random id made when the store is created. A peer that remembers a
    /// cursor under another epoch (the store was wiped or replaced) must not trust that cursor.
    Epoch,
    "epoch"
);

fn random16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // getrandom fails only on platforms without any entropy source; there is nothing safe to
    // fall back to, so an id would not be unique.
    getrandom::fill(&mut bytes).expect("the platform has no source of randomness");
    bytes
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Anything that names a document: `&str`, `String`, `&DocId` or `DocId`.
pub trait IntoDocId {
    /// Checks and converts.
    fn into_doc_id(self) -> Result<DocId, IdError>;
}

impl IntoDocId for &str {
    fn into_doc_id(self) -> Result<DocId, IdError> {
        DocId::new(self)
    }
}

impl IntoDocId for String {
    fn into_doc_id(self) -> Result<DocId, IdError> {
        DocId::new(self)
    }
}

impl IntoDocId for &String {
    fn into_doc_id(self) -> Result<DocId, IdError> {
        DocId::new(self.as_str())
    }
}

impl IntoDocId for DocId {
    fn into_doc_id(self) -> Result<DocId, IdError> {
        Ok(self)
    }
}

impl IntoDocId for &DocId {
    fn into_doc_id(self) -> Result<DocId, IdError> {
        Ok(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_ids_are_checked() {
        assert!(DocId::new("calendar/team-7").is_ok());
        assert!(DocId::new("").is_err());
        assert!(DocId::new("a\nb").is_err());
        assert!(DocId::new("x".repeat(MAX_DOC_ID_LEN + 1)).is_err());
    }

    #[test]
    fn device_ids_round_trip_through_hex() {
        let id = DeviceId::random();
        assert_eq!(DeviceId::from_hex(&id.to_string()).unwrap(), id);
        assert!(DeviceId::from_hex("zz").is_err());
        assert_ne!(Epoch::random(), Epoch::random());
    }
}
