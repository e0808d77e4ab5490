// Two repos syncing through sessions in memory, converging with a visible register conflict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Repo, SyncSession, syncLocally } from 'polyarch';

async function exchange(a, b) {
  const sa = new SyncSession(a);
  const sb = new SyncSession(b);
  drive(sa, sb);
  return [sa, sb];
}

/** Delivers frames both ways until both sessions are quiet; returns the legs it took. */
function drive(sa, sb) {
  let toB = sa.start();
  let toA = sb.start();
  assert.ok(toB.every((f) => f instanceof Uint8Array));
  let legs = 0;
  while (toA.length || toB.length) {
    legs += 1;
    const nextToA = toB.flatMap((f) => sb.receive(f));
    toB = toA.flatMap((f) => sa.receive(f));
    toA = nextToA;
  }
  return legs;
}

test('offline edits converge and the concurrent titles are both kept', async () => {
  const laptop = await Repo.open({ name: 'laptop' });
  const phone = await Repo.open({ name: 'phone' });
  laptop.change('cal', (tx) => {
    tx.setRegister(['events', 'e1', 'title'], 'Design review');
    tx.addToSet(['events', 'e1', 'attendees'], 'ada');
  });
  await exchange(laptop, phone);
  assert.equal(phone.register('cal', ['events', 'e1', 'title']).value, 'Design review');

  laptop.register('cal', ['events', 'e1', 'title']).set('Design review (v2)');
  phone.register('cal', ['events', 'e1', 'title']).set('Architecture review');
  phone.set('cal', ['events', 'e1', 'attendees']).add('grace');
  laptop.text('cal', 'notes').splice(0, 0, 'agenda');
  phone.counter('cal', 'rsvps').increment(3);
  laptop.counter('cal', 'rsvps').increment(4);

  const [sa] = await exchange(laptop, phone);
  assert.equal(sa.state, 'in-sync');
  assert.equal(sa.peer, phone.deviceId);
  assert.deepEqual(laptop.toJSON('cal'), phone.toJSON('cal'));
  const conflicts = phone.register('cal', ['events', 'e1', 'title']).conflicts;
  assert.deepEqual([...conflicts].sort(), ['Architecture review', 'Design review (v2)']);
  // The whole document's conflicts in one call: the same register, values in the same order.
  for (const repo of [laptop, phone]) {
    assert.deepEqual(repo.conflicts('cal'), [
      { path: ['events', 'e1', 'title'], values: repo.register('cal', ['events', 'e1', 'title']).conflicts },
    ]);
    // Both reads in one walk: the same as each read alone.
    assert.deepEqual(repo.toJSONWithConflicts('cal'), { json: repo.toJSON('cal'), conflicts: repo.conflicts('cal') });
  }
  assert.deepEqual(phone.set('cal', ['events', 'e1', 'attendees']).members, ['ada', 'grace']);
  assert.equal(phone.counter('cal', 'rsvps').value, 7);
  assert.equal(phone.text('cal', 'notes').toString(), 'agenda');

  // Resolving the conflict is one more write, and it syncs too.
  phone.register('cal', ['events', 'e1', 'title']).set('Architecture review');
  await exchange(laptop, phone);
  assert.deepEqual(laptop.register('cal', ['events', 'e1', 'title']).conflicts, ['Architecture review']);
  assert.deepEqual(laptop.conflicts('cal'), []);
});

test('a session told its peer resumes a reconnection in one round trip', async () => {
  const a = await Repo.open();
  const b = await Repo.open();
  const [first, second] = await exchange(a, b);
  assert.throws(() => new SyncSession(a, { peer: 'not a device id' }), { code: 'INVALID_ARGUMENT' });
  // Both edit offline, then reconnect with new sessions that know their peer.
  a.counter('doc', 'n').increment(1);
  b.counter('doc', 'n').increment(2);
  const legs = drive(new SyncSession(a, { peer: first.peer }), new SyncSession(b, { peer: second.peer }));
  // The changes go right behind each hello; the second leg carries only acknowledgements.
  assert.equal(legs, 2);
  assert.equal(a.counter('doc', 'n').value, 3);
  assert.equal(b.counter('doc', 'n').value, 3);
  // Without the peer, the same reconnection takes longer: each side waits for the other's hello.
  a.counter('doc', 'n').increment(1);
  const plainLegs = drive(new SyncSession(a), new SyncSession(b));
  assert.ok(plainLegs > 2, `a session with no peer took ${plainLegs} legs`);
});

test('a live session streams later changes through poll', async () => {
  const a = await Repo.open();
  const b = await Repo.open();
  const sa = new SyncSession(a);
  const sb = new SyncSession(b);
  syncLocally(sa, sb);
  a.text('doc', 't').splice(0, 0, 'live');
  let toB = sa.poll();
  assert.ok(toB.length > 0);
  let toA = [];
  while (toA.length || toB.length) {
    const nextToA = toB.flatMap((f) => sb.receive(f));
    toB = toA.flatMap((f) => sa.receive(f));
    toA = nextToA;
  }
  assert.equal(b.text('doc', 't').toString(), 'live');
  const status = a.status();
  assert.equal(status.peers.length, 1);
});

test('a session opened with `docs` receives only those documents; a wider one later gets the rest', async () => {
  const a = await Repo.open();
  const b = await Repo.open();
  a.register('week-1', 'title').set('one');
  a.register('week-2', 'title').set('two');
  syncLocally(new SyncSession(a), new SyncSession(b, { docs: ['week-1'] }));
  assert.deepEqual(b.docIds(), ['week-1']);
  syncLocally(new SyncSession(a), new SyncSession(b, { docs: ['week-1', 'week-2'] }));
  assert.deepEqual(b.docIds().sort(), ['week-1', 'week-2']);
  assert.equal(b.register('week-2', 'title').value, 'two');
  assert.throws(() => new SyncSession(b, { docs: 'week-1' }), (e) => e.name === 'PolyarchError' && e.code === 'INVALID_ARGUMENT');
});
