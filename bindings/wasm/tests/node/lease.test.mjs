// A leased identity (`Repo.open({ device, actor })`, what a browser tab slot uses): the given
// device id, the given actor only where claimed, and clear errors for what cannot hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Repo, SyncSession, syncLocally } from 'polyarch';

const DEVICE = '0123456789abcdef0123456789abcdef';
const ACTOR = 'aa'.repeat(16);

const leased = () => Repo.open({ name: 't', storage: 'memory', device: DEVICE, actor: ACTOR });

test('a leased replica presents the device id and writes as the actor where claimed', async () => {
  const hub = await Repo.open({ name: 'hub', storage: 'memory' });
  for (let load = 1; load <= 3; load++) {
    const page = await leased();
    assert.equal(page.deviceId, DEVICE);
    syncLocally(new SyncSession(page), new SyncSession(hub));
    page.list('doc', 'log').push(`unclaimed ${load}`); // its own new actor
    page.claimActor(['doc']);
    page.list('doc', 'log').push(`claimed ${load}`);
    syncLocally(new SyncSession(page), new SyncSession(hub));
    const actors = hub.actors('doc');
    assert.equal(actors[ACTOR], load, 'the leased actor continues its sequence');
    assert.equal(Object.keys(actors).length, load + 1);
    page.close();
  }
  assert.equal(hub.list('doc', 'log').length, 6);
  assert.deepEqual(hub.status().peers.map((p) => p.peer), [DEVICE]);
});

test('leases are checked: malformed ids, half a lease, a lease on an image, a claim without one', async () => {
  const code = (p) => p.then(() => null, (e) => e.code);
  for (const bad of [{ device: 'xyz', actor: ACTOR }, { device: DEVICE, actor: 'abc' }, { device: DEVICE, actor: 'a'.repeat(130) }, { device: DEVICE }, { actor: ACTOR }]) {
    assert.equal(await code(Repo.open({ storage: 'memory', ...bad })), 'INVALID_ARGUMENT', JSON.stringify(bad));
  }
  const image = (await Repo.open({ storage: 'memory' })).exportImage();
  assert.equal(await code(Repo.open({ image, device: DEVICE, actor: ACTOR })), 'INVALID_LEASE');
  const plain = await Repo.open({ storage: 'memory' });
  assert.throws(() => plain.claimActor(null), (e) => e.code === 'INVALID_LEASE' && /without a lease/.test(e.message));
  assert.deepEqual(plain.actors('nothing-here'), {});
});
