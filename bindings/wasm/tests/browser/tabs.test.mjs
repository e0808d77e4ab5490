// Several tabs of one app: one tab's Worker owns the database, the others sync through it,
// and when the owner tab closes another takes over without losing anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openRepo, openTab, servePackage, until, withBrowser } from './support.mjs';

const server = servePackage();

const json = (page, doc) => page.evaluate((doc) => window.repo.toJSON(doc), doc);

test('two tabs edit the same document and converge', async () => {
  await withBrowser(async (context) => {
    const a = await openTab(context, server.url);
    assert.equal(await openRepo(a, 'shared'), 'owner');
    const b = await openTab(context, server.url);
    assert.equal(await openRepo(b, 'shared'), 'follower');

    // One tab's edit appears in the other.
    await a.evaluate(() => window.repo.text('doc', 'body').splice(0, 0, 'Hello'));
    await until(b, () => window.repo.text('doc', 'body').toString() === 'Hello', null, 'B to see A\'s edit');
    await b.evaluate(() => window.repo.text('doc', 'body').splice(5, 0, ' world'));
    await until(a, () => window.repo.text('doc', 'body').toString() === 'Hello world', null, 'A to see B\'s edit');

    // Concurrent edits in both tabs, with no waiting in between: both are kept.
    await Promise.all([
      a.evaluate(() => {
        for (let i = 0; i < 20; i++) window.repo.counter('doc', 'clicks').increment(1);
        window.repo.text('doc', 'body').splice(0, 0, '[A]');
        window.repo.register('doc', 'title').set('from A');
      }),
      b.evaluate(() => {
        for (let i = 0; i < 30; i++) window.repo.counter('doc', 'clicks').increment(1);
        const t = window.repo.text('doc', 'body');
        t.splice(t.length, 0, '[B]');
        window.repo.register('doc', 'title').set('from B');
      }),
    ]);
    for (const page of [a, b]) {
      await until(page, () => window.repo.counter('doc', 'clicks').value === 50, null, 'the counter to converge');
    }
    const [ja, jb] = [await json(a, 'doc'), await json(b, 'doc')];
    assert.deepEqual(ja, jb);
    assert.match(ja.body, /^\[A\]Hello world\[B\]$/);
    // The two titles conflict when neither tab had the other's before it wrote, which is
    // likely but not certain (on a loaded machine A's whole change can reach B first; the
    // e2e and relay tests make conflicts deterministically, with devices offline). Either
    // way, both tabs must hold the same values; a sequential pair keeps only the later write.
    const titles = async (page) => page.evaluate(() => {
      const r = window.repo.register('doc', 'title');
      return { value: r.value, conflicts: [...r.conflicts].sort() };
    });
    const [ta, tb] = [await titles(a), await titles(b)];
    assert.deepEqual(ta, tb);
    if (tb.conflicts.length === 1) {
      assert.ok(['from A', 'from B'].includes(tb.value), `title ${tb.value}`);
      assert.deepEqual(tb.conflicts, [tb.value]);
    } else {
      assert.deepEqual(tb.conflicts, ['from A', 'from B']);
    }
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  });
});

// It was skipped for a while as flaky ("A to see B's entry" timed out; once in nine runs here
// when the whole file ran): B sometimes pushed to the list before A's list had reached it,
// making a concurrent second list at the same key. B now waits for A's entry first.
test('closing the owner tab hands the database over without loss', () => handover('handover'));

/** Two tabs; the owner closes; the other takes over; a third tab reads everything back. */
async function handover(name) {
  await withBrowser(async (context) => {
    const a = await openTab(context, server.url);
    assert.equal(await openRepo(a, name), 'owner');
    const b = await openTab(context, server.url);
    assert.equal(await openRepo(b, name), 'follower');

    await a.evaluate(async () => {
      await window.repo.stored(window.repo.list('doc', 'log').push('a: stored before closing'));
    });
    // B appends to the list A made: pushing before A's list reached B would make a second
    // list at the same key, concurrently, and only one of the two would show (this was the
    // handover test's old flakiness: "A to see B's entry" timed out).
    await until(b, () => window.repo.list('doc', 'log').length === 1, null, 'B to see A\'s entry');
    await b.evaluate(async () => {
      await window.repo.stored(window.repo.list('doc', 'log').push('b: stored before the handover'));
    });
    await until(a, () => window.repo.list('doc', 'log').length === 2, null, 'A to see B\'s entry');

    await a.close({ runBeforeUnload: false });
    // Written while nobody owns the database: kept in B's memory, handed to the new owner.
    await b.evaluate(() => {
      window.during = window.repo.list('doc', 'log').push('b: written during the handover');
    });
    await until(b, () => window.repo.role === 'owner', null, 'B to take the database over', 30_000);
    await b.evaluate(async () => {
      await window.repo.stored(window.during);
      await window.repo.stored(window.repo.list('doc', 'log').push('b: written as the owner'));
    });

    // A new tab reads it all from the database through the new owner.
    const c = await openTab(context, server.url);
    assert.equal(await openRepo(c, name), 'follower');
    const log = (await json(c, 'doc')).log;
    assert.deepEqual([...log].sort(), [
      'a: stored before closing',
      'b: stored before the handover',
      'b: written as the owner',
      'b: written during the handover',
    ]);
    assert.deepEqual(b.errors, []);
    assert.deepEqual(c.errors, []);
  });
}
