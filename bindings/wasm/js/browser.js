// `openBrowserRepo`: a page's replica, persisted by a dedicated Worker with SQLite on OPFS.
//
// Topology (one origin, one repo name):
// - every tab keeps an in-memory `Repo` (synchronous reads and writes) and starts a dedicated
//   Worker (`worker.js`);
// - the Workers queue on one Web Lock (`polyarch:<name>`); the one holding it owns the SQLite
//   database on OPFS (sahpool allows one connection at a time) and announces itself on the
//   BroadcastChannel `polyarch:<name>`;
// - every tab, the owner's own included, runs one `SyncSession` with the owner over that
//   channel (frames addressed by tab and connection id); the owner's sessions relay every
//   tab's changes to the others through its log;
// - the owner compacts long histories into snapshots when writes pause, and before it ends
//   when its page closes the repo (see worker.js);
// - when the owner tab closes, its Worker ends and releases the lock; the next queued Worker
//   opens the database and announces itself, and every tab reconnects to it. Its sessions
//   resume from the cursors stored in the database, so changes not yet acknowledged are sent
//   again: nothing acknowledged is lost, and nothing unacknowledged is either, as long as the
//   tab that made it lives.
//
// A write's receipt resolves through `stored(receipt)` once the owner acknowledged it, which it
// does only after committing it to SQLite (the sync protocol acknowledges durably applied
// changes), and through `relayStored(receipt)` once the relay acknowledged it: the page asks
// the owner, which notes its log head once it holds the change and answers when the relay's
// acknowledged offset reaches that head (a tab repeats its open questions to each new owner).
//
// The relay connection is the device's, not the tab's: `connect` and `disconnect` are told to
// every tab of the name (`relay-config`), so whichever tab owns the database next keeps to it.
//
// Identity: a page leases the lowest free tab slot (`slots.js`, a Web Lock per slot) and opens
// its in-memory replica with the slot's device id and actor, so the database meets as many
// page devices, and documents hold as many page actors, as tabs were open at once. The slot's
// actor wrote in earlier pages, so the replica writes a document as it only once it holds all
// of that actor's changes to it: when a session with the owner reaches "in-sync", the page
// claims the actor (`claimActor`) for the documents that session followed (every document,
// or `docs`). That session began after the slot was taken, and the owner commits every change
// before relaying it, so whatever the slot's earlier pages made that still exists anywhere was
// in the database and is now in the page. Until then, and in documents the page does not
// follow, it writes as its own new actor. See the package README ("Actor ids").
//
// Stored views (`onView`, see views.js): the page keeps what it last read of a document with
// `toJSONWithConflicts`, once the owner holds exactly that version; the next page load asks the
// owner for the versions of the documents it follows before it starts its session, and hands
// each view whose version is still the database's to `onView`, so that the app can show it
// while its replica loads.
import { Repo, SyncSession, wasmModule } from './common.js';
import { leaseSlot } from './slots.js';
import { StoredViews } from './views.js';

/** How long `openBrowserRepo` waits for the first sync with the database owner. */
const DEFAULT_TIMEOUT_MS = 20_000;

/** How long a closed repo's Worker may take to compact and close the database before it is stopped. */
const CLOSE_GRACE_MS = 2_000;

/** The methods of the in-memory `Repo` a `BrowserRepo` exposes as its own. */
const DELEGATED = [
  'docIds', 'create', 'has', 'change', 'toJSON', 'conflicts', 'register', 'counter', 'set',
  'text', 'map', 'list', 'subscribe', 'receiptStatus', 'version', 'hasCaughtUp', 'status',
];

function polyarchError(code, message) {
  const e = new Error(message);
  e.name = 'PolyarchError';
  e.code = code;
  return e;
}

/**
 * Opens the browser replica `name`: resolves once the page's in-memory view holds everything
 * the device's database holds (the first sync with the database's owner). With `onView`, it is
 * called before that with `(doc, view)` for each followed document whose stored view (see the
 * top of this file) is exactly what the database holds.
 */
export async function openBrowserRepo(options = {}) {
  const name = options.name ?? 'polyarch';
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
    throw polyarchError('INVALID_ARGUMENT', 'expected `name` to be 1-64 letters, digits, ".", "_" or "-"');
  }
  if (typeof Worker === 'undefined' || typeof BroadcastChannel === 'undefined' || !globalThis.navigator?.locks) {
    throw polyarchError(
      'STORAGE_UNAVAILABLE',
      'openBrowserRepo needs Workers, BroadcastChannel and Web Locks (a browser page in a secure context)',
    );
  }
  // Startup time: the page fetches and compiles the wasm once, from the start, while the
  // Worker starts and this page leases its slot; the Worker is handed the compiled module (it
  // then only instantiates it and opens the database) instead of compiling its own copy.
  const module = wasmModule();
  const tab = crypto.randomUUID();
  const worker = startWorker(name, tab, module);
  let slot = null;
  let local;
  try {
    slot = await leaseSlot(name);
    const identity = slot ? { device: slot.identity.device, actor: slot.identity.actor } : {};
    // Opening the in-memory replica keeps this thread busy for tens of milliseconds, and
    // messages posted to a Worker that has not evaluated its script yet wait in this thread
    // until it is free again: open it once the Worker has its 'open' (the Worker's path to the
    // database is the longer one).
    await worker.started;
    local = await Repo.open({ name, storage: 'memory', label: options.label ?? 'tab', onError: options.onError, ...identity });
  } catch (e) {
    slot?.release();
    worker.terminate();
    throw e;
  }
  const repo = new BrowserRepo(name, local, options, slot, { tab, worker });
  try {
    await repo.whenSynced(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  } catch (e) {
    repo.close();
    throw e;
  }
  return repo;
}

/**
 * Starts this tab's dedicated Worker for the replica `name` and asks it to open the database:
 * it queues for the database's lock at once, and instantiates `module` (the page's compiled
 * wasm) once the page sends it; if the page has no module to share, the Worker compiles its
 * own. Until `attach(onMessage, onError)` is called, what the Worker posts is kept, then
 * handed over in order (a message posted to a Worker with no listener yet would be lost).
 */
function startWorker(name, tab, module) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: `polyarch:${name}` });
  let early = [];
  let onStarted;
  const started = new Promise((resolve) => (onStarted = resolve));
  worker.onmessage = (e) => {
    if (e.data?.kind === 'started') onStarted();
    else early.push({ message: e.data });
  };
  worker.onerror = (e) => {
    onStarted();
    early.push({ error: e });
  };
  worker.postMessage({ kind: 'open', name, tab, module: 'follows' });
  module.then(
    (m) => worker.postMessage({ kind: 'module', module: m }),
    () => worker.postMessage({ kind: 'module', module: null }),
  );
  return {
    /** Resolves once the Worker got 'open' (or failed). */
    started,
    terminate: () => worker.terminate(),
    attach(onMessage, onError) {
      worker.onmessage = (e) => onMessage(e.data);
      worker.onerror = onError;
      const kept = early;
      early = [];
      for (const k of kept) 'error' in k ? onError(k.error) : onMessage(k.message);
      return worker;
    },
  };
}

/** A page's replica: synchronous reads and writes in memory, persisted by the owner Worker. */
export class BrowserRepo {
  #name;
  #local;
  #onError;
  #tab;
  #channel;
  #worker;
  #owner = null;
  #conn = null;
  #connections = 0;
  #session = null;
  #durable = null;
  #polling = false;
  #waiting = []; // { receipt, resolve }
  #syncWaiters = []; // { resolve, reject }
  #statusListeners = new Set();
  #role = 'starting';
  #closed = false;
  #failure = null;
  #onPageHide;
  #relay = null; // { url, token, minDelayMs, maxDelayMs }
  #releaseTab = () => {};
  #relayStatus = 'none';
  #relayUnacked = null;
  #relayLastContactMs = null;
  #relayWaits = new Map(); // id -> { doc, token, resolve, reject }
  #relayWaitIds = 0;
  #docs = null; // the documents this page follows (null: all)
  #sessionDocs = null; // the documents the current session follows (null: all)
  #slot; // the leased tab slot, or null
  #claimedBy = null; // the connection whose sync last claimed the slot's actor
  #views = null; // StoredViews, with `onView`
  #onView = null;
  #offered = null; // the documents whose stored view may still be shown (until the first sync)
  #askedVersions = false; // a `versions?` question to the owner is unanswered

  /** Made by `openBrowserRepo`; `started` is the tab id and the Worker `startWorker` started. */
  constructor(name, local, options, slot, started) {
    this.#name = name;
    this.#tab = started.tab;
    this.#local = local;
    this.#slot = slot;
    this.#onError = options.onError;
    if (options.docs != null) this.#docs = [...options.docs];
    if (typeof options.onView === 'function') {
      this.#onView = options.onView;
      this.#views = new StoredViews(name);
      const stored = this.#views.docs();
      this.#offered = new Set(this.#docs ? stored.filter((d) => this.#docs.includes(d)) : stored);
    }
    for (const method of DELEGATED) this[method] = local[method].bind(local);
    // Only whether a change was made here matters: no patches (they cost most of applying
    // what the owner sends, and a page that wants them subscribes with them).
    local.subscribe(
      null,
      (event) => {
        if (event.origin === 'Local') this.#schedulePoll();
      },
      { patches: false },
    );
    this.#channel = new BroadcastChannel(`polyarch:${name}`);
    this.#channel.onmessage = (e) => this.#onChannel(e.data);
    this.#worker = started.worker.attach(
      (msg) => this.#onWorker(msg),
      (e) => this.#fail(polyarchError('STORAGE_UNAVAILABLE', `the polyarch Worker failed: ${e.message ?? e}`)),
    );
    // Held for this tab's lifetime: the owner drops sessions of tabs that vanished without a
    // word (a crash) when their lock is gone.
    navigator.locks.request(`polyarch:${name}:tab:${this.#tab}`, () => new Promise((release) => (this.#releaseTab = release)));
    this.#onPageHide = () => this.#bye();
    globalThis.addEventListener?.('pagehide', this.#onPageHide);
    this.#channel.postMessage({ kind: 'who' });
  }

  /** The replica's name. */
  get name() {
    return this.#name;
  }

  /**
   * `{ json, conflicts }` of the document (see `Repo.toJSONWithConflicts`). With `onView`, the
   * read is also kept as the document's stored view once the owner holds its version.
   */
  toJSONWithConflicts(doc) {
    const read = this.#local.toJSONWithConflicts(doc);
    if (this.#views) {
      try {
        this.#views.read(doc, this.#local.version(doc), read);
        this.#askVersions();
      } catch (e) {
        this.#report(e);
      }
    }
    return read;
  }

  /** This page's in-memory replica (for `SyncSession`s of your own). */
  get local() {
    return this.#local;
  }

  /** This page's device id: its tab slot's (a new one per page load without a slot). */
  get deviceId() {
    return this.#local.deviceId;
  }

  /** The tab slot this page leased (0 for the lowest), or `null` without one. */
  get slot() {
    return this.#slot?.index ?? null;
  }

  /** The actors that wrote the document, each with its highest sequence number. */
  actors(doc) {
    return this.#local.actors(doc);
  }

  /** `"owner"` when this tab's Worker holds the database, else `"follower"` (`"starting"` at first). */
  get role() {
    return this.#role;
  }

  /** `{ role, connected, state, storedBy }`: how this page stands with the database owner. */
  get syncStatus() {
    return {
      role: this.#role,
      connected: this.#session !== null,
      state: this.#session?.state ?? 'disconnected',
      storedBy: this.#durable,
      relay: this.#relayStatus,
      relayUnacked: this.#relayUnacked,
      relayLastContactMs: this.#relayLastContactMs,
    };
  }

  /**
   * Keeps this device's database in sync with the relay at `url` (`ws://host/sync`), through
   * whichever tab owns it (the request moves to each new owner). Reconnects with backoff;
   * each connection resumes from the cursor the database keeps for the relay.
   */
  connect(url, options = {}) {
    if (typeof url !== 'string' || !/^wss?:\/\//.test(url)) {
      throw polyarchError('INVALID_ARGUMENT', 'expected `url` to be a ws:// or wss:// URL');
    }
    this.#relay = { url, token: options.token, minDelayMs: options.minDelayMs, maxDelayMs: options.maxDelayMs };
    this.#channel.postMessage({ kind: 'relay-config', relay: this.#relay });
    this.#askForRelay();
  }

  /**
   * Stops keeping this device's database in sync with the relay (every tab of the device stops
   * asking for it): the device is offline until `connect` is called again. Local reads,
   * writes and the sync between tabs go on.
   */
  disconnect() {
    this.#relay = null;
    this.#channel.postMessage({ kind: 'relay-config', relay: null });
    if (this.#owner && !this.#closed) this.#channel.postMessage({ kind: 'relay', to: this.#owner, off: true });
  }

  /**
   * Resolves once the relay acknowledged holding the change behind `receipt` (it then reaches
   * devices that were never online at the same time as this one). Waits across disconnections
   * and owner changes; resolves at once for `null`. Rejects with `WRITE_REFUSED` when the relay
   * refused writes to the change's document (a read-only token).
   */
  async relayStored(receipt) {
    if (receipt == null) return;
    await this.stored(receipt);
    const id = ++this.#relayWaitIds;
    const token = this.#local.version(receipt.doc);
    return new Promise((resolve, reject) => {
      this.#relayWaits.set(id, { doc: receipt.doc, token, resolve, reject });
      this.#askRelayStored(id);
    });
  }

  /**
   * Follows more documents (a page opened with `docs` holds only those): the page's session
   * with the database starts over with the wider set. Resolves once they are in the page.
   */
  follow(docs) {
    if (!this.#docs) return this.whenSynced();
    const added = docs.filter((d) => !this.#docs.includes(d));
    if (!added.length) return this.whenSynced();
    this.#docs.push(...added);
    if (this.#owner && !this.#closed) {
      this.#bye();
      this.#connect(this.#owner);
    }
    return this.whenSynced();
  }

  /** Calls `listener(syncStatus)` when the role or the sync state changes; returns an unsubscribe function. */
  onStatus(listener) {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /**
   * Resolves once the change behind `receipt` is committed to this device's database (the
   * owner Worker acknowledged it). Resolves at once for `null` (nothing was changed).
   */
  stored(receipt) {
    if (receipt == null) return Promise.resolve();
    if (this.#isStored(receipt)) return Promise.resolve();
    if (this.#closed) return Promise.reject(polyarchError('CLOSED', 'the repo was closed before the change was stored'));
    return new Promise((resolve, reject) => this.#waiting.push({ receipt, resolve, reject }));
  }

  /** Resolves when this page and the database owner are in sync (rejects after `timeoutMs`). */
  whenSynced(timeoutMs = DEFAULT_TIMEOUT_MS) {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#session?.state === 'in-sync') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      const timer = setTimeout(() => {
        this.#syncWaiters = this.#syncWaiters.filter((w) => w !== waiter);
        reject(polyarchError('STORAGE_UNAVAILABLE', `no database owner answered within ${timeoutMs} ms`));
      }, timeoutMs);
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
      waiter.reject = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      this.#syncWaiters.push(waiter);
    });
  }

  /** Disconnects, stops this tab's Worker (another tab's takes over) and closes the replica. */
  close() {
    if (this.#closed) return;
    this.#bye();
    this.#closed = true;
    globalThis.removeEventListener?.('pagehide', this.#onPageHide);
    // The Worker, if it owns the database, compacts and closes it, then ends; it is stopped
    // anyway after CLOSE_GRACE_MS (another tab waits for the database meanwhile).
    const worker = this.#worker;
    worker.postMessage({ kind: 'close' });
    setTimeout(() => worker.terminate(), CLOSE_GRACE_MS);
    this.#releaseTab();
    this.#slot?.release();
    this.#channel.close();
    this.#session?.free();
    this.#session = null;
    const closed = polyarchError('CLOSED', 'the repo was closed');
    for (const w of this.#waiting.splice(0)) w.reject(closed);
    for (const w of this.#syncWaiters.splice(0)) w.reject(closed);
    for (const w of this.#relayWaits.values()) w.reject(closed);
    this.#relayWaits.clear();
    this.#local.close();
  }

  #onWorker(msg) {
    if (msg?.kind === 'role') {
      this.#role = msg.role;
      this.#emitStatus();
    } else if (msg?.kind === 'error') {
      this.#report(polyarchError(msg.code ?? 'STORAGE_UNAVAILABLE', msg.message));
      if (msg.fatal) this.#fail(polyarchError(msg.code ?? 'STORAGE_UNAVAILABLE', msg.message));
    }
  }

  #onChannel(msg) {
    if (this.#closed || !msg) return;
    if (msg.kind === 'owner') {
      if (msg.owner !== this.#owner) this.#connect(msg.owner);
    } else if (msg.kind === 'relay-status') {
      this.#relayStatus = msg.status;
      if ('unacked' in msg) this.#relayUnacked = msg.unacked;
      if ('lastContactMs' in msg) this.#relayLastContactMs = msg.lastContactMs;
      this.#emitStatus();
    } else if (msg.kind === 'relay-config') {
      this.#relay = msg.relay;
    } else if (msg.kind === 'relay-stored' && msg.to === this.#tab) {
      const w = this.#relayWaits.get(msg.id);
      this.#relayWaits.delete(msg.id);
      if (msg.refused) {
        w?.reject(polyarchError('WRITE_REFUSED', `${msg.refused}: this connection's token may only read it; the change stays on this device`));
      } else {
        w?.resolve();
      }
    } else if (msg.kind === 'versions' && msg.to === this.#tab) {
      this.#onVersions(msg.versions ?? {});
    } else if (msg.kind === 'reset' && msg.to === this.#tab && msg.conn === this.#conn) {
      this.#connect(this.#owner);
    } else if (msg.kind === 'frame' && msg.to === this.#tab && msg.conn === this.#conn) {
      this.#receive(msg.frame);
    }
  }

  #connect(owner) {
    this.#session?.free();
    this.#owner = owner;
    this.#conn = `${this.#tab}:${++this.#connections}`;
    this.#sessionDocs = this.#docs ? [...this.#docs] : null;
    this.#session = new SyncSession(this.#local, this.#sessionDocs ? { docs: this.#sessionDocs } : undefined);
    if (this.#role === 'starting') this.#role = 'follower';
    // Before the session's hello, so that the owner answers it first.
    this.#askedVersions = false;
    this.#askVersions();
    this.#send(this.#session.start());
    this.#askForRelay();
    for (const id of this.#relayWaits.keys()) this.#askRelayStored(id);
    this.#emitStatus();
  }

  /** Asks the owner the versions of the documents with a view to show or to keep. */
  #askVersions() {
    if (!this.#views || this.#askedVersions || !this.#owner || this.#closed) return;
    const docs = new Set([...(this.#offered ?? []), ...this.#views.unconfirmed()]);
    if (!docs.size) return;
    this.#askedVersions = true;
    this.#channel.postMessage({ kind: 'versions?', to: this.#owner, from: this.#tab, docs: [...docs] });
  }

  /** The owner's versions: keeps the reads made at them, shows the stored views still current. */
  #onVersions(versions) {
    this.#askedVersions = false;
    this.#views.confirm(versions);
    const offered = this.#offered;
    this.#offered = null;
    for (const doc of offered ?? []) {
      const stored = this.#views.get(doc);
      if (!stored || typeof versions[doc] !== 'string' || versions[doc] !== stored.token) continue;
      try {
        this.#onView(doc, stored.view);
      } catch (e) {
        this.#report(e);
      }
    }
  }

  #askRelayStored(id) {
    const w = this.#relayWaits.get(id);
    if (w && this.#owner && !this.#closed) {
      this.#channel.postMessage({ kind: 'relay-stored?', to: this.#owner, from: this.#tab, id, doc: w.doc, token: w.token });
    }
  }

  #askForRelay() {
    if (this.#relay && this.#owner && !this.#closed) {
      this.#channel.postMessage({ kind: 'relay', to: this.#owner, ...this.#relay });
    }
  }

  #receive(frame) {
    const session = this.#session;
    try {
      this.#send(session.receive(frame));
    } catch (e) {
      // A frame this session cannot take (a protocol error): start over with the owner.
      this.#report(e);
      if (this.#session === session && this.#owner) this.#connect(this.#owner);
      return;
    }
    if (session.peer) this.#durable = session.peer;
    this.#settle();
  }

  #send(frames) {
    for (const frame of frames) {
      this.#channel.postMessage({ kind: 'frame', from: this.#tab, to: this.#owner, conn: this.#conn, frame });
    }
  }

  #schedulePoll() {
    if (this.#polling) return;
    this.#polling = true;
    queueMicrotask(() => {
      this.#polling = false;
      if (this.#closed || !this.#session) return;
      try {
        this.#send(this.#session.poll());
      } catch (e) {
        this.#report(e);
      }
    });
  }

  #isStored(receipt) {
    if (!this.#durable) return false;
    return this.#local.receiptStatus(receipt).ackedBy.includes(this.#durable);
  }

  #settle() {
    if (this.#waiting.length) {
      const still = [];
      for (const w of this.#waiting) {
        if (this.#isStored(w.receipt)) w.resolve();
        else still.push(w);
      }
      this.#waiting = still;
    }
    if (this.#session?.state === 'in-sync') {
      // The page holds what the database holds: a stored view would only be older.
      this.#offered = null;
      this.#claimActor();
      for (const w of this.#syncWaiters.splice(0)) w.resolve();
    }
    this.#askVersions();
    this.#emitStatus();
  }

  /**
   * Once a session is in sync, the page holds every change of the slot's actor to the
   * documents it follows (see the top of this file): write them as that actor from now on.
   */
  #claimActor() {
    if (!this.#slot || this.#claimedBy === this.#conn || !this.#session.peer) return;
    this.#claimedBy = this.#conn;
    try {
      if (this.#slot.vouchesFor(this.#session.peer)) this.#local.claimActor(this.#sessionDocs);
    } catch (e) {
      this.#report(e);
    }
  }

  #emitStatus() {
    const status = this.syncStatus;
    const key = `${status.role}/${status.state}/${status.relay}/${status.relayUnacked}/${status.relayLastContactMs}`;
    if (key === this.#lastStatus) return;
    this.#lastStatus = key;
    for (const listener of [...this.#statusListeners]) {
      try {
        listener(status);
      } catch (e) {
        this.#report(e);
      }
    }
  }

  #lastStatus = '';

  #bye() {
    if (!this.#closed && this.#conn) this.#channel.postMessage({ kind: 'bye', conn: this.#conn });
  }

  #fail(error) {
    this.#failure = error;
    this.#report(error);
    for (const w of this.#syncWaiters.splice(0)) w.reject(error);
  }

  #report(error) {
    try {
      if (this.#onError) this.#onError(error);
      else console.error('polyarch:', error);
    } catch (e) {
      console.error('polyarch: onError threw', e);
    }
  }
}
