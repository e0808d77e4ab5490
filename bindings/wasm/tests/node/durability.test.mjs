// Durability: every change commits at once by default; with `durability: "group"` changes made
// close together commit together (reads see them at once), a timer commits a batch whose
// oldest change has waited long enough, and `flush()` commits at once with the receipts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Repo, isPolyarchError } from 'polyarch';

// Each change also counts the keystroke: changes that only splice one text would be gathered
// into one change under group commit (gathering.test.mjs), and these tests count changes.
const type = (repo, from, n) => {
  const receipts = [];
  for (let i = 0; i < n; i++) {
    receipts.push(
      repo.change('notes', (tx) => {
        tx.splice('body', from + i, 0, 'x');
        tx.increment('keystrokes', 1);
      }),
    );
  }
  return receipts;
};

test('by default a receipt carries its offset when change returns', async () => {
  const repo = await Repo.open({ name: 'immediate' });
  const [receipt] = type(repo, 0, 1);
  assert.equal(typeof receipt.offset, 'number');
  assert.equal(repo.status().unflushed, 0);
  assert.equal(repo.receiptStatus(receipt).onDisk, true);
});

test('group commit: changes wait for their batch, reads see them, flush commits them', async () => {
  const repo = await Repo.open({ name: 'group', durability: { maxChanges: 100, maxDelayMs: 60_000 } });
  const receipts = type(repo, 0, 150);
  assert.equal(repo.text('notes', 'body').toString(), 'x'.repeat(150), 'reads see every change');
  // The first 100 filled a batch and committed; 50 wait.
  assert.equal(repo.status().unflushed, 50);
  assert.equal(receipts[149].offset, null);
  assert.equal(repo.receiptStatus(receipts[149]).onDisk, false);
  const flushed = repo.flush();
  assert.deepEqual(flushed.map((r) => r.hash), receipts.slice(100).map((r) => r.hash));
  assert.ok(flushed.every((r) => typeof r.offset === 'number'));
  assert.equal(repo.receiptStatus(flushed.at(-1)).onDisk, true);
  assert.equal(repo.status().unflushed, 0);
  // Everything is in what the replica would hand over.
  const copy = await Repo.open({ image: repo.exportImage() });
  assert.equal(copy.text('notes', 'body').toString(), 'x'.repeat(150));
});

test('group commit: a timer commits a waiting batch without another change or a flush', async () => {
  const repo = await Repo.open({ name: 'timer', durability: { maxChanges: 1_000, maxDelayMs: 20 } });
  const receipts = type(repo, 0, 5);
  assert.equal(repo.status().unflushed, 5);
  assert.equal(repo.receiptStatus(receipts[4]).onDisk, false);
  const deadline = Date.now() + 5_000;
  while (repo.status().unflushed > 0 && Date.now() < deadline) await sleep(10);
  assert.equal(repo.status().unflushed, 0, 'the timer committed the batch');
  assert.equal(repo.status().log_head, 5);
  // The receipts `change` returned (offset: null) show on disk now.
  assert.ok(receipts.every((r) => r.offset === null && repo.receiptStatus(r).onDisk));
  // Another change arms the timer again.
  type(repo, 5, 1);
  while (repo.status().unflushed > 0 && Date.now() < deadline) await sleep(10);
  assert.equal(repo.status().log_head, 6);
});

test('"group" takes the defaults, and malformed durability options are refused', async () => {
  const repo = await Repo.open({ name: 'defaults', durability: 'group' });
  type(repo, 0, 3);
  assert.equal(repo.status().unflushed, 3);
  assert.equal(repo.flush().length, 3);
  for (const durability of ['sometimes', 42, { maxChanges: 0 }, { maxDelayMs: -1 }, { maxChanges: 1.5 }]) {
    await assert.rejects(
      Repo.open({ name: 'bad', durability }),
      (e) => isPolyarchError(e) && e.code === 'INVALID_ARGUMENT' && /durability/.test(e.message),
      JSON.stringify(durability),
    );
  }
});
