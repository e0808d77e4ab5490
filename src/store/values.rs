//! Conversions between Polyarch's types and SQLite values, checked both ways: nothing read
//! from the database is trusted.

use automerge::ChangeHash;

use super::error::StoreError;
use super::schema::{INTEREST_FORMAT, VV_FORMAT};
use crate::codec::{DecodeError, Reader, Writer};
use crate::ids::IdError;
use crate::sync::Interest;
use crate::{DeviceId, DocId, Epoch, VersionVector};

/// A number for a SQLite integer column (which holds at most `i64::MAX`).
pub(crate) fn to_sql(what: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange {
        what,
        value,
        max: i64::MAX as u64,
    })
}

/// A bound for a query: values past `i64::MAX` cannot be stored, so they clamp to it.
pub(crate) fn bound(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A number read from a SQLite integer column; negative ones are corrupt.
pub(crate) fn from_sql(what: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        what,
        source: DecodeError::BadInteger { at: 0 },
    })
}

/// A change hash read from the database (exactly 32 bytes).
pub(crate) fn hash(bytes: &[u8]) -> Result<ChangeHash, StoreError> {
    let mut r = Reader::new(bytes);
    r.array::<32>()
        .and_then(|h| r.finish().map(|()| ChangeHash(h)))
        .map_err(|source| StoreError::Corrupt {
            what: "change hash",
            source,
        })
}

/// A document id read from the database.
pub(crate) fn doc_id(text: String) -> Result<DocId, StoreError> {
    DocId::new(text).map_err(|source| StoreError::CorruptId {
        what: "document id",
        source,
    })
}

fn corrupt_id(what: &'static str) -> impl Fn(IdError) -> StoreError {
    move |source| StoreError::CorruptId { what, source }
}

/// A device id read from the database.
pub(crate) fn device(what: &'static str, bytes: &[u8]) -> Result<DeviceId, StoreError> {
    DeviceId::from_slice(bytes).map_err(corrupt_id(what))
}

/// An epoch read from the database.
pub(crate) fn epoch(what: &'static str, bytes: &[u8]) -> Result<Epoch, StoreError> {
    Epoch::from_slice(bytes).map_err(corrupt_id(what))
}

/// A version vector in its column format (see the schema docs).
pub(crate) fn encode_vv(vv: &VersionVector) -> Vec<u8> {
    versioned(VV_FORMAT, |w| vv.encode_into(w))
}

/// Reads a version vector written by [`encode_vv`].
pub(crate) fn decode_vv(bytes: &[u8]) -> Result<VersionVector, StoreError> {
    read_versioned(
        bytes,
        VV_FORMAT,
        "snapshot version vector",
        VersionVector::decode_from,
    )
}

/// A peer's interest in its column format (see the schema docs).
pub(crate) fn encode_interest(interest: &Interest) -> Vec<u8> {
    versioned(INTEREST_FORMAT, |w| interest.encode_into(w))
}

/// Reads an interest written by [`encode_interest`].
pub(crate) fn decode_interest(bytes: &[u8]) -> Result<Interest, StoreError> {
    read_versioned(
        bytes,
        INTEREST_FORMAT,
        "peer interest",
        Interest::decode_from,
    )
}

/// A column value: the format byte `format`, then what `write` writes.
fn versioned(format: u8, write: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(format);
    write(&mut w);
    w.into_bytes()
}

/// Reads a column value written by [`versioned`]: its format byte must be `format`, and `read`
/// must read it to its last byte.
fn read_versioned<T>(
    bytes: &[u8],
    format: u8,
    what: &'static str,
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<T, StoreError> {
    let decode = || {
        let mut r = Reader::new(bytes);
        let found = r.u8()?;
        if found != format {
            return Err(DecodeError::Unknown {
                what: "column format",
                value: found.into(),
                at: 0,
            });
        }
        let value = read(&mut r)?;
        r.finish()?;
        Ok(value)
    };
    decode().map_err(|source| StoreError::Corrupt { what, source })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use automerge::ActorId;

    use super::*;

    #[test]
    fn corrupt_values_are_errors() {
        assert!(matches!(hash(&[0; 31]), Err(StoreError::Corrupt { .. })));
        assert!(hash(&[0; 33]).is_err());
        assert_eq!(hash(&[7; 32]).unwrap(), ChangeHash([7; 32]));
        assert!(matches!(
            doc_id(String::new()),
            Err(StoreError::CorruptId { .. })
        ));
        assert!(device("device", &[1; 15]).is_err());
        assert!(from_sql("seq", -1).is_err());
        assert!(matches!(
            to_sql("seq", u64::MAX),
            Err(StoreError::OutOfRange { .. })
        ));
        assert_eq!(bound(u64::MAX), i64::MAX);
    }

    #[test]
    fn version_vectors_round_trip_and_reject_garbage() {
        let vv: VersionVector = [(ActorId::from(&[1u8; 16][..]), 9)].into_iter().collect();
        let bytes = encode_vv(&vv);
        assert_eq!(decode_vv(&bytes).unwrap(), vv);
        for cut in 0..bytes.len() {
            assert!(decode_vv(&bytes[..cut]).is_err());
        }
        let mut newer = bytes.clone();
        newer[0] = 2;
        assert!(decode_vv(&newer).is_err());
        let mut long = bytes;
        long.push(0);
        assert!(decode_vv(&long).is_err());
    }
}
