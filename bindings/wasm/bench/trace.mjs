// The editing trace and the scenarios built from it, as `benches/support/trace.rs` and
// `benches/support/scenario.rs` build them for the Rust benches, so both replay the same edits.
//
// Format (gzipped JSON): `{ startContent, endContent, txns: [{ patches: [[pos, del, ins]] }] }`;
// positions count Unicode characters. Every library here indexes text in UTF-16 code units (the
// JS string's own units), so the trace must be ASCII, where the two agree: automerge-paper is.

import { readFileSync, existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The trace every benchmark here replays: 259,778 keystrokes. */
export const AUTOMERGE_PAPER = 'automerge-paper.json.gz';
/** Keystrokes per change in the divergence scenario (B4). */
export const KEYSTROKES_PER_CHANGE = 100;
/** One-character inserts replica B makes while A types the second half (B4). */
export const B_EDITS = 50;

/**
 * `$POLYARCH_TRACES`, else `shared/traces` beside the checkout (where CI puts it), else
 * `/work/shared/traces` (as `benches/support/trace.rs` looks).
 */
export function tracesDir() {
  if (process.env.POLYARCH_TRACES) return process.env.POLYARCH_TRACES;
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, '../../../../shared/traces');
  return existsSync(beside) ? beside : '/work/shared/traces';
}

/** Applies `[pos, del, ins]` patches to a string. */
export function applyPatches(text, patches) {
  for (const [pos, del, ins] of patches) {
    text = text.slice(0, pos) + ins + text.slice(pos + del);
  }
  return text;
}

/**
 * Loads a sequential trace: `{ start, end, txns }`, each txn an array of `[pos, del, ins]`.
 * `limit` keeps the first `limit` transactions (the end text is then recomputed). Throws when
 * the file is missing, malformed, not ASCII, or does not replay to its `endContent`.
 */
export function loadTrace(file = AUTOMERGE_PAPER, limit = null) {
  const path = join(tracesDir(), file);
  let raw;
  try {
    raw = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'));
  } catch (e) {
    throw new Error(`cannot read trace ${path} (${e.message}); set POLYARCH_TRACES`);
  }
  let txns = raw.txns.map((t) => t.patches);
  const full = txns.length;
  if (limit != null && limit < full) txns = txns.slice(0, limit);
  // A shortened trace's end text is replayed here; the full trace's is `endContent`, which
  // every library's final text is checked against.
  const end = txns.length === full ? raw.endContent : txns.reduce(applyPatches, raw.startContent);
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(raw.startContent + end) || txns.some((t) => t.some((p) => !/^[\x00-\x7f]*$/.test(p[2])))) {
    throw new Error(`${file} is not ASCII: its char positions would need converting to UTF-16`);
  }
  return { name: file, start: raw.startContent, end, txns };
}

/**
 * B4: two replicas share the first half of the trace (in changes of
 * `KEYSTROKES_PER_CHANGE` keystrokes), then A applies the second half the same way while B makes
 * `B_EDITS` one-letter inserts spread over the half-way text, one change each.
 */
export function divergence(trace) {
  const half = Math.floor(trace.txns.length / 2);
  const chunks = (txns) => {
    const out = [];
    for (let i = 0; i < txns.length; i += KEYSTROKES_PER_CHANGE) {
      out.push(txns.slice(i, i + KEYSTROKES_PER_CHANGE).flat());
    }
    return out;
  };
  let len = trace.start.length;
  for (const t of trace.txns.slice(0, half)) for (const [, del, ins] of t) len += ins.length - del;
  const bChanges = [];
  for (let i = 0; i < B_EDITS; i++) {
    // Earlier inserts shift later positions by one each: `+ i` keeps every insert at the spot
    // chosen in the half-way text.
    const pos = Math.floor(((i + 1) * len) / (B_EDITS + 1)) + i;
    bChanges.push([pos, 0, String.fromCharCode(97 + (i % 26))]);
  }
  return {
    start: trace.start,
    shared: chunks(trace.txns.slice(0, half)),
    aChanges: chunks(trace.txns.slice(half)),
    bChanges,
    mergedChars: trace.end.length + B_EDITS,
  };
}
