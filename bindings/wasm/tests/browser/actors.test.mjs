// Tab slots: page loads write as their tab slot's actor and present its device id, so a
// document's actors (and the database's peers) stay bounded by the tabs open at once, however
// often pages are reloaded; and a slot's actor never writes a document the page has not synced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTab, servePackage, until, withBrowser } from './support.mjs';

const server = servePackage();

/** Opens the repo `name` (with `docs`, if given); returns where the page stands. */
function open(page, name, docs) {
  return page.evaluate(async ({ name, docs }) => {
    window.repo = await window.polyarch.openBrowserRepo({ name, docs, onError: (e) => console.error(String(e)) });
    return { slot: window.repo.slot, device: window.repo.deviceId };
  }, { name, docs });
}

/** Reloads `page`, opens the repo again and appends `entry` to `doc`'s log, stored. */
async function reloadAndWrite(page, name, entry, doc = 'doc') {
  await page.reload();
  await page.waitForFunction(() => window.loaded === true);
  const where = await open(page, name);
  await page.evaluate(async ({ doc, entry }) => {
    await window.repo.stored(window.repo.list(doc, 'log').push(entry));
  }, { doc, entry });
  return where;
}

const actors = (page, doc = 'doc') => page.evaluate((doc) => window.repo.actors(doc), doc);
const log = (page, doc = 'doc') => page.evaluate((doc) => [...window.repo.list(doc, 'log').values].sort(), doc);

test('reloads write as the tab slot\'s actor: actors stay bounded by the tabs open at once', async () => {
  await withBrowser(async (context) => {
    const LOADS = 8;
    const a = await openTab(context, server.url);
    const first = await open(a, 'slots');
    assert.equal(first.slot, 0);
    const written = [];
    for (let i = 0; i < LOADS; i++) {
      written.push(`a${i}`);
      assert.deepEqual(await reloadAndWrite(a, 'slots', `a${i}`), first, 'a reload takes the same slot and device');
    }
    // One actor for eight page loads that wrote, its sequence unbroken.
    assert.deepEqual(Object.values(await actors(a)), [LOADS]);

    // A second tab open at once takes the next slot: another device, another actor.
    const b = await openTab(context, server.url);
    const second = await open(b, 'slots');
    assert.equal(second.slot, 1);
    assert.notEqual(second.device, first.device);
    for (let i = 0; i < 3; i++) {
      written.push(`a-again${i}`, `b${i}`);
      assert.deepEqual(await reloadAndWrite(a, 'slots', `a-again${i}`), first);
      assert.deepEqual(await reloadAndWrite(b, 'slots', `b${i}`), second);
    }
    written.sort();
    for (const page of [a, b]) {
      await until(page, (n) => window.repo.list('doc', 'log').length === n, written.length, 'both tabs to hold every entry');
      assert.deepEqual(await log(page), written);
    }
    const seen = await actors(b);
    assert.equal(Object.keys(seen).length, 2, `two tabs at once, two actors: ${JSON.stringify(seen)}`);
    assert.deepEqual(Object.values(seen).sort((x, y) => x - y), [3, LOADS + 3]);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  });
});

test('a page that does not follow a document writes it as a new actor, never reusing the slot\'s sequence', async () => {
  await withBrowser(async (context) => {
    const page = await openTab(context, server.url);
    await open(page, 'partial');
    await page.evaluate(async () => {
      await window.repo.stored(window.repo.register('other', 'first').set('by the slot, first load'));
    });
    const slotActor = Object.keys(await actors(page, 'other'));
    assert.equal(slotActor.length, 1);

    // The next load follows only "mine", so it does not hold the slot actor's change to
    // "other": its write there must not be that actor's sequence number 1 again.
    await page.reload();
    await page.waitForFunction(() => window.loaded === true);
    await open(page, 'partial', ['mine']);
    await page.evaluate(async () => {
      await window.repo.stored(window.repo.register('other', 'second').set('by the second load, unfollowed'));
    });
    const unfollowed = await actors(page, 'other');
    assert.equal(Object.keys(unfollowed).length, 1);
    assert.notEqual(Object.keys(unfollowed)[0], slotActor[0]);
    // A followed document is written as the slot's actor.
    await page.evaluate(async () => window.repo.stored(window.repo.list('mine', 'log').push('followed')));
    assert.deepEqual(Object.keys(await actors(page, 'mine')), slotActor);

    // Everything reached the database intact: a page that follows all holds both writes.
    const reader = await openTab(context, server.url);
    await open(reader, 'partial');
    await until(reader, () => Object.keys(window.repo.toJSON('other')).length === 2, null, 'both writes to "other"');
    assert.deepEqual(await reader.evaluate(() => window.repo.toJSON('other')), {
      first: 'by the slot, first load',
      second: 'by the second load, unfollowed',
    });
    assert.equal(Object.keys(await actors(reader, 'other')).length, 2);
    assert.deepEqual(page.errors, []);
    assert.deepEqual(reader.errors, []);
  });
});
