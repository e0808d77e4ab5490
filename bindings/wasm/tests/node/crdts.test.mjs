// Every CRDT type: create, edit, read, through the packed package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Repo } from 'polyarch';

const open = () => Repo.open({ name: 't', storage: 'memory' });

test('register: set and read', async () => {
  const repo = await open();
  const receipt = repo.register('doc', ['event', 'title']).set('Design review');
  assert.equal(receipt.doc, 'doc');
  assert.equal(typeof receipt.hash, 'string');
  assert.equal(repo.register('doc', ['event', 'title']).value, 'Design review');
  assert.deepEqual(repo.register('doc', ['event', 'title']).conflicts, ['Design review']);
  repo.register('doc', 'n').set(42);
  repo.register('doc', 'f').set(1.5);
  repo.register('doc', 'b').set(true);
  repo.register('doc', 'z').set(null);
  repo.register('doc', 'bytes').set(new Uint8Array([1, 2, 3]));
  assert.equal(repo.register('doc', 'n').value, 42);
  assert.equal(repo.register('doc', 'f').value, 1.5);
  assert.equal(repo.register('doc', 'b').value, true);
  assert.equal(repo.register('doc', 'z').value, null);
  assert.deepEqual([...repo.register('doc', 'bytes').value], [1, 2, 3]);
  assert.equal(repo.register('doc', 'unset').value, undefined);
});

test('counter: increments add up', async () => {
  const repo = await open();
  const c = repo.counter('doc', 'likes');
  c.increment();
  c.increment(5);
  c.increment(-2);
  assert.equal(c.value, 4);
});

test('set: add, has, delete, members', async () => {
  const repo = await open();
  const s = repo.set('doc', 'tags');
  s.add('b');
  s.add('a');
  s.add('a');
  assert.deepEqual(s.members, ['a', 'b']);
  assert.equal(s.size, 2);
  assert.ok(s.has('a'));
  s.delete('a');
  assert.deepEqual(s.members, ['b']);
});

test('text: splice and update count UTF-16 code units', async () => {
  const repo = await open();
  const t = repo.text('doc', 'body');
  t.splice(0, 0, 'Hello world');
  t.splice(5, 6, ', 😀!');
  assert.equal(t.toString(), 'Hello, 😀!');
  assert.equal(t.length, 'Hello, 😀!'.length);
  t.splice('Hello, 😀'.length, 0, '?');
  assert.equal(t.toString(), 'Hello, 😀?!');
  t.update('Goodbye');
  assert.equal(t.toString(), 'Goodbye');
  const cursor = t.cursor(4);
  t.splice(0, 0, '>> ');
  assert.equal(t.cursorPosition(cursor), 7);
});

test('map and list', async () => {
  const repo = await open();
  repo.map('doc', 'meta').create();
  repo.register('doc', ['meta', 'owner']).set('ada');
  repo.register('doc', ['meta', 'tmp']).set(1);
  assert.deepEqual(repo.map('doc', 'meta').keys, ['owner', 'tmp']);
  repo.map('doc', 'meta').delete('tmp');
  assert.ok(!repo.map('doc', 'meta').has('tmp'));
  const l = repo.list('doc', 'items');
  l.push('a');
  l.push('c');
  l.insert(1, 'b');
  l.set(0, 'A');
  assert.deepEqual(l.values, ['A', 'b', 'c']);
  l.delete(2);
  assert.equal(l.length, 2);
  assert.equal(l.get(1), 'b');
  assert.equal(l.get(9), undefined);
});

test('change: one atomic change; a throwing callback changes nothing', async () => {
  const repo = await open();
  const receipt = repo.change('cal', (tx) => {
    tx.setRegister(['events', 'e1', 'title'], 'Offsite');
    tx.addToSet(['events', 'e1', 'attendees'], 'ada');
    tx.increment('rsvps', 2);
    tx.splice('notes', 0, 0, 'bring snacks');
    tx.push('log', 'created');
  });
  assert.notEqual(receipt, null);
  assert.equal(repo.toJSON('cal').events.e1.title, 'Offsite');
  assert.deepEqual(repo.set('cal', ['events', 'e1', 'attendees']).members, ['ada']);
  assert.equal(repo.counter('cal', 'rsvps').value, 2);
  assert.throws(() => repo.change('cal', (tx) => {
    tx.increment('rsvps', 100);
    throw new Error('app bug');
  }), /app bug/);
  assert.equal(repo.counter('cal', 'rsvps').value, 2);
  assert.equal(repo.change('cal', () => {}), null);
  assert.deepEqual(repo.docIds(), ['cal']);
});

test('receipts and status', async () => {
  const repo = await open();
  const receipt = repo.counter('doc', 'n').increment();
  assert.equal(typeof receipt.offset, 'number');
  assert.deepEqual(repo.receiptStatus(receipt), { onDisk: true, ackedBy: [] });
  const token = repo.version('doc');
  assert.ok(repo.hasCaughtUp('doc', token));
  assert.equal(repo.status().documents, 1);
  assert.match(repo.deviceId, /^[0-9a-f]{32}$/);
});
