//! [`SpliceRun`]: text splices gathered to be made as one change, merged where one continues
//! another.

use super::TextUnits;

/// One splice: at `pos`, delete `delete` units and insert `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    /// Where, in text units, counted in the text as the splices before this one left it.
    pub pos: usize,
    /// How many units to delete there.
    pub delete: usize,
    /// What to insert there.
    pub insert: String,
}

/// Splices of one text, gathered from consecutive transactions so that they can be made as one
/// change: applied in order, they leave the text as the transactions would have one by one.
///
/// A splice that continues the one before it is merged into it: typing after the last insert
/// extends it, and a backspace or forward delete at the edge of the last deletion widens it.
/// The merged splices delete and insert exactly the same characters, but as far fewer engine
/// calls: the automerge-paper trace's 259,778 keystrokes become about 39,000 splices.
///
/// Each [`push`](Self::push) checks its splices against the text's length, as the text itself
/// would, and takes all of them or none. Positions are exact only in units where every
/// character has one width: code points always; UTF-16 code units and UTF-8 bytes only while
/// the text holds no character wider than one unit, which the caller must know (a splice
/// inserting one is refused, so a text known to be free of them stays so).
///
/// ```
/// use polyarch::model::{SpliceRun, TextUnits};
/// let mut run = SpliceRun::new(5, TextUnits::Utf16); // "hello"
/// assert!(run.push(&[(5, 0, " w")]));
/// assert!(run.push(&[(7, 0, "o")])); // typing on: merged
/// assert!(run.push(&[(7, 1, "")]) && run.push(&[(6, 1, "")])); // two backspaces: merged
/// assert!(!run.push(&[(9, 0, "!")])); // past the end: refused, nothing taken
/// assert_eq!(run.splices().len(), 2);
/// assert_eq!((run.len(), run.transactions()), (6, 4)); // "hello "
/// ```
#[derive(Debug, Clone)]
pub struct SpliceRun {
    units: TextUnits,
    len: usize,
    transactions: usize,
    splices: Vec<Splice>,
    /// Units the last splice inserts: typing extends it one keystroke at a time, so it is
    /// kept rather than counted again at each one.
    last_width: usize,
}

impl SpliceRun {
    /// An empty run over a text `len` units long.
    pub fn new(len: usize, units: TextUnits) -> Self {
        Self {
            units,
            len,
            transactions: 0,
            splices: Vec::new(),
            last_width: 0,
        }
    }

    /// Adds the `(pos, delete, insert)` splices of one transaction, in order. Returns `false`,
    /// taking none of them, when one is out of range, inserts a character wider than one unit
    /// (see the type's documentation), or when all of them together change nothing (such a
    /// transaction makes no change).
    pub fn push(&mut self, splices: &[(usize, usize, &str)]) -> bool {
        let mut len = self.len;
        let mut changes = false;
        for &(pos, delete, insert) in splices {
            let Some(width) = self.width(insert) else {
                return false;
            };
            match pos.checked_add(delete) {
                Some(end) if end <= len => {}
                _ => return false,
            }
            len = len - delete + width;
            changes |= delete > 0 || width > 0;
        }
        if !changes {
            return false;
        }
        for &(pos, delete, insert) in splices {
            if delete > 0 || !insert.is_empty() {
                // Checked above: every character is one unit wide.
                self.merge(pos, delete, insert, insert.chars().count());
            }
        }
        self.len = len;
        self.transactions += 1;
        true
    }

    /// The text's length after every splice taken.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the text is empty after every splice taken.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many transactions were taken.
    pub fn transactions(&self) -> usize {
        self.transactions
    }

    /// The splices to make, in order.
    pub fn splices(&self) -> &[Splice] {
        &self.splices
    }

    /// `insert`'s length in units; `None` if a character in it is wider than one unit.
    fn width(&self, insert: &str) -> Option<usize> {
        let chars = insert.chars().count();
        let narrow = match self.units {
            TextUnits::CodePoints => true,
            TextUnits::Utf16 => insert.chars().all(|c| c.len_utf16() == 1),
            TextUnits::Utf8 => insert.is_ascii(),
        };
        narrow.then_some(chars)
    }

    /// Adds one splice inserting `width` units, merged into the last one where it continues it.
    fn merge(&mut self, pos: usize, delete: usize, insert: &str, width: usize) {
        if let Some(last) = self.splices.last_mut() {
            // Whatever the last splice deleted, its insertion ends at `last.pos + width`.
            let inserted_end = last.pos + self.last_width;
            if delete == 0 && pos == inserted_end {
                last.insert.push_str(insert);
                self.last_width += width;
                return;
            }
            if insert.is_empty() && last.insert.is_empty() {
                if pos + delete == last.pos {
                    // A backspace before the last deletion.
                    last.pos = pos;
                    last.delete += delete;
                    return;
                }
                if pos == last.pos {
                    // A forward delete after it.
                    last.delete += delete;
                    return;
                }
            }
        }
        self.splices.push(Splice {
            pos,
            delete,
            insert: insert.to_owned(),
        });
        self.last_width = width;
    }
}
