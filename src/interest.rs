//! [`Interest`]: which documents a side of a sync wants, and its stored form.

use crate::codec::{DecodeError, Reader, Writer};
use crate::{DocId, MAX_DOC_ID_LEN};

/// Longest prefix an [`Interest::Prefixes`] holds, in bytes.
const MAX_PREFIX_LEN: usize = 256;

/// Which documents a side wants to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interest {
    /// Every document the other side may share.
    All,
    /// Documents whose id starts with one of these prefixes.
    Prefixes(Vec<String>),
    /// Exactly these documents.
    Docs(Vec<DocId>),
}

impl Interest {
    /// Whether `doc` is wanted.
    pub fn wants(&self, doc: &DocId) -> bool {
        match self {
            Interest::All => true,
            Interest::Prefixes(prefixes) => prefixes.iter().any(|p| doc.as_str().starts_with(p)),
            Interest::Docs(docs) => docs.contains(doc),
        }
    }

    /// Appends the binary form a store keeps: a kind byte (0 all, 1 prefixes, 2 documents),
    /// then for the last two a count and that many length-prefixed strings.
    pub(crate) fn encode_into(&self, w: &mut Writer) {
        let strings: Vec<&str> = match self {
            Interest::All => {
                w.u8(0);
                return;
            }
            Interest::Prefixes(prefixes) => {
                w.u8(1);
                prefixes.iter().map(String::as_str).collect()
            }
            Interest::Docs(docs) => {
                w.u8(2);
                docs.iter().map(DocId::as_str).collect()
            }
        };
        w.uint(strings.len() as u64);
        for s in strings {
            w.str(s);
        }
    }

    /// Reads the form [`encode_into`](Self::encode_into) writes.
    pub(crate) fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let kind = r.u8()?;
        if kind == 0 {
            return Ok(Interest::All);
        }
        let n = r.count("interest entries", usize::MAX, 1)?;
        match kind {
            1 => (0..n)
                .map(|_| Ok(r.str("interest prefix", MAX_PREFIX_LEN)?.to_owned()))
                .collect::<Result<_, _>>()
                .map(Interest::Prefixes),
            2 => (0..n)
                .map(|_| {
                    let at = r.position();
                    let id = r.str("document id", MAX_DOC_ID_LEN)?;
                    DocId::new(id).map_err(|_| DecodeError::Unknown {
                        what: "document id",
                        value: 0,
                        at,
                    })
                })
                .collect::<Result<_, _>>()
                .map(Interest::Docs),
            other => Err(DecodeError::Unknown {
                what: "interest kind",
                value: u64::from(other),
                at,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_survives_its_stored_form() {
        let kinds = [
            Interest::All,
            Interest::Prefixes(vec!["cal/".into(), String::new()]),
            Interest::Docs(vec![DocId::new("notes").unwrap()]),
            Interest::Docs(Vec::new()),
        ];
        for interest in kinds {
            let mut w = Writer::new();
            interest.encode_into(&mut w);
            let bytes = w.into_bytes();
            let mut r = Reader::new(&bytes);
            assert_eq!(Interest::decode_from(&mut r).unwrap(), interest);
            r.finish().unwrap();
            for cut in 0..bytes.len() {
                let _ = Interest::decode_from(&mut Reader::new(&bytes[..cut]));
            }
        }
        assert!(Interest::decode_from(&mut Reader::new(&[9])).is_err());
        assert!(Interest::decode_from(&mut Reader::new(&[2, 1, 0])).is_err());
    }
}
