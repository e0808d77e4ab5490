// The dedicated Worker behind `openBrowserRepo` (see browser.js for the topology).
//
// Every tab starts one; they queue on the Web Lock `polyarch:<name>`. The holder opens the
// SQLite database on OPFS (sahpool: one connection at a time), announces itself on the
// BroadcastChannel `polyarch:<name>` and serves one `SyncSession` per tab connection, relaying
// each tab's changes to the others. It holds the lock until it ends (its tab closes), and the
// next queued Worker takes over. When a tab asks (`connect`), the owner also keeps the
// database in sync with a relay over WebSocket, tells the tabs how far the relay has
// acknowledged its log (`relay-status`), and answers `relay-stored?` questions once the relay
// holds a tab's change.
//
// The owner keeps the database compact: a few seconds after writes pause (and at most once
// per `MAINTAIN_EVERY_MS`) it folds long histories into snapshots (`repo.maintain()`), so the
// database stays small and a tab that opens later is sent a snapshot instead of every change
// ever made. Its first pass also compacts documents not loaded (`{ all: true }`): the previous
// owner may have been killed before it compacted them. When its page closes the repo
// (`close`), it compacts and closes the database before it ends; a tab that just goes away
// kills it with no warning, which SQLite's journal makes safe at any point.
//
// It also tells a tab the version of documents it asks about (`versions?`): a tab keeps and
// shows a stored view of a document only at the version the database holds (see views.js).
import { Repo, SyncSession, connectWebSocket, wasmModule } from './index.js';

/** Opening attempts while the previous owner's file handles are being released. */
const OPEN_ATTEMPTS = 12;

/** The label `polyarch-relay` introduces itself with. */
const RELAY_LABEL = 'polyarch-relay';

/** The most often the owner recounts what waits for the relay while frames flow. */
const REPORT_MS = 50;

/** Most documents the owner remembers the relay refused (what a relay sends bounds it). */
const MAX_REFUSED_DOCS = 10_000;

/** Most documents one `versions?` question may name. */
const MAX_VERSIONS_ASKED = 64;

/** How often the owner drops the sessions of tabs that are gone. */
const SWEEP_MS = 5_000;

/** The owner compacts long histories once writes have paused this long... */
const MAINTAIN_IDLE_MS = 3_000;
/** ...and no more often than this. */
const MAINTAIN_EVERY_MS = 30_000;

let started = false;
/** Set once this Worker owns the database: compacts and closes it. */
let shutdown = null;
/** Hands over the module the page compiled (null: it has none, compile one here). */
let moduleArrived = null;
self.onmessage = (e) => {
  const msg = e.data;
  if (msg?.kind === 'open' && !started) {
    started = true;
    // The page sends its compiled module next ('module'): instantiated here, not compiled
    // again. Meanwhile this Worker queues for the database's lock.
    if (msg.module === 'follows') wasmModule(new Promise((arrived) => (moduleArrived = arrived)));
    serve(msg.name).catch((err) => fatal(err));
    self.postMessage({ kind: 'started' });
  } else if (msg?.kind === 'module') {
    moduleArrived?.(msg.module);
  } else if (msg?.kind === 'close') {
    // The page closed its repo: leave the database compact for the next owner, then end
    // (which releases the lock). A Worker still queued for the lock just ends.
    shutdown?.();
    self.close();
  }
};

function fatal(err) {
  self.postMessage({ kind: 'error', fatal: true, code: err?.code ?? 'STORAGE_UNAVAILABLE', message: String(err?.message ?? err) });
}

async function serve(name) {
  const id = crypto.randomUUID();
  await navigator.locks.request(`polyarch:${name}`, async () => {
    const repo = await openWithRetry(name);
    const channel = new BroadcastChannel(`polyarch:${name}`);
    const sessions = new Map(); // conn -> { tab, session }

    const send = (tab, conn, frames) => {
      for (const frame of frames) channel.postMessage({ kind: 'frame', from: id, to: tab, conn, frame });
    };
    const drop = (conn) => {
      sessions.get(conn)?.session.free();
      sessions.delete(conn);
    };
    let relay = null; // { key, connection }
    let relayReport = '';
    // Questions `relay-stored?`: { tab, id, doc, token, mark }, `mark` being the log head
    // once this database holds the tab's version of the document.
    let relayWaits = [];
    // The relay as a peer of this database: the connected one, else the last one heard from
    // (so that changes waiting for it are counted while offline, after a reload too).
    let relayPeer = null;
    const relayRecord = () => {
      relayPeer = relay?.connection.peer ?? relayPeer;
      const peers = repo.status().peers;
      if (relayPeer) return peers.find((p) => p.peer === relayPeer);
      return peers
        .filter((p) => p.label === RELAY_LABEL)
        .sort((x, y) => y.last_contact_ms - x.last_contact_ms)[0];
    };
    const reportRelay = (status) => {
      const record = relayRecord();
      const msg = {
        kind: 'relay-status',
        status: status ?? relay?.connection.status ?? 'none',
        unacked: record ? record.unacked : null,
        lastContactMs: record && record.last_contact_ms ? record.last_contact_ms : null,
      };
      const key = JSON.stringify(msg);
      if (key !== relayReport) {
        relayReport = key;
        channel.postMessage(msg);
      }
      if (!relayWaits.length) return;
      const head = repo.status().log_head;
      relayWaits = relayWaits.filter((w) => {
        if (w.mark === null && repo.hasCaughtUp(w.doc, w.token)) w.mark = head;
        if (w.mark === null || !record || record.acked < w.mark) return true;
        channel.postMessage({ kind: 'relay-stored', to: w.tab, id: w.id });
        return false;
      });
    };
    // The relay refused this device's writes to `doc` (a read-only token): it acknowledges the
    // log around them, but it will never hold them, so tabs waiting for it are told at once.
    const refused = new Set(); // bounded: past it, refusals only reject the waits already here
    const refuseWaits = (doc, message) => {
      if (refused.size < MAX_REFUSED_DOCS) refused.add(doc);
      relayWaits = relayWaits.filter((w) => {
        if (w.doc !== doc) return true;
        channel.postMessage({ kind: 'relay-stored', to: w.tab, id: w.id, refused: message });
        return false;
      });
    };
    // After any import, every other tab gets what it lacks (the log skips a tab's own changes).
    // At most one relay report per REPORT_MS while frames flow (it reads the peers table).
    let reportTimer = null;
    const scheduleReport = () => {
      reportTimer ??= setTimeout(() => {
        reportTimer = null;
        try {
          reportRelay();
        } catch (err) {
          report(err);
        }
      }, REPORT_MS);
    };
    // Compaction when writes pause (see the top of this file). `maintainedHead` is the log
    // head the last pass saw: a pass with no write since has nothing new to fold.
    let maintainTimer = null;
    let maintainedAt = 0;
    let maintainedHead = null;
    const maintain = () => {
      maintainTimer = null;
      maintainedAt = Date.now();
      try {
        const head = repo.status().log_head;
        if (head === maintainedHead) return;
        repo.maintain({ all: maintainedHead === null });
        maintainedHead = head;
      } catch (err) {
        report(err);
      }
    };
    const scheduleMaintain = () => {
      clearTimeout(maintainTimer);
      const wait = Math.max(MAINTAIN_IDLE_MS, maintainedAt + MAINTAIN_EVERY_MS - Date.now());
      maintainTimer = setTimeout(maintain, wait);
    };
    const pollAll = () => {
      scheduleMaintain();
      relay?.connection.poll();
      for (const [conn, s] of sessions) {
        try {
          send(s.tab, conn, s.session.poll());
        } catch (err) {
          report(err);
          drop(conn);
        }
      }
      scheduleReport();
    };

    channel.onmessage = (e) => {
      const msg = e.data;
      if (msg?.kind === 'who') {
        channel.postMessage({ kind: 'owner', owner: id });
        if (relayReport) channel.postMessage(JSON.parse(relayReport));
      } else if (msg?.kind === 'versions?' && msg.to === id) {
        // A tab's stored views (views.js): the version of each document in the database.
        const versions = {};
        for (const doc of Array.isArray(msg.docs) ? msg.docs.slice(0, MAX_VERSIONS_ASKED) : []) {
          try {
            versions[doc] = repo.version(doc);
          } catch {
            // Not a document id: no version, so no view of it is kept or shown.
          }
        }
        channel.postMessage({ kind: 'versions', to: msg.from, versions });
      } else if (msg?.kind === 'relay' && msg.to === id && msg.off) {
        // The device goes offline: every tab forgot the relay (`relay-config`).
        relay?.connection.close();
        relay = null;
        reportRelay('none');
      } else if (msg?.kind === 'relay-stored?' && msg.to === id) {
        if (refused.has(msg.doc)) {
          channel.postMessage({ kind: 'relay-stored', to: msg.from, id: msg.id, refused: `the relay refused writes to ${msg.doc}` });
          return;
        }
        if (!relayWaits.some((w) => w.tab === msg.from && w.id === msg.id)) {
          relayWaits.push({ tab: msg.from, id: msg.id, doc: msg.doc, token: msg.token, mark: null });
        }
        scheduleReport();
      } else if (msg?.kind === 'relay' && msg.to === id) {
        // A tab asked for the relay (tabs repeat it to every new owner); one connection.
        const key = JSON.stringify([msg.url, msg.token ?? null, msg.minDelayMs, msg.maxDelayMs]);
        if (relay?.key === key) return;
        relay?.connection.close();
        refused.clear(); // another token may write what this one could not
        relay = {
          key,
          connection: connectWebSocket(repo, msg.url, {
            token: msg.token,
            minDelayMs: msg.minDelayMs,
            maxDelayMs: msg.maxDelayMs,
            onReceive: pollAll,
            onStatus: (status) => reportRelay(status),
            onError: (err) => {
              if (err?.code === 'REFUSED_FORBIDDEN' && err.doc) refuseWaits(err.doc, err.message);
              report(err);
            },
          }),
        };
      } else if (msg?.kind === 'bye') {
        drop(msg.conn);
      } else if (msg?.kind === 'frame' && msg.to === id) {
        let s = sessions.get(msg.conn);
        if (!s) {
          s = { tab: msg.from, session: new SyncSession(repo), since: Date.now() };
          sessions.set(msg.conn, s);
          send(s.tab, msg.conn, s.session.start());
        }
        try {
          send(s.tab, msg.conn, s.session.receive(msg.frame));
        } catch (err) {
          // Start over: drop ours and tell the tab to reconnect.
          report(err);
          drop(msg.conn);
          channel.postMessage({ kind: 'reset', to: msg.from, conn: msg.conn });
          return;
        }
        pollAll();
      }
    };
    // Tabs that vanished without a `bye` (a crash): their tab lock is gone.
    setInterval(async () => {
      const held = new Set((await navigator.locks.query()).held.map((l) => l.name));
      for (const [conn, s] of sessions) {
        if (Date.now() - s.since > SWEEP_MS && !held.has(`polyarch:${name}:tab:${s.tab}`)) drop(conn);
      }
    }, SWEEP_MS);
    shutdown = () => {
      clearTimeout(maintainTimer);
      relay?.connection.close();
      channel.close();
      try {
        repo.close(); // commits, compacts loaded long histories, closes the database
      } catch (err) {
        report(err);
      }
    };
    channel.postMessage({ kind: 'owner', owner: id });
    self.postMessage({ kind: 'role', role: 'owner' });
    try {
      reportRelay();
    } catch (err) {
      report(err);
    }
    scheduleMaintain();
    // Hold the lock (and the database) for as long as this Worker lives.
    await new Promise(() => {});
  });
}

/** Opens the database, retrying while the previous owner's OPFS handles are still held. */
async function openWithRetry(name) {
  let delay = 50;
  for (let attempt = 1; ; attempt++) {
    try {
      return await Repo.open({ name, storage: 'opfs', label: 'browser' });
    } catch (err) {
      if (attempt >= OPEN_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }
}

function report(err) {
  self.postMessage({ kind: 'error', fatal: false, code: err?.code ?? 'SYNC_PROTOCOL', message: String(err?.message ?? err) });
}
