//! The newest part of the relay's log, in memory: live fan-out reads it instead of the
//! database. It is a contiguous window: every committed entry with an offset in
//! `(base, head]` is in it (compaction may delete rows from the database later; the window
//! keeps serving them, which is harmless because changes are idempotent).

use std::collections::{HashMap, VecDeque};

use crate::DocId;
use crate::store::LogEntry;

/// Recent log entries, bounded by count and bytes, indexed by document.
#[derive(Debug)]
pub(crate) struct TailCache {
    entries: VecDeque<LogEntry>,
    by_doc: HashMap<DocId, VecDeque<u64>>,
    /// Every committed entry after `base` (up to `head`) is held.
    base: u64,
    head: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl TailCache {
    /// An empty window starting at `head`.
    pub(crate) fn new(head: u64, max_entries: usize, max_bytes: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            by_doc: HashMap::new(),
            base: head,
            head,
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    /// Whether every entry after `after` is in the window.
    pub(crate) fn covers(&self, after: u64) -> bool {
        after >= self.base
    }

    /// The head of the window.
    #[cfg(test)]
    pub(crate) fn head(&self) -> u64 {
        self.head
    }

    /// Appends entries committed after the current head (in offset order), then moves the head
    /// to `head` (offsets in between were never used or were skipped).
    pub(crate) fn extend(&mut self, entries: impl IntoIterator<Item = LogEntry>, head: u64) {
        for e in entries {
            if e.offset <= self.head {
                continue;
            }
            self.head = e.offset;
            self.bytes = self.bytes.saturating_add(e.bytes.len());
            self.by_doc
                .entry(e.doc.clone())
                .or_default()
                .push_back(e.offset);
            self.entries.push_back(e);
        }
        self.head = self.head.max(head);
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some(old) = self.entries.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(old.bytes.len());
            self.base = old.offset;
            if let Some(list) = self.by_doc.get_mut(&old.doc) {
                list.pop_front();
                if list.is_empty() {
                    self.by_doc.remove(&old.doc);
                }
            }
        }
        if self.entries.is_empty() {
            self.base = self.head;
        }
    }

    fn position(&self, offset: u64) -> Option<&LogEntry> {
        // Offsets are dense unless another relay committed in between (PostgreSQL): try the
        // entry where a dense window would hold it before searching.
        let first = self.entries.front()?.offset;
        let guess = usize::try_from(offset.checked_sub(first)?).ok()?;
        if let Some(e) = self.entries.get(guess)
            && e.offset == offset
        {
            return Some(e);
        }
        let i = self.entries.partition_point(|e| e.offset < offset);
        self.entries.get(i).filter(|e| e.offset == offset)
    }

    /// Entries after `after` that `want` accepts, at most `max_entries` and about `max_bytes`;
    /// and how far the window was examined. `after` must be covered.
    pub(crate) fn scan(
        &self,
        after: u64,
        want: &dyn Fn(&LogEntry) -> bool,
        max_entries: usize,
        max_bytes: usize,
    ) -> (Vec<LogEntry>, u64) {
        let start = self.entries.partition_point(|e| e.offset <= after);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for e in self.entries.range(start..) {
            if !want(e) {
                continue;
            }
            if out.len() >= max_entries
                || (!out.is_empty() && bytes.saturating_add(e.bytes.len()) > max_bytes)
            {
                return (out, e.offset.saturating_sub(1));
            }
            bytes = bytes.saturating_add(e.bytes.len());
            out.push(e.clone());
        }
        (out, self.head)
    }

    /// Like [`scan`](Self::scan) for a few listed documents, through the per-document index.
    pub(crate) fn scan_docs(
        &self,
        docs: &[DocId],
        after: u64,
        want: &dyn Fn(&LogEntry) -> bool,
        max_entries: usize,
        max_bytes: usize,
    ) -> (Vec<LogEntry>, u64) {
        let mut offsets: Vec<u64> = Vec::new();
        for doc in docs {
            if let Some(list) = self.by_doc.get(doc) {
                let i = list.partition_point(|o| *o <= after);
                offsets.extend(list.range(i..).copied());
            }
        }
        offsets.sort_unstable();
        offsets.dedup();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for offset in offsets {
            let Some(e) = self.position(offset) else {
                continue;
            };
            if !want(e) {
                continue;
            }
            if out.len() >= max_entries
                || (!out.is_empty() && bytes.saturating_add(e.bytes.len()) > max_bytes)
            {
                return (out, offset.saturating_sub(1));
            }
            bytes = bytes.saturating_add(e.bytes.len());
            out.push(e.clone());
        }
        (out, self.head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{ActorId, ChangeHash};

    fn entry(offset: u64, doc: &str) -> LogEntry {
        LogEntry {
            offset,
            doc: DocId::new(doc).unwrap(),
            actor: ActorId::from(&[1u8; 16][..]),
            seq: offset,
            hash: ChangeHash([0; 32]),
            origin: None,
            bytes: vec![0; 10],
        }
    }

    #[test]
    fn entries_are_found_whether_offsets_are_dense_or_not() {
        let mut t = TailCache::new(0, 100, 1 << 20);
        t.extend(
            [entry(1, "a"), entry(2, "b"), entry(5, "a"), entry(9, "a")],
            9,
        );
        let a = [DocId::new("a").unwrap()];
        let offsets = |after| {
            let (e, _) = t.scan_docs(&a, after, &|_| true, 10, 1000);
            e.iter().map(|e| e.offset).collect::<Vec<_>>()
        };
        assert_eq!(offsets(0), vec![1, 5, 9]);
        assert_eq!(offsets(1), vec![5, 9]);
        assert_eq!(offsets(5), vec![9]);
        assert_eq!(offsets(9), Vec::<u64>::new());
    }

    #[test]
    fn window_scans_and_evicts() {
        let mut t = TailCache::new(0, 3, 1 << 20);
        t.extend([entry(1, "a"), entry(2, "b"), entry(3, "a")], 3);
        assert!(t.covers(0));
        let (e, through) = t.scan(0, &|e| e.doc.as_str() == "a", 10, 1000);
        assert_eq!(e.iter().map(|e| e.offset).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(through, 3);
        let (e, through) = t.scan_docs(&[DocId::new("b").unwrap()], 0, &|_| true, 10, 1000);
        assert_eq!((e.len(), through), (1, 3));
        t.extend([entry(4, "b"), entry(6, "c")], 7);
        assert!(!t.covers(0));
        assert!(t.covers(3));
        assert_eq!(t.head(), 7);
        let (e, through) = t.scan(3, &|_| true, 1, 1000);
        assert_eq!((e.len(), through), (1, 5));
    }
}
