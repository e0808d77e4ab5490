//! What a peer may read and write through a session.

use crate::DocId;

/// A set of documents, by prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every document.
    All,
    /// No document.
    Nothing,
    /// Documents whose id starts with one of these prefixes.
    Prefixes(Vec<String>),
}

impl Scope {
    /// Whether `doc` is in the scope.
    pub fn contains(&self, doc: &DocId) -> bool {
        match self {
            Scope::All => true,
            Scope::Nothing => false,
            Scope::Prefixes(prefixes) => prefixes.iter().any(|p| doc.as_str().starts_with(p)),
        }
    }
}

/// What the peer on the other end of a session may do. Devices trust their peers fully; the
/// relay narrows this from the peer's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Documents the peer may receive.
    pub read: Scope,
    /// Documents the peer may change.
    pub write: Scope,
}

impl Access {
    /// Read and write everything.
    pub fn full() -> Self {
        Self {
            read: Scope::All,
            write: Scope::All,
        }
    }
}

impl Default for Access {
    fn default() -> Self {
        Self::full()
    }
}
