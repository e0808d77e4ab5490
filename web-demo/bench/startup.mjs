// Benchmark (not a test): how fast the calendar shows its week with 10,000 events in the
// device's store, against the same page over an empty store, in one run of headless Chromium.
//
// "Startup" is the time from the page starting to load its script (the main module's fetch,
// from the Resource Timing entry) to the week view being on screen (the app's
// `calendar:week-shown` mark, set right after the first render of the week). Each side is
// measured RUNS times on reloads of a warm profile (the store already on OPFS), and the
// median is kept. The app is served alone (no relay), so the network plays no part.
//
//   node bench/startup.mjs            (POLYARCH_BENCH_QUICK=1: 1,000 events, 3 runs)
//
// Writes `target/polyarch-bench/web_demo_startup.json`: name, ours, baseline, unit, ratio,
// target (200 ms), plus the phases of the median run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, tempDir } from '../../bindings/wasm/tests/browser/support.mjs';
import { startDemo } from '../server.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const QUICK = process.env.POLYARCH_BENCH_QUICK === '1';
const EVENTS = QUICK ? 1_000 : 10_000;
const RUNS = QUICK ? 3 : 7;
const WEEKS = 100; // the events are spread over 100 weeks, about 100 a week
const SHOWN = '2030-W10';
const TARGET_MS = 200;

/** Writes `n` events over `weeks` weeks (from 2030-W01) into the page's repo, and waits until stored. */
async function seed(page, n, weeks) {
  return page.evaluate(
    async ({ n, weeks }) => {
      const { repo } = window.calendar;
      const rooms = ['Ada', 'Babbage', 'Curie', 'Darwin', 'Euler'];
      const pad = (x) => String(x).padStart(2, '0');
      const iso = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
      const isoWeek = (d) => {
        const t = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
        t.setUTCDate(t.getUTCDate() + 4 - (t.getUTCDay() || 7));
        const week = Math.ceil(((t - Date.UTC(t.getUTCFullYear(), 0, 1)) / 86_400_000 + 1) / 7);
        return `${t.getUTCFullYear()}-W${pad(week)}`;
      };
      let last = null;
      let i = 0;
      // Batches of 20 events, one change each, round-robin over the weeks.
      for (let batch = 0; i < n; batch++) {
        const monday = new Date(2029, 11, 31 + 7 * (batch % weeks));
        last = repo.change(`week-${isoWeek(monday)}`, (tx) => {
          for (let k = 0; k < 20 && i < n; k++, i++) {
            const id = `ev-seed-${i}`;
            const day = iso(new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + (i % 5)));
            const hour = pad(8 + (i % 9));
            const at = (f) => ['events', id, f];
            tx.setRegister(at('title'), `Meeting ${i}`);
            tx.setRegister(at('start'), `${day}T${hour}:00`);
            tx.setRegister(at('end'), `${day}T${hour}:45`);
            tx.setRegister(at('room'), rooms[i % rooms.length]);
            tx.addToSet(at('attendees'), `person-${i % 40}`);
            tx.increment(['events', id, 'rsvp', 'yes'], 1);
            tx.updateText(at('notes'), `Notes of meeting ${i}`);
          }
        });
      }
      await repo.stored(last);
      return repo.docIds().length;
    },
    { n, weeks },
  );
}

/** One cold page load of `url`: the phases, in ms from the main script's fetch start. */
async function measure(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
  const phases = await page.evaluate(() => {
    const script = performance.getEntriesByType('resource').find((e) => e.initiatorType === 'script' && /\/assets\/index-.*\.js$/.test(e.name))
      ?? performance.getEntriesByType('resource').find((e) => /\/assets\/.*\.js$/.test(e.name));
    const t0 = script ? script.startTime : 0;
    const mark = (name) => performance.getEntriesByName(name)[0]?.startTime;
    const out = { total: mark('calendar:week-shown') - t0 };
    for (const m of performance.getEntriesByType('mark')) out[m.name.replace('calendar:', '')] = Math.round((m.startTime - t0) * 10) / 10;
    return out;
  });
  const events = await page.evaluate(() => window.calendar.events.length);
  await page.close();
  return { ...phases, events };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function side(context, url, runs) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await measure(context, url));
  const totals = results.map((r) => r.total);
  const mid = results.find((r) => r.total === median(totals));
  return { ms: median(totals), all: totals.map((t) => Math.round(t)), phases: mid };
}

const demo = await startDemo({ relay: false });
const profile = tempDir('polyarch-bench-');
const context = await launch(profile);
try {
  // Seed the "full" device, then warm both sides once (the store on OPFS, the HTTP cache).
  const full = `${demo.url}?device=f#${SHOWN}`;
  const empty = `${demo.url}?device=e#${SHOWN}`;
  const page = await context.newPage();
  await page.goto(full);
  await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
  const started = Date.now();
  const docs = await seed(page, EVENTS, WEEKS);
  console.log(`seeded ${EVENTS} events in ${docs} week documents in ${Date.now() - started} ms`);
  await page.close();
  await measure(context, full);
  await measure(context, empty);

  const ours = await side(context, full, RUNS);
  const baseline = await side(context, empty, RUNS);
  const ratio = ours.ms / baseline.ms;
  console.log(`web demo startup (${EVENTS} events): ${ours.ms.toFixed(1)} ms  runs ${ours.all.join(' ')}`);
  console.log(`  phases: ${JSON.stringify(ours.phases)}`);
  console.log(`empty store (baseline):        ${baseline.ms.toFixed(1)} ms  runs ${baseline.all.join(' ')}`);
  console.log(`  phases: ${JSON.stringify(baseline.phases)}`);
  console.log(`ratio ${ratio.toFixed(2)}; target ${TARGET_MS} ms: ${ours.ms <= TARGET_MS ? 'met' : 'NOT met'}`);
  const out = resolve(process.env.CARGO_TARGET_DIR ?? join(HERE, '../../target'), 'polyarch-bench');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'web_demo_startup.json'),
    JSON.stringify({
      name: 'web_demo_startup',
      ours: Math.round(ours.ms * 10) / 10,
      baseline: Math.round(baseline.ms * 10) / 10,
      unit: 'ms',
      ratio: Math.round(ratio * 100) / 100,
      target: TARGET_MS,
      events: EVENTS,
      phases: { ours: ours.phases, baseline: baseline.phases },
    }, null, 2) + '\n',
  );
} finally {
  await context.close();
  await demo.close();
}
