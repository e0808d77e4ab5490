// Results in the shape the Rust benches write (`benches/support/report.rs`): one JSON file per
// result in `target/polyarch-bench/<name>.json`, which `cargo xtask bench` prints as a table.
//
// Fields: `name`, `ours` (null when not measured), `baseline`, `unit`, `ratio` (`ours /
// baseline`), `target`, `target_kind` (`ratio`: pass when ratio <= target; `at_most`: pass when
// ours <= target; `none`: context only), `pass`, `quick` (shortened inputs), `machine`
// (`loadavg_1m`, `cpus`), `details`, `notes`.

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';

/** Targets: `{ kind: 'ratio' | 'at_most' | 'none', value }`. */
export const ratio = (value) => ({ kind: 'ratio', value });
export const atMost = (value) => ({ kind: 'at_most', value });
export const context = { kind: 'none', value: null };

/** The JSON document for one result. */
export function result({ name, unit, ours, baseline, target, quick, details = {}, notes = [] }) {
  const r = ours != null && baseline != null && baseline !== 0 ? ours / baseline : null;
  let pass = null;
  if (ours != null && target.kind === 'ratio') pass = r == null ? null : r <= target.value;
  if (ours != null && target.kind === 'at_most') pass = ours <= target.value;
  return {
    name,
    ours: ours ?? null,
    baseline: baseline ?? null,
    unit,
    ratio: r,
    target: target.value,
    target_kind: target.kind,
    pass,
    quick,
    machine: { loadavg_1m: loadavg()[0], cpus: availableParallelism() },
    details,
    notes,
  };
}

/** Prints the one-line summary and notes, and writes `<dir>/<name>.json`. */
export function write(dir, r) {
  const fmt = (x) => (x == null ? '-' : num(x));
  const target =
    r.target_kind === 'ratio' ? `target <= ${num(r.target)}` : r.target_kind === 'at_most' ? `target: ours <= ${num(r.target)} ${r.unit}` : 'context, no target';
  const verdict = r.pass == null ? '' : r.pass ? ' PASS' : ' FAIL';
  console.log(
    `${r.name}: ours ${fmt(r.ours)} ${r.unit}, baseline ${fmt(r.baseline)} ${r.unit}, ratio ${r.ratio == null ? '-' : r.ratio.toFixed(3)} (${target})${verdict}`,
  );
  for (const line of r.notes) console.log(`  ${line}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${r.name}.json`), `${JSON.stringify(r, null, 2)}\n`);
}

/** Up to four significant digits, as the Rust reports print them. */
export function num(x) {
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return x.toFixed(a >= 100 ? 1 : a >= 1 ? 3 : 4);
}
