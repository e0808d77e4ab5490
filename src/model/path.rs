//! Paths: where a CRDT lives inside a document.

use std::fmt;

/// One step of a [`Path`]: a map key or a list index.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(untagged)]
pub enum Seg {
    /// A key of a map.
    Key(String),
    /// A position in a list.
    Index(usize),
}

/// The location of a value in a document: map keys and list indexes from the root.
///
/// ```
/// use polyarch::Path;
/// let p = Path::from(["events", "e1", "title"]);
/// assert_eq!(p.to_string(), "events/e1/title");
/// assert_eq!(Path::root().key("tags").index(0).len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Path(Vec<Seg>);

impl Path {
    /// The document's root map.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path followed by a map key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.0.push(Seg::Key(key.into()));
        self
    }

    /// This path followed by a list index.
    pub fn index(mut self, index: usize) -> Self {
        self.0.push(Seg::Index(index));
        self
    }

    /// The steps from the root.
    pub fn segments(&self) -> &[Seg] {
        &self.0
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the root.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The path without its last step, and that step (`None` at the root).
    pub fn split_last(&self) -> Option<(Path, &Seg)> {
        let (last, parent) = self.0.split_last()?;
        Some((Path(parent.to_vec()), last))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            match seg {
                Seg::Key(k) => f.write_str(k)?,
                Seg::Index(i) => write!(f, "{i}")?,
            }
        }
        Ok(())
    }
}

impl From<&str> for Path {
    /// A path of one key (no splitting: keys may hold `/`).
    fn from(key: &str) -> Self {
        Self(vec![Seg::Key(key.to_owned())])
    }
}

impl From<String> for Path {
    fn from(key: String) -> Self {
        Self(vec![Seg::Key(key)])
    }
}

impl<const N: usize> From<[&str; N]> for Path {
    fn from(keys: [&str; N]) -> Self {
        Self(keys.iter().map(|k| Seg::Key((*k).to_owned())).collect())
    }
}

impl From<&[&str]> for Path {
    fn from(keys: &[&str]) -> Self {
        Self(keys.iter().map(|k| Seg::Key((*k).to_owned())).collect())
    }
}

impl From<Vec<Seg>> for Path {
    fn from(segs: Vec<Seg>) -> Self {
        Self(segs)
    }
}

impl From<&Path> for Path {
    fn from(p: &Path) -> Self {
        p.clone()
    }
}
