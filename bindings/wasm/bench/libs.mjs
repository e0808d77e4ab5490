// The four libraries behind one interface, so that every benchmark replays the same edits
// through each of them the way an application would: one change (transaction, commit) per
// keystroke, the text in a root-level text object named "text".
//
// An adapter: `{ name, version, storage, start(text), apply(patches), finish(), text(), save(),
// load(saved) }`. `apply` makes one change applying `[pos, del, ins]` patches in order; `finish`
// does what makes the last change count (Polyarch: `flush`); `save` returns what the
// application would store, as `{ bytes, what }`; `load(saved)` opens a new replica from it and
// returns its text (what "open a stored document and read it" costs).

import { readFileSync } from 'node:fs';
import * as Automerge from '@automerge/automerge';
import * as Y from 'yjs';
import { LoroDoc } from 'loro-crdt';
import { Repo, SyncSession } from 'polyarch';

/** Every library, baseline first. */
export const LIBRARIES = ['automerge', 'yjs', 'loro', 'polyarch'];

/** The installed version of an npm package (read from its directory: not every package exports
 * its `package.json`). */
export function versionOf(pkg) {
  const manifest = new URL(`./node_modules/${pkg}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(manifest, 'utf8')).version;
}

const DOC = 'trace';
const TEXT = 'text';

/** A new adapter for `name`, holding one fresh, empty replica. */
export async function adapter(name) {
  switch (name) {
    case 'automerge':
      return automerge();
    case 'yjs':
      return yjs();
    case 'loro':
      return loro();
    case 'polyarch':
      return polyarch();
    default:
      throw new Error(`unknown library ${name}: expected one of ${LIBRARIES.join(', ')}`);
  }
}

/**
 * One change applying `[pos, del, ins]` patches to the text, per library; each returns the
 * document (automerge's is a new value).
 */
export const change = {
  automerge: (doc, patches) =>
    Automerge.change(doc, (d) => {
      for (const [pos, del, ins] of patches) Automerge.splice(d, [TEXT], pos, del, ins);
    }),
  yjs: (doc, patches) => {
    const text = doc.getText(TEXT);
    doc.transact(() => {
      for (const [pos, del, ins] of patches) {
        if (del) text.delete(pos, del);
        if (ins) text.insert(pos, ins);
      }
    });
    return doc;
  },
  loro: (doc, patches) => {
    const text = doc.getText(TEXT);
    for (const [pos, del, ins] of patches) {
      if (del) text.delete(pos, del);
      if (ins) text.insert(pos, ins);
    }
    doc.commit();
    return doc;
  },
  polyarch: (repo, patches) => {
    repo.change(DOC, (tx) => {
      for (const [pos, del, ins] of patches) tx.splice(TEXT, pos, del, ins);
    });
    return repo;
  },
};

/** What the adapters share: `start`, `apply` and `finish` over `change[name]`. */
function over(name, doc, rest) {
  const apply = (patches) => {
    doc = change[name](doc, patches);
  };
  return {
    name,
    start: (text) => apply([[0, 0, text]]),
    apply,
    finish: () => {},
    current: () => doc,
    ...rest,
  };
}

function automerge() {
  const lib = over('automerge', Automerge.from({ [TEXT]: '' }), {
    version: versionOf('@automerge/automerge'),
    storage: 'Automerge.save (compressed columnar document)',
    text: () => lib.current()[TEXT],
    save: async () => ({ bytes: Automerge.save(lib.current()), what: 'Automerge.save(doc)' }),
    load: async ({ bytes }) => Automerge.load(bytes)[TEXT],
  });
  return lib;
}

function yjs() {
  const doc = new Y.Doc();
  return over('yjs', doc, {
    version: versionOf('yjs'),
    storage: 'Y.encodeStateAsUpdate (update v1)',
    text: () => doc.getText(TEXT).toString(),
    save: async () => ({ bytes: Y.encodeStateAsUpdate(doc), what: 'Y.encodeStateAsUpdate(doc)' }),
    load: async ({ bytes }) => {
      const d = new Y.Doc();
      Y.applyUpdate(d, bytes);
      return d.getText(TEXT).toString();
    },
  });
}

function loro() {
  const doc = new LoroDoc();
  return over('loro', doc, {
    version: versionOf('loro-crdt'),
    storage: "LoroDoc.export({ mode: 'snapshot' })",
    text: () => doc.getText(TEXT).toString(),
    save: async () => ({ bytes: doc.export({ mode: 'snapshot' }), what: "doc.export({ mode: 'snapshot' })" }),
    load: async ({ bytes }) => LoroDoc.fromSnapshot(bytes).getText(TEXT).toString(),
  });
}

/**
 * Polyarch through the npm package's Node entry point. In Node, `Repo.open` keeps the replica
 * in in-memory SQLite (OPFS is for browsers); the package's persistence path there is the
 * replica image: `repo.exportImage()` gives the bytes an app writes to disk, and
 * `Repo.open({ image })` opens them. A package without `exportImage` has no saved form in
 * Node: the "saved size" is then what a new device receives from this one through
 * `SyncSession`, and "open" is a new in-memory replica catching up from this one (both sides'
 * work timed) and reading the text.
 */
async function polyarch() {
  // Group commit, as the Rust B1 benchmark does (batches of up to 1,024 changes or 10 ms;
  // `finish` flushes the last one). Default durability commits each change on its own.
  const repo = await Repo.open({ name: 'bench', durability: 'group' });
  const hasImage = typeof repo.exportImage === 'function';
  const catchUp = async () => {
    const fresh = await Repo.open({ name: 'reopened' });
    const wire = runUntilQuiet(new SyncSession(repo), new SyncSession(fresh));
    return { fresh, wire };
  };
  return over('polyarch', repo, {
    version: versionOf('polyarch'),
    storage: hasImage
      ? 'replica image: repo.exportImage(), opened with Repo.open({ image }) (in-memory SQLite)'
      : 'no persistence in Node (in-memory SQLite only): size = bytes a new replica receives through SyncSession; open = a new in-memory replica syncing from this one, then reading the text',
    finish: () => repo.flush(),
    text: () => repo.text(DOC, TEXT).toString(),
    save: async () => {
      repo.flush();
      if (hasImage) return { bytes: repo.exportImage(), what: 'repo.exportImage()' };
      const { fresh, wire } = await catchUp();
      fresh.close();
      return { size: wire.bytesAToB, what: 'SyncSession bytes to a new replica', wire };
    },
    load: async (saved) => {
      if (hasImage) {
        const opened = await Repo.open({ name: 'reopened', image: saved.bytes });
        return opened.text(DOC, TEXT).toString();
      }
      const { fresh } = await catchUp();
      return fresh.text(DOC, TEXT).toString();
    },
  });
}

/**
 * Runs two Polyarch sessions against each other until both are quiet, like `syncLocally`,
 * counting what crosses the wire: `{ bytes, bytesAToB, messages, roundTrips }`. Round trips are
 * the legs (flights that may go both ways at once) halved, rounded up, as
 * `polyarch::sync::run_until_quiet` and the Rust benches count them.
 */
export function runUntilQuiet(a, b) {
  const out = { bytes: 0, bytesAToB: 0, messages: 0, roundTrips: 0 };
  let legs = 0;
  let toB = a.start();
  let toA = b.start();
  while (toA.length || toB.length) {
    legs += 1;
    if (legs > 10_000) throw new Error('polyarch sync did not settle');
    for (const f of toB) out.bytesAToB += f.length;
    for (const f of [...toA, ...toB]) out.bytes += f.length;
    out.messages += toA.length + toB.length;
    const nextToA = toB.flatMap((f) => b.receive(f));
    const nextToB = toA.flatMap((f) => a.receive(f));
    toA = nextToA;
    toB = nextToB;
  }
  out.roundTrips = Math.ceil(legs / 2);
  return out;
}
