// A page's writes, once `stored(receipt)` resolves, survive a reload and a browser restart; a
// long history is compacted in the database when the page closes its repo; the OPFS pool keeps
// two files (the database and its journal), and a pool made with more gives the spare ones back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { launch, openRepo, openTab, serve, tempDir, unpackPackage, until } from './support.mjs';

let pkg;
let server;
before(async () => {
  pkg = unpackPackage();
  server = await serve(pkg.dir);
});
after(async () => {
  await server?.close();
  pkg?.cleanup();
});

test('stored writes survive a reload and a browser restart', async () => {
  const profile = tempDir('polyarch-profile-');
  let context;
  try {
    context = await launch(profile);
    let page = await openTab(context, server.url);
    assert.equal(await openRepo(page, 'notes'), 'owner');
    await page.evaluate(async () => {
      const r1 = window.repo.text('note-1', 'body').splice(0, 0, 'Hello from the page');
      const r2 = window.repo.counter('note-1', 'views').increment(2);
      await Promise.all([window.repo.stored(r1), window.repo.stored(r2)]);
    });

    await page.reload();
    await page.waitForFunction(() => window.loaded === true);
    await openRepo(page, 'notes');
    assert.deepEqual(await page.evaluate(() => window.repo.toJSON('note-1')), {
      body: 'Hello from the page',
      views: 2,
    });
    await page.evaluate(async () => {
      const r = window.repo.text('note-1', 'body').splice(5, 0, ',');
      await window.repo.stored(r);
      await window.repo.stored(window.repo.counter('note-1', 'views').increment(1));
    });
    await context.close();

    context = await launch(profile);
    page = await openTab(context, server.url);
    assert.equal(await openRepo(page, 'notes'), 'owner');
    assert.deepEqual(await page.evaluate(() => window.repo.toJSON('note-1')), {
      body: 'Hello, from the page',
      views: 3,
    });
    assert.deepEqual(page.errors, []);
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test('closing the repo leaves a long history compacted in the database, and it reopens', async () => {
  const KEYSTROKES = 1_500; // past the 1,000 logged changes that make a history long
  const profile = tempDir('polyarch-profile-');
  let context;
  try {
    context = await launch(profile);
    const page = await openTab(context, server.url);
    assert.equal(await openRepo(page, 'typed'), 'owner');
    const text = await page.evaluate(async (n) => {
      const body = window.repo.text('note', 'body');
      let last = null;
      for (let i = 0; i < n; i++) last = body.splice(i, 0, String.fromCharCode(97 + (i % 26)));
      await window.repo.stored(last);
      const text = body.toString();
      window.repo.close(); // the owner Worker compacts and closes the database, then ends
      return text;
    }, KEYSTROKES);

    // The files of the OPFS pool once the Worker has ended (it holds the database's lock while
    // it lives): the database is the biggest one.
    const sizes = await page.evaluate(async () => {
      const held = async () => (await navigator.locks.query()).held.some((l) => l.name === 'polyarch:typed');
      for (let waited = 0; (await held()) && waited < 10_000; waited += 50) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const sizesIn = async (dir) => {
        const out = [];
        for await (const handle of dir.values()) {
          if (handle.kind === 'file') out.push((await handle.getFile()).size);
          else out.push(...(await sizesIn(handle)));
        }
        return out;
      };
      const root = await navigator.storage.getDirectory();
      return sizesIn(await root.getDirectoryHandle('.polyarch-typed'));
    });
    const bytes = Math.max(...sizes);
    // Uncompacted, the file took 546,384 bytes when this was written (1,500 log rows); compacted,
    // 102,400: the snapshot and SQLite's fixed pages (8 KiB each in the browser).
    assert.ok(bytes < 200_000, `the database file is ${bytes} bytes (the pool's files: ${sizes})`);

    assert.equal(await openRepo(page, 'typed'), 'owner');
    assert.equal(await page.evaluate(() => window.repo.text('note', 'body').toString()), text);
    assert.deepEqual(page.errors, []);
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test('the OPFS pool keeps the database and its journal, and gives spare files back', async () => {
  const profile = tempDir('polyarch-profile-');
  let context;
  try {
    context = await launch(profile);
    let page = await openTab(context, server.url);
    // The files of the pool `pool`, after adding `spares` empty ones (as in a pool that older
    // versions made with spare files next to where the database goes).
    const poolFiles = (spares = 0) =>
      page.evaluate(async (spares) => {
        const root = await navigator.storage.getDirectory();
        const pool = await root.getDirectoryHandle('.polyarch-pool', { create: true });
        const files = await pool.getDirectoryHandle('.opaque', { create: true });
        for (let i = 0; i < spares; i++) await files.getFileHandle(`spare${i}`, { create: true });
        let n = 0;
        for await (const handle of files.values()) if (handle.kind === 'file') n++;
        return n;
      }, spares);
    assert.equal(await poolFiles(4), 4);
    assert.equal(await openRepo(page, 'pool'), 'owner');
    await page.evaluate(async () => {
      await window.repo.stored(window.repo.text('note', 'body').splice(0, 0, 'kept'));
    });
    assert.equal(await poolFiles(), 2);
    await context.close();

    context = await launch(profile);
    page = await openTab(context, server.url);
    assert.equal(await openRepo(page, 'pool'), 'owner');
    assert.equal(await page.evaluate(() => window.repo.text('note', 'body').toString()), 'kept');
    await page.evaluate(async () => {
      await window.repo.stored(window.repo.text('note', 'body').splice(4, 0, ' again'));
    });
    assert.equal(await poolFiles(), 2);
    assert.deepEqual(page.errors, []);
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test('openBrowserRepo rejects a bad name with a PolyarchError', async () => {
  const profile = tempDir('polyarch-profile-');
  const context = await launch(profile);
  try {
    const page = await openTab(context, server.url);
    const err = await page.evaluate(() =>
      window.polyarch.openBrowserRepo({ name: '../x' }).then(
        () => null,
        (e) => ({ name: e.name, code: e.code, isError: e instanceof Error }),
      ),
    );
    assert.deepEqual(err, { name: 'PolyarchError', code: 'INVALID_ARGUMENT', isError: true });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
