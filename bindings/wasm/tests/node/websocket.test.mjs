// connectWebSocket against an in-process fake relay: frames flow both ways, and after the
// connection drops it reconnects (with backoff) and resumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Repo, SyncSession, connectWebSocket } from 'polyarch';

/** A fake relay: each socket gets a server-side SyncSession on `repo`. */
function fakeRelay(repo) {
  const relay = { sockets: [], refuse: false };
  relay.WebSocket = class {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      relay.sockets.push(this);
      setTimeout(() => {
        if (relay.refuse) return this.#close();
        this.session = new SyncSession(repo);
        this.readyState = 1;
        this.onopen?.();
        this.#deliver(this.session.start());
      }, 1);
    }
    send(frame) {
      if (this.readyState !== 1) return;
      const copy = new Uint8Array(frame);
      setTimeout(() => {
        if (this.readyState !== 1) return;
        this.#deliver(this.session.receive(copy));
        for (const s of relay.sockets) if (s !== this && s.readyState === 1) s.#deliver(s.session.poll());
      }, 1);
    }
    close() {
      this.#close();
    }
    #close() {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.session?.free();
      setTimeout(() => this.onclose?.({}), 1);
    }
    #deliver(frames) {
      for (const f of frames) {
        const data = f.slice().buffer;
        setTimeout(() => this.readyState === 1 && this.onmessage?.({ data }), 1);
      }
    }
  };
  return relay;
}

async function until(check, what) {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('connectWebSocket syncs, reconnects with backoff after a drop, and resumes', async () => {
  const server = await Repo.open({ name: 'relay' });
  const device = await Repo.open({ name: 'device' });
  const relay = fakeRelay(server);
  const statuses = [];
  const conn = connectWebSocket(device, 'ws://relay/sync', {
    WebSocket: relay.WebSocket,
    minDelayMs: 10,
    maxDelayMs: 40,
    onStatus: (s) => statuses.push(s),
  });
  const unsubscribe = device.subscribe(null, () => conn.poll());
  device.list('plan', 'items').push('first');
  await until(() => conn.status === 'in-sync' && server.has('plan') && server.list('plan', 'items').length === 1, 'the first edit');
  assert.equal(conn.peer, server.deviceId);

  // The connection drops and the relay refuses a few attempts: the device keeps editing.
  relay.refuse = true;
  relay.sockets.at(-1).close();
  await until(() => conn.status === 'offline', 'the drop to be noticed');
  device.list('plan', 'items').push('offline');
  await until(() => conn.attempts >= 4, 'a few retries');
  relay.refuse = false;
  await until(() => server.list('plan', 'items').length === 2, 'the offline edit after reconnecting');
  assert.deepEqual(server.list('plan', 'items').values, ['first', 'offline']);
  assert.ok(statuses.includes('offline') && statuses.at(-1) === 'in-sync', statuses.join(','));

  unsubscribe();
  conn.close();
  assert.equal(conn.status, 'closed');
});

test('connectWebSocket without a WebSocket constructor throws INVALID_ARGUMENT', async () => {
  const repo = await Repo.open();
  assert.throws(
    () => connectWebSocket(repo, 'ws://x/sync', { WebSocket: null }),
    (e) => e.name === 'PolyarchError' && e.code === 'INVALID_ARGUMENT',
  );
});
