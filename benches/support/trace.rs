//! Loading the real editing traces in `shared/traces/` (see its README).
//!
//! Format (gzipped JSON): `{ startContent, endContent, txns: [ { patches: [[pos, delCount,
//! insText], ...] } ] }`. Positions and delete counts count **Unicode characters** (code points),
//! not bytes and not UTF-16 units. [`Patch`] keeps them that way; [`char_to_byte`] and
//! [`char_to_utf16`] convert when a consumer indexes text differently.
//!
//! The traces were collected by Joseph Gentle (`josephg/editing-traces`, CC BY 4.0);
//! automerge-paper was prepared by Martin Kleppmann for automerge-perf.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use serde::Deserialize;

/// The sequential trace the Polyarch benchmarks replay: 259,778 keystrokes.
pub const AUTOMERGE_PAPER: &str = "automerge-paper.json.gz";

/// One edit: at `pos` (chars), delete `del` chars, then insert `ins`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "(usize, usize, String)")]
pub struct Patch {
    /// Position in Unicode characters in the text before this patch.
    pub pos: usize,
    /// Number of Unicode characters deleted at `pos`.
    pub del: usize,
    /// Text inserted at `pos` after the deletion.
    pub ins: String,
}

impl From<(usize, usize, String)> for Patch {
    fn from((pos, del, ins): (usize, usize, String)) -> Self {
        Patch { pos, del, ins }
    }
}

/// A sequential trace: each transaction is one keystroke (one undo step for the typist).
#[derive(Clone, Debug)]
pub struct Trace {
    /// File name the trace came from, for reports.
    pub name: String,
    /// Text before the first transaction.
    pub start: String,
    /// Text after the last transaction of this (possibly shortened) trace.
    pub end: String,
    /// The transactions, in order; each holds one or more patches.
    pub txns: Vec<Vec<Patch>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrace {
    start_content: String,
    end_content: String,
    txns: Vec<RawTxn>,
}

#[derive(Deserialize)]
struct RawTxn {
    patches: Vec<Patch>,
}

/// The directory holding the traces: `$POLYARCH_TRACES`, else `shared/traces` beside the
/// checkout (where CI puts it), else `/work/shared/traces`.
pub fn traces_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("POLYARCH_TRACES") {
        return PathBuf::from(dir);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/traces");
    if beside.is_dir() {
        return beside;
    }
    PathBuf::from("/work/shared/traces")
}

/// Load and check a sequential trace; `limit` keeps only its first `limit` transactions (the
/// end text is then recomputed by replaying them).
///
/// Panics with a message naming the file when it is missing or malformed: a benchmark without
/// its input must not report anything.
pub fn load(file: &str, limit: Option<usize>) -> Trace {
    check_conversions();
    let path = traces_dir().join(file);
    let mut json = Vec::new();
    File::open(&path)
        .and_then(|f| GzDecoder::new(f).read_to_end(&mut json))
        .unwrap_or_else(|e| {
            panic!(
                "cannot read trace {} ({e}); set POLYARCH_TRACES",
                path.display()
            )
        });
    let raw: RawTrace = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!(
            "trace {} is not in the expected format: {e}",
            path.display()
        )
    });
    drop(json);
    let mut trace = Trace {
        name: file.to_owned(),
        start: raw.start_content,
        end: raw.end_content,
        txns: raw.txns.into_iter().map(|t| t.patches).collect(),
    };
    let full = trace.txns.len();
    if let Some(n) = limit.filter(|&n| n < full) {
        trace.txns.truncate(n);
        trace.end = trace.replay();
    } else {
        assert_eq!(
            trace.replay(),
            trace.end,
            "replaying {file} does not give its endContent"
        );
    }
    trace
}

impl Trace {
    /// Number of keystrokes (transactions).
    pub fn keystrokes(&self) -> usize {
        self.txns.len()
    }

    /// Number of patches across all transactions.
    pub fn patches(&self) -> usize {
        self.txns.iter().map(Vec::len).sum()
    }

    /// Replay every patch onto `start` in a plain `String` (the reference result).
    pub fn replay(&self) -> String {
        let mut text = CharString::new(&self.start);
        for patch in self.txns.iter().flatten() {
            text.apply(patch);
        }
        text.into_string()
    }

    /// The text after the first `n` transactions.
    pub fn text_after(&self, n: usize) -> String {
        let mut text = CharString::new(&self.start);
        for patch in self.txns.iter().take(n).flatten() {
            text.apply(patch);
        }
        text.into_string()
    }
}

/// A `String` edited at character positions; byte offsets are used directly while the text is
/// ASCII (the common case, and O(1) to convert), and computed by scanning otherwise.
pub struct CharString {
    text: String,
    ascii: bool,
}

impl CharString {
    /// Start from `s`.
    pub fn new(s: &str) -> Self {
        CharString {
            text: s.to_owned(),
            ascii: s.is_ascii(),
        }
    }

    /// Apply one patch, whose positions count characters.
    pub fn apply(&mut self, patch: &Patch) {
        let (start, end) = if self.ascii {
            (patch.pos, patch.pos + patch.del)
        } else {
            let start = char_to_byte(&self.text, patch.pos);
            (start, start + char_to_byte(&self.text[start..], patch.del))
        };
        self.text.replace_range(start..end, &patch.ins);
        self.ascii &= patch.ins.is_ascii();
    }

    /// Number of characters.
    pub fn char_len(&self) -> usize {
        if self.ascii {
            self.text.len()
        } else {
            self.text.chars().count()
        }
    }

    /// The text.
    pub fn into_string(self) -> String {
        self.text
    }
}

/// Byte offset of character `chars` in `s` (`s.len()` when `chars` is the char count).
///
/// Panics when `chars` is past the end: a trace that does that is corrupt.
pub fn char_to_byte(s: &str, chars: usize) -> usize {
    if chars == 0 {
        return 0;
    }
    match s.char_indices().nth(chars) {
        Some((byte, _)) => byte,
        None if s.chars().count() == chars => s.len(),
        None => panic!(
            "char position {chars} is past the end of a text of {} chars",
            s.chars().count()
        ),
    }
}

/// UTF-16 offset of character `chars` in `s` (what a JavaScript host would pass).
pub fn char_to_utf16(s: &str, chars: usize) -> usize {
    s.chars().take(chars).map(char::len_utf16).sum()
}

/// Checks the non-ASCII paths, which the ASCII traces never take (run by [`load`]; benches have
/// no test harness).
fn check_conversions() {
    let s = "añ😀b";
    assert_eq!(char_to_byte(s, 2), 3);
    assert_eq!(char_to_byte(s, 4), s.len());
    assert_eq!(char_to_utf16(s, 3), 4);
    let mut t = CharString::new(s);
    t.apply(&Patch {
        pos: 2,
        del: 1,
        ins: "é".into(),
    });
    assert_eq!(t.char_len(), 4);
    assert_eq!(t.into_string(), "añéb");
}
