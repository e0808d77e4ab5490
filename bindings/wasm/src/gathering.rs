//! Under group commit, text splices gathered into one change.
//!
//! An editor that makes one `repo.change` per keystroke pays automerge's price per keystroke:
//! a splice into its columns and a change of its own (hashed and encoded), about 60 µs here.
//! Under group commit, consecutive transactions that only splice one text, in a document no
//! one subscribes to, are instead gathered in a [`SpliceRun`] and made as one change when
//! anything else touches the replica (a read, another write, a sync, a flush), when the group
//! is due, or by the group's timer. Each transaction is checked when it is made and gets its
//! receipt at once; the receipts of a gathering share the one change's `seq`, and get its
//! `hash` (and `offset`, once committed) when it is made. Until then their `hash` is `null`.
//!
//! Gathering starts at the second such transaction in a row: the first is made as usual, and
//! its receipt gives the sequence number the gathered change will have. Positions are checked
//! against the text's length, which is exact only if every character in the text is one UTF-16
//! unit wide (a position inside a surrogate pair could not be checked otherwise). So the text is
//! read once, when a gathering starts, unless it is known to be narrow since (the replica
//! remembers one such text until it is used for anything but gathering); a text holding wider
//! characters, or a splice inserting one, is not gathered.

use js_sys::{Object, Reflect};
use polyarch::model::{SpliceRun, TextUnits};
use polyarch::{DocId, Durability, Path, Receipt};
use wasm_bindgen::JsValue;

use crate::convert;
use crate::transaction::Op;

/// What is held back.
#[derive(Default)]
pub(crate) enum Held {
    /// Nothing.
    #[default]
    Nothing,
    /// The last write was a splice-only change to `doc`'s text at `path`, with nothing since:
    /// the next like it may start a gathering, whose change will be `seq`.
    Armed {
        /// The document.
        doc: DocId,
        /// The text.
        path: Path,
        /// The next change's sequence number.
        seq: u64,
    },
    /// Splices gathered.
    Gathering(Gathering),
}

/// Splices of one text gathered from consecutive transactions, with their receipts.
pub(crate) struct Gathering {
    pub(crate) doc: DocId,
    pub(crate) path: Path,
    pub(crate) run: SpliceRun,
    /// The receipts handed out, to complete when the change is made.
    receipts: Vec<Object>,
    /// What every receipt of the gathering starts as, with the sequence number the change will
    /// have (copied: one call instead of four).
    template: Object,
    /// When the first transaction was gathered (ms, `Date.now()`).
    pub(crate) started_ms: f64,
    max_changes: usize,
    max_delay_ms: f64,
}

/// One splice as recorded: `(pos, delete, insert)`.
pub(crate) type SpliceArgs<'a> = (usize, usize, &'a str);

/// The path and splices of `ops` when every one splices the same text.
pub(crate) fn text_splices(ops: &[Op]) -> Option<(&Path, Vec<SpliceArgs<'_>>)> {
    let mut path = None;
    let mut splices = Vec::with_capacity(ops.len());
    for op in ops {
        let Op::Splice(p, pos, del, ins) = op else {
            return None;
        };
        match path {
            Some(first) if first != p => return None,
            _ => path = Some(p),
        }
        splices.push((*pos, *del, ins.as_str()));
    }
    Some((path?, splices))
}

/// Whether every character of `text` is one UTF-16 unit wide.
pub(crate) fn narrow(text: &str) -> bool {
    text.chars().all(|c| c.len_utf16() == 1)
}

/// The group-commit limits, when `durability` is group commit.
pub(crate) fn limits(durability: Durability) -> Option<(usize, f64)> {
    match durability {
        Durability::Group {
            max_changes,
            max_delay,
        } => Some((max_changes, max_delay.as_secs_f64() * 1_000.0)),
        Durability::Immediate => None,
    }
}

impl Gathering {
    /// Starts gathering with one transaction's splices, over a text `len` UTF-16 units long
    /// in which every character is one unit wide; `None` when they cannot be gathered.
    pub(crate) fn start(
        armed: (DocId, Path, u64),
        len: usize,
        splices: &[SpliceArgs<'_>],
        (max_changes, max_delay_ms): (usize, f64),
    ) -> Option<Self> {
        let (doc, path, seq) = armed;
        let template = convert::receipt_object(doc.as_ref(), None, seq, None);
        let mut gathering = Gathering {
            template,
            run: SpliceRun::new(len, TextUnits::Utf16),
            doc,
            path,
            receipts: Vec::new(),
            started_ms: js_sys::Date::now(),
            max_changes,
            max_delay_ms,
        };
        gathering.run.push(splices).then_some(gathering)
    }

    /// Whether these splices continue this gathering.
    pub(crate) fn continues(&self, doc: &DocId, path: &Path) -> bool {
        self.doc == *doc && self.path == *path
    }

    /// A receipt for the transaction just gathered: its `hash` is `null` until the change is
    /// made.
    pub(crate) fn receipt(&mut self) -> JsValue {
        let receipt = Object::assign(&Object::new(), &self.template);
        self.receipts.push(receipt.clone());
        receipt.into()
    }

    /// Whether its group is due: as many transactions as a group holds, or the first has
    /// waited the group's delay.
    pub(crate) fn due(&self) -> bool {
        self.run.transactions() >= self.max_changes
            || js_sys::Date::now() - self.started_ms >= self.max_delay_ms
    }

    /// Completes the receipts handed out with the change's: `made` as made, `committed` once
    /// its group committed.
    pub(crate) fn complete(&self, made: &Receipt, committed: Option<&Receipt>) {
        let hash = JsValue::from_str(&made.hash.to_string());
        let seq = JsValue::from_f64(made.seq as f64);
        let offset = committed
            .and_then(|c| c.offset)
            .map_or(JsValue::NULL, |o| JsValue::from_f64(o as f64));
        for receipt in &self.receipts {
            let _ = Reflect::set(receipt, &"hash".into(), &hash);
            let _ = Reflect::set(receipt, &"seq".into(), &seq);
            let _ = Reflect::set(receipt, &"offset".into(), &offset);
        }
    }
}
