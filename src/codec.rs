//! Bounded binary reading and writing, shared by every format Polyarch persists or sends.
//!
//! Integers are unsigned LEB128 (the `leb128` crate). A [`Reader`] never panics and never
//! allocates more than the bytes it was given: every length it reads is checked against what is
//! left before anything is allocated.

use thiserror::Error;

/// Why bytes could not be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the value did: the bytes were cut short or are corrupt.
    #[error(
        "truncated input: needed {needed} more bytes at offset {at}; the data is cut short or corrupt"
    )]
    Truncated {
        /// Offset where the value started.
        at: usize,
        /// How many more bytes were needed.
        needed: usize,
    },
    /// A variable-length integer was malformed or too large for 64 bits.
    #[error("malformed integer at offset {at}: the data is corrupt")]
    BadInteger {
        /// Offset of the integer.
        at: usize,
    },
    /// A length or count exceeded what the format allows.
    #[error(
        "{what} of {value} at offset {at} exceeds the limit of {limit}: the data is corrupt or hostile"
    )]
    TooLarge {
        /// What was being read.
        what: &'static str,
        /// The value that was read.
        value: u64,
        /// The limit.
        limit: u64,
        /// Offset of the value.
        at: usize,
    },
    /// Text that is not valid UTF-8.
    #[error("invalid UTF-8 text at offset {at}: the data is corrupt")]
    BadUtf8 {
        /// Offset of the text.
        at: usize,
    },
    /// Bytes remained after the value ended.
    #[error("{count} unexpected trailing bytes: the data is corrupt")]
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// A value that the format does not define (an unknown tag).
    #[error("unknown {what} {value} at offset {at}: the data is corrupt or from a newer Polyarch")]
    Unknown {
        /// What was being read.
        what: &'static str,
        /// The value found.
        value: u64,
        /// Offset of the value.
        at: usize,
    },
}

/// Reads values from a byte slice, checking every bound.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The current offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }

    /// Reads `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let at = self.pos;
        let end = at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(DecodeError::Truncated {
                at,
                needed: n.saturating_sub(self.remaining()),
            })?;
        self.pos = end;
        Ok(&self.bytes[at..end])
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let slice = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian `u32`.
    pub fn u32_le(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads an unsigned LEB128 integer.
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        let at = self.pos;
        let mut rest = &self.bytes[self.pos..];
        let before = rest.len();
        match leb128::read::unsigned(&mut rest) {
            Ok(v) => {
                self.pos += before - rest.len();
                Ok(v)
            }
            Err(leb128::read::Error::IoError(_)) => Err(DecodeError::Truncated { at, needed: 1 }),
            Err(leb128::read::Error::Overflow) => Err(DecodeError::BadInteger { at }),
        }
    }

    /// Reads an unsigned integer that must not exceed `limit`.
    pub fn uint_max(&mut self, what: &'static str, limit: u64) -> Result<u64, DecodeError> {
        let at = self.pos;
        let value = self.uint()?;
        if value > limit {
            return Err(DecodeError::TooLarge {
                what,
                value,
                limit,
                at,
            });
        }
        Ok(value)
    }

    /// Reads a length (at most `limit`) that counts items of at least `min_item_bytes` each,
    /// and checks that many items could still fit in the input before anyone allocates for them.
    pub fn count(
        &mut self,
        what: &'static str,
        limit: usize,
        min_item_bytes: usize,
    ) -> Result<usize, DecodeError> {
        let at = self.pos;
        let value = self.uint_max(what, limit as u64)? as usize;
        let needed = value.saturating_mul(min_item_bytes.max(1));
        if needed > self.remaining() {
            return Err(DecodeError::Truncated {
                at,
                needed: needed - self.remaining(),
            });
        }
        Ok(value)
    }

    /// Reads a length-prefixed byte string of at most `limit` bytes.
    pub fn blob(&mut self, what: &'static str, limit: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.count(what, limit, 1)?;
        self.bytes(len)
    }

    /// Reads length-prefixed UTF-8 text of at most `limit` bytes.
    pub fn str(&mut self, what: &'static str, limit: usize) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let bytes = self.blob(what, limit)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::BadUtf8 { at })
    }
}

/// Appends values to a byte vector, in the encodings [`Reader`] reads.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
        }
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// How many bytes were written.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Appends a little-endian `u32`.
    pub fn u32_le(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends an unsigned LEB128 integer.
    pub fn uint(&mut self, v: u64) -> &mut Self {
        // Writing to a Vec cannot fail.
        let _ = leb128::write::unsigned(&mut self.buf, v);
        self
    }

    /// Appends a length-prefixed byte string.
    pub fn blob(&mut self, bytes: &[u8]) -> &mut Self {
        self.uint(bytes.len() as u64).bytes(bytes)
    }

    /// Appends length-prefixed UTF-8 text.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.blob(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_truncation() {
        let mut w = Writer::new();
        w.uint(300).str("hé").blob(&[1, 2, 3]).u32_le(7).u8(9);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.uint().unwrap(), 300);
        assert_eq!(r.str("s", 10).unwrap(), "hé");
        assert_eq!(r.blob("b", 10).unwrap(), &[1, 2, 3]);
        assert_eq!(r.u32_le().unwrap(), 7);
        assert_eq!(r.u8().unwrap(), 9);
        r.finish().unwrap();
        for cut in 0..bytes.len() {
            let mut r = Reader::new(&bytes[..cut]);
            let ok = r.uint().is_ok()
                && r.str("s", 10).is_ok()
                && r.blob("b", 10).is_ok()
                && r.u32_le().is_ok()
                && r.u8().is_ok();
            assert!(!ok, "a cut at {cut} must fail");
        }
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut w = Writer::new();
        w.uint(u64::MAX);
        let bytes = w.into_bytes();
        assert!(Reader::new(&bytes).count("n", 1000, 1).is_err());
        let mut w = Writer::new();
        w.uint(500);
        let bytes = w.into_bytes();
        assert!(matches!(
            Reader::new(&bytes).count("n", 1000, 8),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(Reader::new(&[0xff; 11]).uint().is_err());
    }
}
