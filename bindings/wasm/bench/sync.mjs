// B4, sync after divergence, through each library's own sync protocol (see `trace.mjs`'s
// `divergence`): two replicas share the first half of the trace, diverge offline, then sync.
// Each function returns `{ bytes, messages, roundTrips, texts: [a, b] }`; bytes count every
// message both ways as it would go on the wire, and round trips are the legs (flights that may
// go both ways at once) halved, rounded up, as the Rust benches count them.

import * as Automerge from '@automerge/automerge';
import * as Y from 'yjs';
import { LoroDoc, VersionVector } from 'loro-crdt';
import { Repo, SyncSession } from 'polyarch';

import { change, runUntilQuiet } from './libs.mjs';

const DOC = 'trace';
const TEXT = 'text';

/** Runs the scenario `s` through `library`. */
export async function syncDivergence(library, s) {
  switch (library) {
    case 'automerge':
      return automerge(s);
    case 'yjs':
      return yjs(s);
    case 'loro':
      return loro(s);
    case 'polyarch':
      return polyarch(s);
    default:
      throw new Error(`unknown library ${library}`);
  }
}

/**
 * The two replicas of the scenario: A (`create()`) applies the start text and the shared half;
 * `fork(a)` returns `[a, b]`, B having received it (a first sync, not counted); then A applies its changes and B its inserts, one
 * change each, offline.
 */
function diverged(s, library, create, fork) {
  const apply = change[library];
  let a = apply(create(), [[0, 0, s.start]]);
  for (const c of s.shared) a = apply(a, c);
  let b;
  [a, b] = fork(a);
  for (const c of s.aChanges) a = apply(a, c);
  for (const p of s.bChanges) b = apply(b, [p]);
  return [a, b];
}

/**
 * Polyarch: B receives the shared half through a first sync (not counted); the sessions end (the
 * cursors stay in both stores); both edit offline; then new sessions sync.
 */
async function polyarch(s) {
  const repoA = await Repo.open({ name: 'a' });
  const repoB = await Repo.open({ name: 'b' });
  let peers = {};
  const [a, b] = diverged(s, 'polyarch', () => repoA, () => {
    const [sa, sb] = [new SyncSession(repoA), new SyncSession(repoB)];
    runUntilQuiet(sa, sb);
    // What an app keeps from a session to reconnect to the same peer later.
    peers = { a: sa.peer, b: sb.peer };
    return [repoA, repoB];
  });
  a.flush();
  b.flush();
  const out = runUntilQuiet(new SyncSession(a, { peer: peers.a }), new SyncSession(b, { peer: peers.b }));
  out.texts = [a.text(DOC, TEXT).toString(), b.text(DOC, TEXT).toString()];
  return out;
}

/**
 * automerge's sync protocol, in the four variants the Rust bench runs: sync states remembered
 * across the disconnect (`encodeSyncState`/`decodeSyncState`) or fresh, both sides sending at
 * once or strictly in turn. Returns the variant with the fewest bytes, the others in `variants`.
 */
function automerge(s) {
  let sa = Automerge.initSyncState();
  let sb = Automerge.initSyncState();
  const [a, b] = diverged(s, 'automerge', () => Automerge.from({ [TEXT]: '' }), (a) => {
    const r = automergePair(a, sa, Automerge.init(), sb, 'together');
    ({ sa, sb } = r);
    return [r.a, r.b];
  });
  const variants = {};
  for (const remember of [true, false]) {
    for (const turns of ['together', 'ping_pong']) {
      const label = `${remember ? 'remembered' : 'fresh'}_states_${turns}`;
      const keep = (state) => Automerge.decodeSyncState(Automerge.encodeSyncState(state));
      const [ka, kb] = remember ? [keep(sa), keep(sb)] : [Automerge.initSyncState(), Automerge.initSyncState()];
      // Each variant starts from the same two documents (clones: sync mutates in place).
      const r = automergePair(Automerge.clone(a), ka, Automerge.clone(b), kb, turns);
      variants[label] = { ...r.out, texts: [r.a[TEXT], r.b[TEXT]] };
    }
  }
  const [label, best] = Object.entries(variants).sort((x, y) => x[1].bytes - y[1].bytes)[0];
  const fewestTrips = Math.min(...Object.values(variants).map((v) => v.roundTrips));
  return { ...best, variant: label, fewestRoundTrips: fewestTrips, variants: strip(variants) };
}

/** automerge's `sync_pair` of `benches/support/baseline.rs`, in JS. */
function automergePair(a, sa, b, sb, turns) {
  const out = { bytes: 0, messages: 0, roundTrips: 0 };
  let legs = 0;
  let aTurn = true;
  for (;;) {
    let toB = null;
    let toA = null;
    const genA = () => ([sa, toB] = Automerge.generateSyncMessage(a, sa));
    const genB = () => ([sb, toA] = Automerge.generateSyncMessage(b, sb));
    if (turns === 'together') {
      genA();
      genB();
    } else if (aTurn) {
      if (!genA()[1]) genB();
    } else if (!genB()[1]) {
      genA();
    }
    if (!toB && !toA) break;
    legs += 1;
    if (legs > 10_000) throw new Error('automerge sync did not settle');
    aTurn = toA != null;
    if (toB) {
      out.bytes += toB.length;
      out.messages += 1;
      [b, sb] = Automerge.receiveSyncMessage(b, sb, toB);
    }
    if (toA) {
      out.bytes += toA.length;
      out.messages += 1;
      [a, sa] = Automerge.receiveSyncMessage(a, sa, toA);
    }
  }
  out.roundTrips = Math.ceil(legs / 2);
  return { a, b, sa, sb, out };
}

/**
 * yjs's state-vector exchange (y-protocols' sync steps 1 and 2). B got the shared half as one
 * update.
 */
function yjs(s) {
  const [a, b] = diverged(s, 'yjs', () => new Y.Doc(), (a) => {
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    return [a, b];
  });
  return versionExchange(a, b, {
    version: (d) => Y.encodeStateVector(d),
    since: (d, v) => Y.encodeStateAsUpdate(d, v),
    apply: (d, u) => Y.applyUpdate(d, u),
    text: (d) => d.getText(TEXT).toString(),
  });
}

/**
 * loro: version vectors, then `export({ mode: 'update', from })`. B got the shared half as one
 * update.
 */
function loro(s) {
  const [a, b] = diverged(s, 'loro', () => new LoroDoc(), (a) => {
    const b = new LoroDoc();
    b.import(a.export({ mode: 'update' }));
    return [a, b];
  });
  return versionExchange(a, b, {
    version: (d) => d.oplogVersion().encode(),
    since: (d, v) => d.export({ mode: 'update', from: VersionVector.decode(v) }),
    apply: (d, u) => d.import(u),
    text: (d) => d.getText(TEXT).toString(),
  });
}

/**
 * The exchange yjs and loro make: both send their version at once, then both send what the
 * other lacks: four messages, one round trip.
 */
function versionExchange(a, b, lib) {
  const [vA, vB] = [lib.version(a), lib.version(b)];
  const [toB, toA] = [lib.since(a, vB), lib.since(b, vA)];
  lib.apply(b, toB);
  lib.apply(a, toA);
  return {
    bytes: vA.length + vB.length + toB.length + toA.length,
    messages: 4,
    roundTrips: 1,
    texts: [lib.text(a), lib.text(b)],
  };
}

/** The variants without their texts, for the JSON. */
function strip(variants) {
  return Object.fromEntries(
    Object.entries(variants).map(([k, { bytes, messages, roundTrips }]) => [k, { bytes, messages, roundTrips }]),
  );
}
