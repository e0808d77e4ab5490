// One replica format on every host (issue 6): a replica file written by the native library
// (the `polyarch` CLI) opens in this package from its bytes, an image exported here opens in
// the CLI as a replica file, and the two then sync over WebSocket and converge.
//
// `POLYARCH_CLI` names the native CLI: `cargo xtask npm --test` builds it and sets it, and runs
// Node with `--experimental-websocket` (Node 20's WebSocket client).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Repo, connectWebSocket, isPolyarchError } from 'polyarch';

const CLI = process.env.POLYARCH_CLI;

/** Runs the native CLI; returns its stdout. */
function polyarch(...args) {
  assert.ok(CLI, 'POLYARCH_CLI must name the native polyarch CLI (cargo xtask npm --test sets it)');
  return execFileSync(CLI, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `polyarch serve file` on a free port: its URL, and `stop` (SIGTERM, then waits for the exit). */
async function serve(file) {
  assert.ok(CLI, 'POLYARCH_CLI must name the native polyarch CLI (cargo xtask npm --test sets it)');
  const child = spawn(CLI, ['serve', file, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0].trim());
    });
    exited.then((code) => reject(new Error(`polyarch serve exited with ${code}: ${stderr}`)));
  });
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, `polyarch serve stopped cleanly: ${stderr}`);
  };
  return { url, stop };
}

async function until(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A native replica file holding every type, with a register in conflict (two devices synced). */
function nativeReplica(dir) {
  const laptop = join(dir, 'laptop.db');
  const phone = join(dir, 'phone.db');
  polyarch('init', laptop);
  polyarch('init', phone);
  polyarch('set', laptop, 'cal', 'events/e1/title', 'Design review');
  polyarch('set', laptop, 'cal', 'events/e1/room', '12', '--json');
  polyarch('add', laptop, 'cal', 'events/e1/guests', 'ada');
  polyarch('incr', laptop, 'cal', 'events/e1/rsvp', '3');
  polyarch('append', laptop, 'notes', 'body', 'héllo 🌍');
  polyarch('set', phone, 'cal', 'events/e1/title', 'Architecture review');
  polyarch('add', phone, 'cal', 'events/e1/guests', 'grace');
  return { laptop, phone };
}

test('a replica file written by the native CLI opens here from its bytes, every type intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'polyarch-image-'));
  try {
    const { laptop, phone } = nativeReplica(dir);
    const server = await serve(laptop);
    polyarch('sync', phone, server.url);
    await server.stop();
    assert.equal(polyarch('get', laptop, 'cal', 'events/e1/title').trim().split('\n').length, 2, 'a conflict natively');
    const native = JSON.parse(polyarch('status', laptop, '--json'));

    const bytes = readFileSync(laptop);
    assert.deepEqual([...bytes.subarray(18, 20)], [2, 2], 'the file as the CLI left it: WAL mode');
    const repo = await Repo.open({ image: bytes, label: 'wasm' });
    assert.deepEqual(repo.docIds().sort(), ['cal', 'notes']);
    const title = repo.register('cal', ['events', 'e1', 'title']);
    assert.deepEqual([...title.conflicts].sort(), ['Architecture review', 'Design review']);
    assert.equal(repo.register('cal', ['events', 'e1', 'room']).value, 12);
    assert.deepEqual(repo.set('cal', ['events', 'e1', 'guests']).members, ['ada', 'grace']);
    assert.equal(repo.counter('cal', ['events', 'e1', 'rsvp']).value, 3);
    const body = repo.text('notes', 'body');
    assert.equal(body.toString(), 'héllo 🌍');
    assert.equal(body.length, 8, 'UTF-16 code units here, whatever the native side counted in');
    assert.deepEqual(repo.toJSON('cal'), JSON.parse(polyarch('dump', laptop, 'cal')));

    // A copy is a new device, and it writes.
    assert.notEqual(repo.deviceId, native.device);
    body.splice(body.length, 0, '!');
    assert.equal(body.toString(), 'héllo 🌍!');
    repo.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an image exported here is a replica file the native CLI reads and edits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'polyarch-image-'));
  try {
    const repo = await Repo.open({ label: 'wasm' });
    repo.register('cal', ['events', 'e2', 'title']).set('Written in wasm');
    repo.register('cal', ['events', 'e2', 'seats']).set(40);
    repo.set('cal', ['events', 'e2', 'guests']).add('linus');
    repo.counter('cal', ['events', 'e2', 'rsvp']).increment(5);
    repo.text('notes', 'body').splice(0, 0, 'über 🌍');
    const image = repo.exportImage();
    assert.ok(image instanceof Uint8Array);

    // The header is what the native side writes: SQLite's magic, Polyarch's application_id and
    // schema version (user_version), and a rollback journal so that it opens anywhere.
    const file = join(dir, 'from-wasm.db');
    polyarch('init', join(dir, 'native.db'));
    const nativeHeader = [...readFileSync(join(dir, 'native.db')).subarray(0, 100)];
    const header = [...image.subarray(0, 100)];
    assert.equal(String.fromCharCode(...header.slice(0, 16)), 'SQLite format 3\0');
    assert.deepEqual(header.slice(68, 72), nativeHeader.slice(68, 72), 'application_id');
    assert.deepEqual(header.slice(60, 64), nativeHeader.slice(60, 64), 'schema version');
    assert.deepEqual(header.slice(18, 20), [1, 1], 'a rollback journal: opens in memory too');

    // The replica moves: written to a file, the native CLI carries on with it.
    writeFileSync(file, image);
    const json = repo.toJSON('cal');
    repo.close();
    assert.match(polyarch('docs', file), /^cal\s.*\nnotes\s.*\n2 documents$/m);
    assert.deepEqual(JSON.parse(polyarch('dump', file, 'cal')), json);
    assert.deepEqual(JSON.parse(polyarch('get', file, 'cal', 'events/e2/seats')), 40);
    assert.equal(JSON.parse(polyarch('get', file, 'notes', 'body')), 'über 🌍');
    polyarch('incr', file, 'cal', 'events/e2/rsvp', '2');
    assert.equal(JSON.parse(polyarch('get', file, 'cal', 'events/e2/rsvp')), 7);
    polyarch('compact', file);

    // And back again: the file the CLI edited opens here.
    const back = await Repo.open({ image: readFileSync(file) });
    assert.equal(back.counter('cal', ['events', 'e2', 'rsvp']).value, 7);
    assert.equal(back.text('notes', 'body').toString(), 'über 🌍');
    back.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bytes that are not an image are refused with STORE_NOT_AN_IMAGE, or INVALID_ARGUMENT', async () => {
  const notImages = [new Uint8Array(0), new TextEncoder().encode('SQLite format 3\0'), new Uint8Array(4096).fill(7)];
  for (const image of notImages) {
    await assert.rejects(Repo.open({ image }), (e) => {
      assert.ok(e instanceof Error && isPolyarchError(e), String(e));
      assert.equal(e.code, 'STORE_NOT_AN_IMAGE');
      return true;
    });
  }
  const good = await Repo.open();
  good.counter('doc', 'n').increment();
  const image = good.exportImage();
  // Damaged after the header: an error when opened or read, never a crash.
  const damaged = image.slice();
  damaged.fill(0xa5, 1024);
  try {
    const repo = await Repo.open({ image: damaged });
    assert.throws(() => repo.toJSON('doc'), isPolyarchError);
  } catch (e) {
    assert.ok(isPolyarchError(e), String(e));
  }
  await assert.rejects(Repo.open({ image: [1, 2, 3] }), (e) => isPolyarchError(e) && e.code === 'INVALID_ARGUMENT');
  await assert.rejects(Repo.open({ image, storage: 'opfs' }), (e) => isPolyarchError(e) && e.code === 'INVALID_ARGUMENT');
  // The package still works after refusing them.
  assert.equal((await Repo.open({ image })).counter('doc', 'n').value, 1);
});

test('a native replica and its copy here edit concurrently, sync over WebSocket and converge', async () => {
  assert.equal(typeof globalThis.WebSocket, 'function', 'Node runs with --experimental-websocket (cargo xtask npm --test)');
  const dir = mkdtempSync(join(tmpdir(), 'polyarch-image-'));
  try {
    const { laptop } = nativeReplica(dir);
    const native = JSON.parse(polyarch('status', laptop, '--json'));
    const repo = await Repo.open({ image: readFileSync(laptop), label: 'wasm' });

    // Both sides edit while apart.
    polyarch('set', laptop, 'cal', 'events/e1/title', 'Design review (native)');
    polyarch('incr', laptop, 'cal', 'events/e1/rsvp', '1');
    polyarch('add', laptop, 'cal', 'events/e1/guests', 'native-guest');
    repo.register('cal', ['events', 'e1', 'title']).set('Design review (wasm)');
    repo.counter('cal', ['events', 'e1', 'rsvp']).increment(2);
    const receipt = repo.set('cal', ['events', 'e1', 'guests']).add('wasm-guest');

    const server = await serve(laptop);
    const conn = connectWebSocket(repo, server.url, { onError: (e) => console.error(e) });
    try {
      await until(
        () =>
          repo.set('cal', ['events', 'e1', 'guests']).has('native-guest') &&
          repo.receiptStatus(receipt).ackedBy.includes(native.device),
        'both sides to hold both edits',
      );
    } finally {
      conn.close();
      await server.stop();
    }

    const here = repo.toJSON('cal');
    assert.deepEqual(JSON.parse(polyarch('dump', laptop, 'cal')), here);
    assert.equal(repo.counter('cal', ['events', 'e1', 'rsvp']).value, 6);
    assert.deepEqual(repo.set('cal', ['events', 'e1', 'guests']).members, ['ada', 'native-guest', 'wasm-guest']);
    const titles = repo.register('cal', ['events', 'e1', 'title']).conflicts;
    assert.deepEqual([...titles].sort(), ['Design review (native)', 'Design review (wasm)']);
    assert.deepEqual(
      polyarch('get', laptop, 'cal', 'events/e1/title').trim().split('\n').map((l) => JSON.parse(l)),
      titles,
      'the same conflict, the same winner first',
    );
    repo.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
