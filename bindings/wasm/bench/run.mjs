// The JS benchmark: the npm package against @automerge/automerge, yjs and loro-crdt in Node,
// in one run, on the automerge-paper trace (see README.md beside this file).
//
//   node run.mjs                 every library, full trace; writes target/polyarch-bench/js_*.json
//   node run.mjs --smoke         first 2,000 keystrokes in one process: checks that the four
//                                libraries end with the same text (and converge in the sync
//                                scenario); writes nothing
//   node run.mjs --limit 20000   a prefix of the trace (also POLYARCH_BENCH_QUICK=1)
//   node run.mjs --out DIR       where the JSON goes (default: $CARGO_TARGET_DIR or the
//                                checkout's target/, then polyarch-bench/)
//
// Each library runs in a child process of its own (`--child trace|sync --library NAME`), one
// after the other, so that their heaps, wasm memories and CPU do not mix.
// `POLYARCH_BENCH_RUNS=N` runs every child N times (alternating libraries) and keeps the best.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { LIBRARIES, adapter, versionOf } from './libs.mjs';
import { context, atMost, num, ratio, result, write } from './report.mjs';
import { syncDivergence } from './sync.mjs';
import { AUTOMERGE_PAPER, divergence, loadTrace } from './trace.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Keystrokes of a quick run (as the Rust benches' `POLYARCH_BENCH_QUICK`). */
const QUICK_KEYSTROKES = 20_000;
/** Keystrokes of the smoke run. */
const SMOKE_KEYSTROKES = 2_000;
/** Memory is sampled every this many keystrokes while applying the trace. */
const MEMORY_EVERY = 1_000;
const PACKAGES = { automerge: '@automerge/automerge', yjs: 'yjs', loro: 'loro-crdt', polyarch: 'polyarch' };

const { values: opts } = parseArgs({
  options: {
    child: { type: 'string' },
    library: { type: 'string' },
    limit: { type: 'string' },
    out: { type: 'string' },
    smoke: { type: 'boolean' },
  },
});
const quickEnv = ['1', 'true'].includes(process.env.POLYARCH_BENCH_QUICK ?? '');
const limit = opts.limit ? Number(opts.limit) : quickEnv ? QUICK_KEYSTROKES : null;

if (opts.child === 'trace') console.log(JSON.stringify(await traceChild(opts.library)));
else if (opts.child === 'sync') console.log(JSON.stringify(await syncChild(opts.library)));
else if (opts.smoke) await smoke();
else bench();

/**
 * One library on the trace: create the document with the start text (untimed); timed: one
 * change per keystroke, then whatever makes the last change count (Polyarch: `flush`); then
 * save (timed separately) and open what was saved in a new replica and read its text (timed).
 * Memory is sampled every `MEMORY_EVERY` keystrokes: `peakLiveAddedMiB` is the highest
 * `heapUsed + external` (the JS heap, plus wasm memories and other off-heap buffers, which Node
 * counts in `external`) minus its value just before the first keystroke (after a GC);
 * `peakRssAddedMiB` is the same for the process RSS, which V8 and the allocators inflate and
 * deflate on their own schedule (pages freed after loading the trace are reused, not returned).
 */
async function traceChild(name) {
  const trace = loadTrace(AUTOMERGE_PAPER, limit);
  const lib = await adapter(name);
  lib.start(trace.start);
  globalThis.gc?.();
  const before = memory();
  const peak = { ...before };
  const sample = () => {
    const now = memory();
    peak.live = Math.max(peak.live, now.live);
    peak.rss = Math.max(peak.rss, now.rss);
  };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  for (const txn of trace.txns) {
    lib.apply(txn);
    if (++n % MEMORY_EVERY === 0) sample();
  }
  lib.finish();
  const applySecs = (performance.now() - t0) / 1000;
  const applyCpuSecs = cpuSecs(process.cpuUsage(c0));
  sample();
  check(name, 'after applying the trace', lib.text(), trace.end);
  const mem = process.memoryUsage();

  const t1 = performance.now();
  const saved = await lib.save();
  const saveSecs = (performance.now() - t1) / 1000;
  const c2 = process.cpuUsage();
  const t2 = performance.now();
  const loaded = await lib.load(saved);
  const loadSecs = (performance.now() - t2) / 1000;
  const loadCpuSecs = cpuSecs(process.cpuUsage(c2));
  check(name, 'after opening the saved form', loaded, trace.end);
  return {
    library: name,
    version: lib.version,
    storage: lib.storage,
    keystrokes: trace.txns.length,
    applySecs,
    applyCpuSecs,
    savedBytes: saved.bytes ? saved.bytes.length : saved.size,
    savedWhat: saved.what,
    saveSecs,
    loadSecs,
    loadCpuSecs,
    rssBeforeMiB: mib(before.rss),
    peakLiveAddedMiB: mib(peak.live - before.live),
    peakRssAddedMiB: mib(peak.rss - before.rss),
    afterApply: { rssMiB: mib(mem.rss), heapUsedMiB: mib(mem.heapUsed), externalMiB: mib(mem.external), arrayBuffersMiB: mib(mem.arrayBuffers) },
  };
}

/** One library on the sync-after-divergence scenario. */
async function syncChild(name) {
  const s = divergence(loadTrace(AUTOMERGE_PAPER, limit));
  const t0 = performance.now();
  const out = await syncDivergence(name, s);
  const [a, b] = out.texts;
  if (a !== b) throw new Error(`${name}: the replicas differ after the sync`);
  if (a.length !== s.mergedChars) throw new Error(`${name}: merged text has ${a.length} chars, expected ${s.mergedChars}`);
  delete out.texts;
  return { library: name, ...out, scenarioSecs: (performance.now() - t0) / 1000 };
}

/** The smoke run: a short prefix through every library in this process, results checked. */
async function smoke() {
  const trace = loadTrace(AUTOMERGE_PAPER, limit ?? SMOKE_KEYSTROKES);
  const s = divergence(trace);
  for (const name of LIBRARIES) {
    const lib = await adapter(name);
    lib.start(trace.start);
    for (const txn of trace.txns) lib.apply(txn);
    lib.finish();
    check(name, 'after applying the trace', lib.text(), trace.end);
    check(name, 'after opening the saved form', await lib.load(await lib.save()), trace.end);
    const sync = await syncDivergence(name, s);
    if (sync.texts[0] !== sync.texts[1] || sync.texts[0].length !== s.mergedChars) {
      throw new Error(`${name}: the replicas do not converge after the divergence scenario`);
    }
    console.log(`${name} ${lib.version}: ${trace.txns.length} keystrokes, same final text; divergence synced in ${sync.bytes} bytes, ${sync.roundTrips} round trip(s)`);
  }
}

/** The full benchmark: every library in its own child process, then the table and the JSON. */
function bench() {
  const runs = Math.max(1, Number(process.env.POLYARCH_BENCH_RUNS ?? 1));
  const quick = limit != null;
  const out = opts.out ?? join(process.env.CARGO_TARGET_DIR ?? join(HERE, '../../../target'), 'polyarch-bench');
  console.error(`JS benchmark: ${LIBRARIES.map((l) => `${PACKAGES[l]} ${versionOf(PACKAGES[l])}`).join(', ')}; ` +
    `${limit ? `first ${limit} keystrokes` : 'the whole trace'}, ${runs} run(s) each`);
  const traced = Object.fromEntries(LIBRARIES.map((l) => [l, []]));
  for (let run = 0; run < runs; run++) {
    for (const l of LIBRARIES) traced[l].push(spawnChild('trace', l));
  }
  const synced = Object.fromEntries(LIBRARIES.map((l) => [l, spawnChild('sync', l)]));
  const best = (l, key) => Math.min(...traced[l].map((r) => r[key]));
  const per = (key) => Object.fromEntries(LIBRARIES.map((l) => [l, best(l, key)]));
  const apply = per('applySecs');
  const load = per('loadSecs');
  const size = per('savedBytes');
  const live = per('peakLiveAddedMiB');
  const first = Object.fromEntries(LIBRARIES.map((l) => [l, traced[l][0]]));

  printTable(first, { apply, load, size, live }, synced);

  const versions = Object.fromEntries(LIBRARIES.map((l) => [l, first[l].version]));
  const common = { quick, details: {} };
  const samples = (key) => Object.fromEntries(LIBRARIES.map((l) => [l, traced[l].map((r) => r[key])]));
  const results = [
    result({
      ...common, name: 'js_local_apply', unit: 's', ours: apply.polyarch, baseline: apply.automerge, target: ratio(0.5),
      details: {
        keystrokes: first.polyarch.keystrokes, versions, best_secs: apply, samples_secs: samples('applySecs'), cpu_secs: samples('applyCpuSecs'),
        what: 'one change per keystroke through each library\'s JS API in Node (Polyarch: repo.change + tx.splice, then repo.flush); baseline @automerge/automerge',
      },
      notes: others(apply, 's'),
    }),
    result({
      ...common, name: 'js_open', unit: 's', ours: load.polyarch, baseline: load.automerge, target: ratio(0.15),
      details: {
        versions, best_secs: load, samples_secs: samples('loadSecs'), cpu_secs: samples('loadCpuSecs'),
        storage: Object.fromEntries(LIBRARIES.map((l) => [l, first[l].storage])),
        what: 'open the saved document in a new replica and read its text',
      },
      notes: [...others(load, 's'), `polyarch opens: ${first.polyarch.storage}`],
    }),
    result({
      ...common, name: 'js_saved_size', unit: 'bytes', ours: size.polyarch, baseline: size.automerge, target: context,
      details: { versions, bytes: size, what: Object.fromEntries(LIBRARIES.map((l) => [l, first[l].savedWhat])) },
      notes: others(size, 'bytes'),
    }),
    result({
      ...common, name: 'js_peak_memory', unit: 'MiB', ours: live.polyarch, baseline: live.automerge, target: context,
      details: {
        versions, peak_live_added_mib: live, peak_rss_added_mib: per('peakRssAddedMiB'), after_apply: Object.fromEntries(LIBRARIES.map((l) => [l, first[l].afterApply])),
        what: `heapUsed + external (JS heap, wasm memory, buffers): highest sample (every ${MEMORY_EVERY} keystrokes) while applying the trace, minus its value before the first keystroke; own process per library`,
      },
      notes: others(live, 'MiB'),
    }),
    result({
      ...common, name: 'js_sync_divergence', unit: 'bytes', ours: synced.polyarch.bytes, baseline: synced.automerge.bytes, target: ratio(1),
      details: {
        versions, baseline_variant: synced.automerge.variant, baseline_variants: synced.automerge.variants,
        bytes: Object.fromEntries(LIBRARIES.map((l) => [l, synced[l].bytes])),
        messages: Object.fromEntries(LIBRARIES.map((l) => [l, synced[l].messages])),
        what: 'B4 in Node: bytes both ways to sync two replicas that diverged; baseline: automerge\'s sync protocol, its variant with the fewest bytes',
      },
      notes: others(Object.fromEntries(LIBRARIES.map((l) => [l, synced[l].bytes])), 'bytes'),
    }),
    result({
      ...common, name: 'js_sync_divergence_round_trips', unit: 'round trips', ours: synced.polyarch.roundTrips,
      baseline: synced.automerge.fewestRoundTrips, target: atMost(1),
      details: {
        versions, round_trips: Object.fromEntries(LIBRARIES.map((l) => [l, synced[l].roundTrips])),
        counting: 'legs (flights that may go both ways at once) / 2, rounded up',
      },
    }),
    wasmSize(common),
  ];
  console.log();
  for (const r of results) write(out, r);
}

/**
 * The installed packages' wasm modules, gzipped at the best level as `cargo xtask npm` prints
 * them: Polyarch's against the 1 MB budget, automerge's (the baseline) and loro's for context
 * (yjs is plain JavaScript).
 */
function wasmSize(common) {
  const gz = (pkg) => {
    const dir = join(HERE, 'node_modules', pkg);
    const find = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? find(join(d, e.name)) : e.name.endsWith('.wasm') ? [join(d, e.name)] : []);
    const files = find(dir);
    // A package may ship one module per target (web, node, bundler): they are the same code.
    return files.length ? Math.min(...files.map((f) => gzipSync(readFileSync(f), { level: 9 }).length)) : null;
  };
  const bytes = { polyarch: gz('polyarch'), automerge: gz('@automerge/automerge'), loro: gz('loro-crdt') };
  return result({
    ...common, name: 'js_wasm_size', unit: 'bytes', ours: bytes.polyarch, baseline: bytes.automerge, target: atMost(1_000_000),
    details: { gzipped_bytes: bytes, what: 'the wasm module each package ships, gzipped (level 9); the smallest where a package ships several' },
    notes: [`loro ${bytes.loro} bytes; yjs ships no wasm`],
  });
}

/** Runs this file as `--child kind --library l`; returns the JSON it printed last. */
function spawnChild(kind, library) {
  const args = ['--expose-gc', fileURLToPath(import.meta.url), '--child', kind, '--library', library];
  if (limit) args.push('--limit', String(limit));
  console.error(`  ${kind}: ${library} ...`);
  const child = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 24 });
  if (child.status !== 0) throw new Error(`${kind} ${library} failed (status ${child.status}, signal ${child.signal})`);
  const lines = child.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** Lines naming yjs's and loro's figures (context beside the Polyarch/automerge ratio). */
function others(figures, unit) {
  return [`yjs ${num(figures.yjs)} ${unit}, loro ${num(figures.loro)} ${unit}`];
}

/** Prints one row per figure and one column per library, with Polyarch / automerge. */
function printTable(first, figures, synced) {
  const rows = [
    ['', ...LIBRARIES.map((l) => `${l} ${first[l].version}`), 'polyarch / automerge', 'target'],
    ['local apply (s)', ...LIBRARIES.map((l) => figures.apply[l].toFixed(3)), ratioOf(figures.apply), '<= 0.5'],
    ['open + read (s)', ...LIBRARIES.map((l) => figures.load[l].toFixed(3)), ratioOf(figures.load), '<= 0.15'],
    ['saved size (bytes)', ...LIBRARIES.map((l) => String(figures.size[l])), ratioOf(figures.size), '-'],
    ['peak heap+external added (MiB)', ...LIBRARIES.map((l) => figures.live[l].toFixed(1)), ratioOf(figures.live), '-'],
    ['sync after divergence (bytes)', ...LIBRARIES.map((l) => String(synced[l].bytes)), ratioOf(Object.fromEntries(LIBRARIES.map((l) => [l, synced[l].bytes]))), '<= 1'],
    ['  round trips', ...LIBRARIES.map((l) => String(synced[l].roundTrips)), '-', '<= 1'],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log();
  for (const [i, r] of rows.entries()) {
    console.log(`| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`);
    if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  }
}

function ratioOf(f) {
  return (f.polyarch / f.automerge).toFixed(3);
}

function check(name, when, got, want) {
  if (got !== want) {
    throw new Error(`${name}: wrong text ${when} (${got.length} chars, expected ${want.length})`);
  }
}

function cpuSecs({ user, system }) {
  return (user + system) / 1e6;
}

/** `{ live: heapUsed + external, rss }`, in bytes. */
function memory() {
  const m = process.memoryUsage();
  return { live: m.heapUsed + m.external, rss: m.rss };
}

function mib(bytes) {
  return bytes / (1024 * 1024);
}
