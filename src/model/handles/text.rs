//! Collaborative text: concurrent insertions interleave by character.

use automerge::transaction::{Transactable, Transaction};
use automerge::{
    Automerge, AutomergeError, ChangeHash, Cursor, CursorPosition, ObjId, ObjType, ReadDoc,
};

use crate::model::resolve;
use crate::model::{Kind, ModelError, Path, Tx};

/// Reads collaborative text.
///
/// Positions count in the document's [`TextUnits`](crate::model::TextUnits) (code points,
/// UTF-16 code units, or UTF-8 bytes), chosen when the document was opened.
///
/// ```
/// use polyarch::model::{Doc, TextUnits};
/// # fn main() -> Result<(), polyarch::model::ModelError> {
/// let mut doc = Doc::new(automerge::ActorId::random(), TextUnits::CodePoints);
/// doc.transact(false, |tx| tx.text(["notes"]).splice(0, 0, "hello world"))?;
/// let notes = doc.view().text(["notes"]);
/// let cursor = notes.cursor(6)?; // before "world"
/// doc.transact(false, |tx| tx.text(["notes"]).splice(0, 0, ">> "))?;
/// let notes = doc.view().text(["notes"]);
/// assert_eq!(notes.to_string()?, ">> hello world");
/// assert_eq!(notes.cursor_position(&cursor)?, 9); // still before "world"
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TextRef<'a, D = Automerge> {
    doc: &'a D,
    path: Path,
}

impl<'a, D: ReadDoc> TextRef<'a, D> {
    pub(crate) fn new(doc: &'a D, path: Path) -> Self {
        Self { doc, path }
    }

    /// Where the text is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn obj(&self) -> Result<Option<ObjId>, ModelError> {
        Ok(resolve::find_obj(self.doc, &self.path, Kind::Text)?.map(|node| node.main))
    }

    fn existing(&self) -> Result<ObjId, ModelError> {
        self.obj()?.ok_or_else(|| ModelError::NoSuchPath {
            path: self.path.clone(),
        })
    }

    /// The text (empty when nothing is there).
    #[allow(clippy::inherent_to_string)] // fallible, unlike `ToString`
    pub fn to_string(&self) -> Result<String, ModelError> {
        match self.obj()? {
            Some(obj) => Ok(self.doc.text(&obj)?),
            None => Ok(String::new()),
        }
    }

    /// The length in text units (0 when nothing is there).
    pub fn len(&self) -> Result<usize, ModelError> {
        Ok(self.obj()?.map_or(0, |obj| self.doc.length(&obj)))
    }

    /// Whether the text is empty or missing.
    pub fn is_empty(&self) -> Result<bool, ModelError> {
        Ok(self.len()? == 0)
    }
}

impl TextRef<'_, Automerge> {
    /// A stable cursor at `pos` (0 to the length): it stays before the same character while
    /// text is inserted and deleted around it, on this device and others. A cursor at the end
    /// follows the end. Store it as a string; turn it back into a position with
    /// [`cursor_position`](Self::cursor_position). (Cursors are read from a [`DocView`]: the
    /// committed document.)
    ///
    /// [`DocView`]: crate::model::DocView
    pub fn cursor(&self, pos: usize) -> Result<String, ModelError> {
        let obj = self.existing()?;
        let len = self.doc.length(&obj);
        let at = match pos {
            p if p < len => CursorPosition::Index(p),
            p if p == len => CursorPosition::End,
            _ => {
                return Err(ModelError::IndexOutOfRange {
                    path: self.path.clone(),
                    index: pos,
                    len,
                });
            }
        };
        Ok(self.doc.get_cursor(&obj, at, None)?.to_string())
    }

    /// The current position of a cursor made by [`cursor`](Self::cursor). When its character
    /// was deleted, the position where it was. Takes time proportional to the text's history:
    /// the cursor, which may come from anywhere, is checked against every element.
    pub fn cursor_position(&self, cursor: &str) -> Result<usize, ModelError> {
        let obj = self.existing()?;
        let invalid = || ModelError::InvalidCursor {
            cursor: cursor.chars().take(100).collect(),
        };
        // automerge's parser slices the string by bytes, so it gets ASCII only; and cursors
        // made here never move backwards ("-" prefix).
        if cursor.is_empty() || !cursor.is_ascii() || cursor.starts_with('-') {
            return Err(invalid());
        }
        let parsed = Cursor::try_from(cursor).map_err(|_| invalid())?;
        // automerge's indexed lookup asserts that the cursor's element belongs to this text, so
        // a cursor into another object would panic. Reading "at" the current heads plus one that
        // does not exist gives the same state through the lookup that checks instead.
        let mut heads = self.doc.get_heads();
        heads.push(ChangeHash([0; 32]));
        self.doc
            .get_cursor_position(&obj, &parsed, Some(&heads))
            .map_err(|_| invalid())
    }
}

/// Writes collaborative text; made by [`Tx::text`].
#[derive(Debug)]
pub struct TextMut<'t, 'a> {
    tx: &'t mut Tx<'a>,
    path: Path,
}

impl<'t, 'a> TextMut<'t, 'a> {
    pub(crate) fn new(tx: &'t mut Tx<'a>, path: Path) -> Self {
        Self { tx, path }
    }

    /// Reads the text as the transaction sees it.
    pub fn read(&self) -> TextRef<'_, Transaction<'a>> {
        TextRef::new(&self.tx.inner, self.path.clone())
    }

    /// At `pos`, deletes `delete` units and inserts `insert`: what an editor's keystroke, cut
    /// or paste does. The text (and missing maps above it) is created when missing.
    pub fn splice(&mut self, pos: usize, delete: usize, insert: &str) -> Result<(), ModelError> {
        let Tx { inner: tx, rec, .. } = &mut *self.tx;
        let obj = match rec.known_text(tx, &self.path) {
            Some(obj) => obj,
            None => resolve::make_obj(tx, &self.path, ObjType::Text)?,
        };
        let out_of_range = |index: usize, len: usize| ModelError::IndexOutOfRange {
            path: self.path.clone(),
            index,
            len,
        };
        // A recorded splice found every element it deletes: the range is in the text.
        let in_range = rec.splice(tx, &self.path, &obj, (pos, delete, insert));
        let mut del = 0;
        if delete > 0 {
            let end = pos.saturating_add(delete);
            if !in_range {
                let len = tx.length(&obj);
                if end > len {
                    return Err(out_of_range(end, len));
                }
            }
            del = isize::try_from(delete).map_err(|_| out_of_range(end, end))?;
        }
        match tx.splice_text(&obj, pos, del, insert) {
            Err(AutomergeError::InvalidIndex(_)) => Err(out_of_range(pos, tx.length(&obj))),
            other => Ok(other?),
        }
    }

    /// Replaces the whole text with `text`, as the smallest set of splices automerge's diff
    /// finds (use [`splice`](Self::splice) when the actual edits are known: they merge better).
    pub fn update(&mut self, text: &str) -> Result<(), ModelError> {
        let tx = &mut self.tx.inner;
        let obj = resolve::make_obj(tx, &self.path, ObjType::Text)?;
        tx.update_text(&obj, text)?;
        Ok(())
    }
}
