//! What a relay refused to store, kept so that an acknowledgement is never mistaken for
//! "stored by the relay".
//!
//! A relay that refuses a change (a read-only token writing a document) still acknowledges the
//! log around it: the acknowledgement is a cursor into our log and cannot skip a hole. So a
//! change in a refused document is never "on the relay", whatever the cursor says.

use std::collections::HashSet;

use crate::DocId;

/// Most documents remembered as refused. A relay refuses only documents this device wrote,
/// so the bound is reached only by a misbehaving relay; past it, every document counts as
/// refused (a receipt may then wrongly fail, never wrongly succeed).
const MAX_REFUSED_DOCS: usize = 10_000;

/// Refusal messages and the documents they name, for the lifetime of one client (its token
/// does not change).
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    messages: Vec<String>,
    docs: HashSet<DocId>,
    overflowed: bool,
}

impl Refusals {
    /// Notes a refusal of writes to `doc` (a refusal naming no document refuses them all).
    pub(crate) fn note(&mut self, doc: Option<DocId>, message: String) {
        if self.messages.len() < super::MAX_REFUSALS_KEPT {
            self.messages.push(message);
        }
        match doc {
            Some(doc) if self.docs.len() < MAX_REFUSED_DOCS => {
                self.docs.insert(doc);
            }
            _ => self.overflowed = true,
        }
    }

    /// The refusal messages, oldest first.
    pub(crate) fn messages(&self) -> Vec<String> {
        self.messages.clone()
    }

    /// Whether writes to `doc` were refused.
    pub(crate) fn refuses(&self, doc: &DocId) -> bool {
        self.overflowed || self.docs.contains(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> DocId {
        DocId::new(s).unwrap()
    }

    #[test]
    fn remembers_the_documents_refused() {
        let mut r = Refusals::default();
        assert!(!r.refuses(&doc("a")));
        r.note(Some(doc("a")), "no".into());
        assert!(r.refuses(&doc("a")));
        assert!(!r.refuses(&doc("b")));
        assert_eq!(r.messages(), vec!["no".to_string()]);
    }

    #[test]
    fn a_refusal_naming_no_document_or_too_many_refuses_every_document() {
        let mut r = Refusals::default();
        r.note(None, "no".into());
        assert!(r.refuses(&doc("b")));

        let mut r = Refusals::default();
        for i in 0..=MAX_REFUSED_DOCS {
            r.note(Some(doc(&format!("d{i}"))), String::new());
        }
        assert!(r.refuses(&doc("never-written")));
        assert_eq!(r.messages().len(), crate::net::MAX_REFUSALS_KEPT);
    }
}
