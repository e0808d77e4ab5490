// Long histories fold into snapshots: `maintain` and `compact` do it on request, `exportImage`
// before copying, so that an image is about as small as the document itself and opens without
// replaying every keystroke; a peer that fell behind the snapshot still gets every change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Repo, SyncSession, isPolyarchError, syncLocally } from 'polyarch';

/** Keystrokes typed below: past the 1,000 logged changes that make a history long. */
const KEYSTROKES = 3_000;
/** SQLite's page size in a Polyarch store. */
const PAGE = 4096;

/** Types `n` characters at the end of `notes`'s `body`, one change per keystroke. */
function type(repo, n) {
  const body = repo.text('notes', 'body');
  let at = repo.has('notes') ? body.length : 0;
  for (let i = 0; i < n; i++) body.splice(at++, 0, String.fromCharCode(97 + (i % 26)));
}

const sync = (a, b) => syncLocally(new SyncSession(a), new SyncSession(b));

test('an image of a long history is about as small as one of the same text typed in one change', async () => {
  const long = await Repo.open({ name: 'long' });
  type(long, KEYSTROKES);
  const text = long.text('notes', 'body').toString();
  // The same document with a short history: one change, nothing to compact.
  const short = await Repo.open({ name: 'short' });
  short.text('notes', 'body').splice(0, 0, text);

  const image = long.exportImage();
  const reference = short.exportImage();
  // Uncompacted, each keystroke's log row alone took over 100 bytes: more than 300 KB here.
  assert.ok(
    image.length <= reference.length + 4 * PAGE,
    `image ${image.length} bytes, the one-change document's ${reference.length}`,
  );
  assert.equal(long.maintain(), 0, 'the export compacted already');

  const copy = await Repo.open({ image });
  assert.equal(copy.text('notes', 'body').toString(), text);
  for (const r of [long, short, copy]) r.close();
});

test('maintain compacts long histories, says how many, and loses nothing a peer needs', async () => {
  const origin = await Repo.open({ name: 'origin' });
  const peer = await Repo.open({ name: 'peer' });
  type(origin, 10);
  sync(origin, peer);
  // The peer falls behind by a long history and writes on its own meanwhile.
  type(origin, KEYSTROKES);
  origin.change('cal', (tx) => tx.setRegister('title', 'Standup'));
  peer.counter('notes', 'edits').increment(1);

  assert.equal(origin.maintain(), 1, 'only the long history');
  assert.equal(origin.maintain(), 0, 'nothing left');
  assert.equal(origin.maintain({ all: true }), 0, 'nothing left, loaded or not');
  origin.compact('cal'); // a short history on request
  origin.register('notes', 'title').set('Draft'); // after the compaction

  sync(origin, peer);
  assert.deepEqual(peer.toJSON('notes'), origin.toJSON('notes'));
  assert.deepEqual(peer.toJSON('cal'), { title: 'Standup' });
  const notes = peer.toJSON('notes');
  assert.equal(notes.body.length, 10 + KEYSTROKES);
  assert.equal(notes.edits, 1);
  assert.equal(notes.title, 'Draft');
  origin.close();
  peer.close();
});

test('compacting a document that is not here throws NO_SUCH_DOC', async () => {
  const repo = await Repo.open({ name: 'empty' });
  assert.throws(
    () => repo.compact('missing'),
    (e) => isPolyarchError(e) && e.code === 'NO_SUCH_DOC',
  );
  repo.close();
  assert.throws(
    () => repo.maintain(),
    (e) => isPolyarchError(e) && e.code === 'CLOSED',
  );
});
