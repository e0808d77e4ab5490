// Under group commit, consecutive changes that only splice one text are gathered into one
// change: each is checked when made and gets its receipt at once, reads and syncs see every
// keystroke, and the text ends as the changes one by one would have left it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Repo, SyncSession, syncLocally, isPolyarchError } from 'polyarch';

const LONG = { maxChanges: 100_000, maxDelayMs: 60_000 };
const type = (repo, text, from = 0, doc = 'notes', path = 'body') =>
  [...text].map((c, i) => repo.change(doc, (tx) => tx.splice(path, from + i, 0, c)));
const seqOf = (repo, doc = 'notes') => Object.values(repo.actors(doc))[0];

test('typing is gathered into one change; reads see every keystroke', async () => {
  const repo = await Repo.open({ name: 'typing', durability: LONG });
  const receipts = type(repo, 'hello world');
  // The first change is made as usual; the next ten are gathered.
  assert.equal(typeof receipts[0].hash, 'string');
  assert.ok(receipts.slice(1).every((r) => r.hash === null && r.seq === receipts[0].seq + 1));
  assert.equal(repo.text('notes', 'body').toString(), 'hello world');
  // The read made the gathered change: its receipts now carry its hash.
  const hash = receipts[1].hash;
  assert.equal(typeof hash, 'string');
  assert.ok(receipts.slice(1).every((r) => r.hash === hash && r.seq === receipts[0].seq + 1));
  assert.equal(repo.receiptStatus(receipts[5]).onDisk, false);
  const flushed = repo.flush();
  assert.deepEqual(flushed.map((r) => r.hash), [receipts[0].hash, hash]);
  assert.equal(repo.receiptStatus(receipts[5]).onDisk, true);
  assert.equal(seqOf(repo), 2, 'two changes in all');
  const copy = await Repo.open({ image: repo.exportImage() });
  assert.equal(copy.text('notes', 'body').toString(), 'hello world');
});

test('a gathered change is checked when made: a bad one throws and loses nothing', async () => {
  const repo = await Repo.open({ name: 'checked', durability: LONG });
  type(repo, 'abc');
  assert.throws(
    () => repo.change('notes', (tx) => tx.splice('body', 10, 0, 'x')),
    (e) => isPolyarchError(e) && e.code === 'MODEL_INDEX_OUT_OF_RANGE',
  );
  assert.throws(
    () => repo.change('notes', (tx) => tx.splice('body', 1, 5, '')),
    (e) => isPolyarchError(e) && e.code === 'MODEL_INDEX_OUT_OF_RANGE',
  );
  // A callback that throws after a splice changes nothing either.
  assert.throws(() =>
    repo.change('notes', (tx) => {
      tx.splice('body', 0, 0, 'lost');
      throw new Error('changed my mind');
    }),
  );
  type(repo, 'de', 3);
  assert.equal(repo.text('notes', 'body').toString(), 'abcde');
  // A transaction of several splices is one: all of it lands, in order.
  repo.change('notes', (tx) => {
    tx.splice('body', 5, 0, 'f');
    tx.splice('body', 0, 1, 'A');
  });
  repo.change('notes', (tx) => tx.splice('body', 6, 0, 'g'));
  assert.equal(repo.text('notes', 'body').toString(), 'Abcdefg');
  // A splice that changes nothing makes no change.
  type(repo, 'h', 7);
  assert.equal(repo.change('notes', (tx) => tx.splice('body', 2, 0, '')), null);
  assert.equal(repo.text('notes', 'body').toString(), 'Abcdefgh');
});

test('the group timer commits gathered keystrokes, and maxChanges bounds a gathering', async () => {
  const timed = await Repo.open({ name: 'timed', durability: { maxChanges: 1_000, maxDelayMs: 20 } });
  const receipts = type(timed, 'tick');
  await sleep(100); // no call in between: only the timer can commit them
  assert.equal(timed.status().unflushed, 0);
  assert.ok(receipts.every((r) => timed.receiptStatus(r).onDisk));

  const bounded = await Repo.open({ name: 'bounded', durability: { maxChanges: 10, maxDelayMs: 60_000 } });
  type(bounded, 'x'.repeat(35));
  // Gatherings of at most 10 keystrokes: 1 + 10 committed, 1 + 10 committed, 1 + 10 committed,
  // then 1 + 1 still waiting.
  assert.equal(bounded.status().log_head, 6);
  assert.equal(bounded.status().unflushed, 2);
  assert.equal(bounded.text('notes', 'body').toString(), 'x'.repeat(35));
});

test('watched documents, wide characters and other writes are not gathered', async () => {
  const repo = await Repo.open({ name: 'not-gathered', durability: LONG });
  const seen = [];
  const unsubscribe = repo.subscribe('watched', (e) => seen.push(e));
  const watched = type(repo, 'abc', 0, 'watched');
  assert.ok(watched.every((r) => typeof r.hash === 'string'));
  assert.equal(new Set(watched.map((r) => r.hash)).size, 3);
  assert.equal(seen.length, 3, 'every keystroke was told');
  unsubscribe();

  const emoji = [repo.change('wide', (tx) => tx.splice('body', 0, 0, '😀'))];
  emoji.push(...type(repo, 'ab', 2, 'wide'));
  assert.ok(emoji.every((r) => typeof r.hash === 'string'), 'a text with a surrogate pair');

  // Alternating texts: each change ends the other's gathering.
  for (let i = 0; i < 5; i++) {
    type(repo, 'a', i, 'notes', 'left');
    type(repo, 'b', i, 'notes', 'right');
  }
  repo.change('notes', (tx) => tx.setRegister('title', 'two texts'));
  assert.deepEqual(repo.toJSON('notes'), { left: 'aaaaa', right: 'bbbbb', title: 'two texts' });
  assert.equal(repo.text('wide', 'body').toString(), '😀ab');
});

test('closing right after typing: the timers set before stay quiet', async () => {
  const reported = [];
  const repo = await Repo.open({ name: 'closing', durability: { maxChanges: 1_000, maxDelayMs: 5 }, onError: (e) => reported.push(e) });
  type(repo, 'bye');
  const image = repo.exportImage();
  type(repo, '!', 3);
  repo.close();
  await sleep(50); // past both timers
  assert.deepEqual(reported, []);
  assert.equal((await Repo.open({ image })).text('notes', 'body').toString(), 'bye');
});

test('gathered keystrokes reach another replica', async () => {
  const a = await Repo.open({ name: 'a', durability: LONG });
  const b = await Repo.open({ name: 'b' });
  type(a, 'offline typing');
  syncLocally(new SyncSession(a), new SyncSession(b));
  assert.equal(b.text('notes', 'body').toString(), 'offline typing');
  type(a, '!?', 14);
  syncLocally(new SyncSession(a), new SyncSession(b));
  assert.equal(b.text('notes', 'body').toString(), 'offline typing!?');
});

test('random editing: gathered, the text ends as one change per keystroke leaves it', async () => {
  let seed = 42;
  const random = (n) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  const gathered = await Repo.open({ name: 'gathered', durability: { maxChanges: 50, maxDelayMs: 60_000 } });
  const oneByOne = await Repo.open({ name: 'one-by-one' });
  let model = '';
  let cursor = 0;
  let refused = 0;
  for (let step = 0; step < 3_000; step++) {
    const roll = random(100);
    cursor = Math.min(cursor, model.length);
    let splice;
    if (roll < 55) splice = [cursor, 0, 'abcdé '[random(6)]];
    else if (roll < 75) splice = [Math.max(cursor - 1, 0), cursor > 0 ? 1 : 0, ''];
    else if (roll < 82) splice = [cursor, 1, ''];
    else if (roll < 90) splice = [(cursor = random(model.length + 1)), 0, 'xy'];
    else if (roll < 94) splice = [cursor, random(3), 'paste'];
    else if (roll < 97) splice = [model.length + 1 + random(3), 0, 'z'];
    else splice = [random(model.length + 1), 0, ''];
    const [pos, del, ins] = splice;
    const ok = pos + del <= model.length;
    for (const repo of [gathered, oneByOne]) {
      const edit = () => repo.change('doc', (tx) => tx.splice('text', pos, del, ins));
      if (ok) edit();
      else assert.throws(edit, (e) => e.code === 'MODEL_INDEX_OUT_OF_RANGE', `step ${step}`);
    }
    if (ok) {
      model = model.slice(0, pos) + ins + model.slice(pos + del);
      cursor = pos + ins.length;
    } else refused += 1;
    if (random(50) === 0) assert.equal(gathered.text('doc', 'text').toString(), model, `step ${step}`);
  }
  assert.ok(refused > 30);
  assert.equal(gathered.text('doc', 'text').toString(), model);
  assert.equal(oneByOne.text('doc', 'text').toString(), model);
  assert.ok(seqOf(gathered, 'doc') * 5 < seqOf(oneByOne, 'doc'), 'far fewer changes');
  gathered.flush();
  const reopened = await Repo.open({ image: gathered.exportImage() });
  assert.equal(reopened.text('doc', 'text').toString(), model);
});
