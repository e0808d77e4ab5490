// Stored views (`openBrowserRepo({ onView })`): what a page read of a document is handed to the
// next page load before its replica has loaded, only while the database holds exactly that
// version; a view the database has moved past is never handed out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openRepo, openTab, servePackage, until, withBrowser } from './support.mjs';

const server = servePackage();

/**
 * Opens the repo `name` following `docs` with `onView`: returns the views it was handed
 * (`[doc, view]`, each noted with whether the repo had resolved yet).
 */
async function openWithViews(page, name, docs) {
  return page.evaluate(
    async ({ name, docs }) => {
      const seen = [];
      let opened = false;
      window.repo = await window.polyarch.openBrowserRepo({
        name,
        docs,
        onView: (doc, view) => seen.push({ doc, view, early: !opened }),
        onError: (e) => console.error(String(e)),
      });
      opened = true;
      return seen;
    },
    { name, docs },
  );
}

/** Reads `doc` as the app would, and waits until the view is kept (the owner vouched for it). */
async function readAndKeep(page, name, doc) {
  const read = await page.evaluate((doc) => window.repo.toJSONWithConflicts(doc), doc);
  await until(
    page,
    ({ key, doc, json }) => JSON.parse(localStorage.getItem(key)).views.some(([d, , j]) => d === doc && j === json),
    { key: `polyarch:${name}:views`, doc, json: JSON.stringify(read) },
    'the view to be kept',
  );
  return read;
}

test('a stored view is handed out before the repo opens while the database holds its version', async () => {
  await withBrowser(async (context) => {
    const a = await openTab(context, server.url);
    assert.deepEqual(await openWithViews(a, 'views', ['week', 'other']), []);
    await a.evaluate(async () => {
      await window.repo.stored(window.repo.change('week', (tx) => tx.setRegister(['events', 'e1', 'title'], 'Standup')));
      await window.repo.stored(window.repo.change('other', (tx) => tx.setRegister(['title'], 'Other')));
    });
    const read = await readAndKeep(a, 'views', 'week');
    assert.deepEqual(read.json, { events: { e1: { title: 'Standup' } } });

    // The next page load gets it early; a document whose view was never read gets none.
    await a.reload();
    await a.waitForFunction(() => window.loaded === true);
    const seen = await openWithViews(a, 'views', ['week', 'other']);
    assert.deepEqual(seen, [{ doc: 'week', view: read, early: true }]);
    // A page following other documents is handed no view of `week`.
    const b = await openTab(context, server.url);
    assert.deepEqual(await openWithViews(b, 'views', ['other']), []);

    // Another tab (keeping no views) changes the document: the stored view is now behind the
    // database, and is not handed out.
    const c = await openTab(context, server.url);
    assert.equal(await openRepo(c, 'views'), 'follower');
    await c.evaluate(() => window.repo.stored(window.repo.change('week', (tx) => tx.setRegister(['events', 'e1', 'room'], 'Ada'))));
    await c.close();
    await a.reload();
    await a.waitForFunction(() => window.loaded === true);
    assert.deepEqual(await openWithViews(a, 'views', ['week', 'other']), []);
    assert.deepEqual(await a.evaluate(() => window.repo.toJSON('week')), { events: { e1: { title: 'Standup', room: 'Ada' } } });

    // Read again, it is kept at the new version and handed out again.
    const again = await readAndKeep(a, 'views', 'week');
    await a.reload();
    await a.waitForFunction(() => window.loaded === true);
    assert.deepEqual(await openWithViews(a, 'views', ['week']), [{ doc: 'week', view: again, early: true }]);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  });
});

test('a read made with a change not yet stored is kept once the database holds it', async () => {
  await withBrowser(async (context) => {
    const a = await openTab(context, server.url);
    await openWithViews(a, 'unacked', ['doc']);
    // Written and read at once: the read's version includes a change the owner may not hold
    // yet, so it is kept only once the owner answers with that very version.
    const kept = await a.evaluate(async () => {
      const receipt = window.repo.change('doc', (tx) => tx.setRegister(['n'], 1));
      const read = window.repo.toJSONWithConflicts('doc');
      const key = 'polyarch:unacked:views';
      const early = localStorage.getItem(key);
      await window.repo.stored(receipt);
      return { early, read };
    });
    assert.equal(kept.early, null);
    await until(a, (key) => JSON.parse(localStorage.getItem(key)).views.length === 1, 'polyarch:unacked:views', 'the view to be kept once stored');
    await a.reload();
    await a.waitForFunction(() => window.loaded === true);
    assert.deepEqual(await openWithViews(a, 'unacked', ['doc']), [{ doc: 'doc', view: kept.read, early: true }]);
    assert.deepEqual(a.errors, []);
  });
});

test('a view is kept only at the version the owner names, and at most 8 documents are', async () => {
  await withBrowser(async (context) => {
    const a = await openTab(context, server.url);
    const out = await a.evaluate(async () => {
      const { StoredViews } = await import('/pkg/views.js');
      const key = 'polyarch:unit:views';
      const stored = () => {
        try {
          return JSON.parse(localStorage.getItem(key)).views.map(([doc, token]) => `${doc}@${token}`);
        } catch {
          return []; // not written yet
        }
      };
      localStorage.setItem(key, 'not JSON');
      const views = new StoredViews('unit');
      const results = { garbage: views.docs() };
      views.read('d', 'v2', { json: { n: 2 }, conflicts: [] });
      views.confirm({ d: 'v1' }); // the owner holds another version: not kept
      results.behind = stored();
      results.unconfirmed = views.unconfirmed();
      views.confirm({ d: 'v2' });
      results.kept = stored();
      results.view = views.get('d');
      for (let i = 0; i < 9; i++) views.read(`doc-${i}`, 't', { json: { i }, conflicts: [] });
      views.confirm(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`doc-${i}`, 't'])));
      results.bounded = new StoredViews('unit').docs();
      // A conflict holding bytes would not survive JSON: not kept.
      views.read('bytes', 't', { json: {}, conflicts: [{ path: ['x'], values: [new Uint8Array([1]), 'a'] }] });
      results.bytes = views.unconfirmed();
      return results;
    });
    assert.deepEqual(out.garbage, []);
    assert.deepEqual(out.behind, []);
    assert.deepEqual(out.unconfirmed, ['d']);
    assert.deepEqual(out.kept, ['d@v2']);
    assert.deepEqual(out.view, { token: 'v2', view: { json: { n: 2 }, conflicts: [] } });
    assert.deepEqual(out.bounded, Array.from({ length: 8 }, (_, i) => `doc-${i + 1}`));
    assert.deepEqual(out.bytes, []);
  });
});
