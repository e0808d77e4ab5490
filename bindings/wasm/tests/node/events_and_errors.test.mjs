// Subscriptions (local and remote), throwing listeners, and errors with stable codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Repo, SyncSession, syncLocally, isPolyarchError } from 'polyarch';

test('subscribe fires after local and remote changes; unsubscribe stops it', async () => {
  const a = await Repo.open();
  const b = await Repo.open();
  const seen = [];
  const unsubscribe = b.subscribe('doc', (event) => seen.push(event));
  assert.equal(typeof unsubscribe, 'function');
  b.counter('doc', 'n').increment();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].doc, 'doc');
  assert.equal(seen[0].origin, 'Local');
  assert.ok(seen[0].patches.length > 0);

  a.register('doc', 'title').set('remote');
  syncLocally(new SyncSession(a), new SyncSession(b));
  const remote = seen.filter((e) => e.origin !== 'Local');
  assert.ok(remote.length >= 1, 'a remote event was delivered');

  unsubscribe();
  b.counter('doc', 'n').increment();
  assert.equal(seen.length, 1 + remote.length);
  unsubscribe(); // twice is harmless
});

test('subscribe with { patches: false } hears every change, without patches', async () => {
  const a = await Repo.open();
  const b = await Repo.open();
  const bare = [];
  b.subscribe(null, (event) => bare.push(event), { patches: false });
  b.counter('doc', 'n').increment();
  a.register('doc', 'title').set('remote');
  syncLocally(new SyncSession(a), new SyncSession(b));
  assert.deepEqual(bare.map((e) => [e.doc, e.origin === 'Local', e.patches.length]), [
    ['doc', true, 0],
    ['doc', false, 0],
  ]);
  // Beside a listener that wants patches, it still gets none; that one gets them.
  const full = [];
  b.subscribe('doc', (event) => full.push(event));
  b.counter('doc', 'n').increment();
  assert.equal(bare[2].patches.length, 0);
  assert.ok(full[0].patches.length > 0);
});

test('a listener may read the repo, and a throwing listener never breaks it', async () => {
  const reported = [];
  const repo = await Repo.open({ onError: (e) => reported.push(e) });
  let readInside;
  repo.subscribe(null, () => {
    readInside = repo.counter('doc', 'n').value;
  });
  repo.subscribe('doc', () => {
    throw new Error('listener bug');
  });
  repo.counter('doc', 'n').increment(2);
  assert.equal(readInside, 2);
  assert.equal(reported.length, 1);
  assert.match(reported[0].message, /listener bug/);
  repo.counter('doc', 'n').increment(1);
  assert.equal(repo.counter('doc', 'n').value, 3);
});

function assertCode(fn, code) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Error, 'a real Error');
    assert.equal(e.name, 'PolyarchError');
    assert.equal(e.code, code);
    assert.ok(isPolyarchError(e));
    return true;
  });
}

test('errors are Error objects with stable codes', async () => {
  const repo = await Repo.open();
  assertCode(() => repo.register('missing', 'x').value, 'NO_SUCH_DOC');
  assertCode(() => repo.register('', 'x').set(1), 'ID_DOC_ID');
  repo.text('doc', 'body').splice(0, 0, 'abc');
  assertCode(() => repo.counter('doc', 'body').increment(), 'MODEL_TYPE_MISMATCH');
  assertCode(() => repo.text('doc', 'body').splice(10, 0, 'x'), 'MODEL_INDEX_OUT_OF_RANGE');
  assertCode(() => repo.register('doc', { not: 'a path' }), 'INVALID_ARGUMENT');
  assertCode(() => repo.register('doc', 'x').set({ an: 'object' }), 'INVALID_ARGUMENT');
  let escaped;
  repo.change('doc', (tx) => {
    escaped = tx;
  });
  assertCode(() => escaped.increment('n'), 'INVALID_ARGUMENT');
  const session = new SyncSession(repo);
  session.start();
  assertCode(() => session.receive(new Uint8Array([1, 2, 3])), 'SYNC_WIRE');
  await assert.rejects(Repo.open({ storage: 'opfs' }), (e) => e.code === 'STORAGE_UNAVAILABLE');
  await assert.rejects(Repo.open({ storage: 'disk' }), (e) => e.code === 'INVALID_ARGUMENT');
  repo.close();
  assertCode(() => repo.docIds(), 'CLOSED');
});

test('openBrowserRepo is for browsers: in Node it rejects with STORAGE_UNAVAILABLE', async () => {
  const { openBrowserRepo } = await import('polyarch');
  await assert.rejects(openBrowserRepo({ name: 'notes' }), (e) => isPolyarchError(e) && e.code === 'STORAGE_UNAVAILABLE');
});
