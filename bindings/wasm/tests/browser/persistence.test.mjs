// A page's writes, once `stored(receipt)` resolves, survive a reload and a browser restart.
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
