// Two browser profiles (two devices) sync through a real relay process, including edits made
// while the relay is unreachable.
//
// The relay is `polyarch-relay` (`cargo build --features relay --bin polyarch-relay`):
// `POLYARCH_RELAY_BIN`, else the debug build in `CARGO_TARGET_DIR` or `target/`; `cargo xtask
// test` builds it and sets the variable. Without a binary the test is skipped.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { launch, openRepo, openTab, serve, tempDir, unpackPackage, until } from './support.mjs';

const ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../../..');
const SECRET = 'browser-test-secret-0123456789';

function relayBin() {
  const candidates = [
    process.env.POLYARCH_RELAY_BIN,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, 'debug/polyarch-relay'),
    join(ROOT, 'target/debug/polyarch-relay'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

async function freePort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Starts the relay on `port` with its database in `dir`; resolves once /healthz answers. */
async function startRelay(bin, port, dir) {
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--db', `sqlite:${join(dir, 'relay.db')}`, '--secret', SECRET], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the relay exited: ${log}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the relay did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopRelay(child) {
  return new Promise((ok) => {
    if (child.exitCode !== null) return ok();
    child.once('exit', ok);
    child.kill('SIGTERM');
  });
}

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

const bin = relayBin();

/** A token for every document with `rights` (`read` or `read-write`). */
const mint = (rights) =>
  execFileSync(bin, ['token', 'mint', '--secret', SECRET, '--docs', '', '--rights', rights, '--ttl', '1h']).toString().trim();

/** A relay's directory, port, URL and an access token for it (not started yet). */
async function relaySetup() {
  const port = await freePort();
  return { dir: tempDir('polyarch-relay-'), port, url: `ws://127.0.0.1:${port}/sync`, token: mint('read-write') };
}

test('two devices sync through a relay, with edits made while it is unreachable', { skip: !bin && 'no polyarch-relay binary (set POLYARCH_RELAY_BIN)' }, async () => {
  const { dir, port, url, token } = await relaySetup();
  const profiles = [tempDir('polyarch-profile-'), tempDir('polyarch-profile-')];
  const contexts = [];
  let relay = await startRelay(bin, port, dir);
  try {
    const devices = [];
    for (const profile of profiles) {
      const context = await launch(profile);
      contexts.push(context);
      const page = await openTab(context, server.url);
      await openRepo(page, 'team');
      await page.evaluate(({ url, token }) => window.repo.connect(url, { token, minDelayMs: 100, maxDelayMs: 1000 }), { url, token });
      devices.push(page);
    }
    const [laptop, phone] = devices;
    const entries = (page) => page.evaluate(() => [...window.repo.list('plan', 'items').values].sort());

    await laptop.evaluate(() => window.repo.list('plan', 'items').push('laptop: online'));
    await until(phone, () => window.repo.list('plan', 'items').length === 1, null, 'the phone to get the laptop\'s edit through the relay', 30_000);

    // The relay goes away: both devices keep editing, durably, on their own.
    await stopRelay(relay);
    await until(laptop, () => window.repo.syncStatus.relay === 'offline', null, 'the laptop to notice the relay is gone');
    await laptop.evaluate(async () => window.repo.stored(window.repo.list('plan', 'items').push('laptop: offline')));
    await phone.evaluate(async () => window.repo.stored(window.repo.list('plan', 'items').push('phone: offline')));

    // It comes back (same port, same database): both reconnect and catch up.
    relay = await startRelay(bin, port, dir);
    const all = ['laptop: offline', 'laptop: online', 'phone: offline'];
    for (const page of devices) {
      await until(page, (n) => window.repo.list('plan', 'items').length === n, all.length, 'both devices to converge after the relay is back', 30_000);
      assert.deepEqual(await entries(page), all);
    }
    assert.deepEqual(laptop.errors.filter((e) => !/relay connection|WebSocket/.test(e)), []);
  } finally {
    for (const c of contexts) await c.close();
    await stopRelay(relay);
    for (const p of [...profiles, dir]) rmSync(p, { recursive: true, force: true });
  }
});

test('relayStored, relay status details and disconnect; two repo names side by side in one profile', { skip: !bin && 'no polyarch-relay binary (set POLYARCH_RELAY_BIN)' }, async () => {
  const { dir, port, url, token } = await relaySetup();
  const profile = tempDir('polyarch-profile-');
  const relay = await startRelay(bin, port, dir);
  const context = await launch(profile);
  try {
    // Two replicas of different names in one profile: each has its own database and pool.
    const a = await openTab(context, server.url);
    const b = await openTab(context, server.url);
    assert.equal(await openRepo(a, 'device-a'), 'owner');
    assert.equal(await openRepo(b, 'device-b'), 'owner');
    for (const page of [a, b]) {
      await page.evaluate(({ url, token }) => window.repo.connect(url, { token, minDelayMs: 100, maxDelayMs: 1000 }), { url, token });
      await until(page, () => window.repo.syncStatus.relay === 'in-sync', null, 'the relay connection');
    }

    // A change resolves `stored`, then `relayStored`; nothing is left waiting for the relay.
    const status = await a.evaluate(async () => {
      const r = window.repo.register('cal', 'title').set('from A');
      await window.repo.relayStored(r);
      return window.repo.syncStatus;
    });
    assert.equal(status.relay, 'in-sync');
    await until(a, () => window.repo.syncStatus.relayUnacked === 0 && window.repo.syncStatus.relayLastContactMs > 0, null, 'the relay details');
    await until(b, () => window.repo.register('cal', 'title').value === 'from A', null, 'B to get A\'s change through the relay');

    // Offline: B's change waits (it is on B's disk, not on the relay) until B reconnects.
    await b.evaluate(() => window.repo.disconnect());
    await until(b, () => window.repo.syncStatus.relay === 'none', null, 'B to be offline');
    const offline = await b.evaluate(async () => {
      window.pending = window.repo.register('cal', 'title').set('from B, offline');
      await window.repo.stored(window.pending);
      window.onRelay = false;
      window.repo.relayStored(window.pending).then(() => (window.onRelay = true));
      await new Promise((r) => setTimeout(r, 500));
      return { onRelay: window.onRelay, unacked: window.repo.syncStatus.relayUnacked };
    });
    assert.equal(offline.onRelay, false);
    assert.equal(await a.evaluate(() => window.repo.register('cal', 'title').value), 'from A');
    await b.evaluate(({ url, token }) => window.repo.connect(url, { token, minDelayMs: 100, maxDelayMs: 1000 }), { url, token });
    await until(b, () => window.onRelay === true, null, 'B\'s offline change to reach the relay');
    await until(a, () => window.repo.register('cal', 'title').value === 'from B, offline', null, 'A to get B\'s offline change');
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await context.close();
    await stopRelay(relay);
    for (const p of [profile, dir]) rmSync(p, { recursive: true, force: true });
  }
});

test('a read-only token reads but its writes are refused: relayStored rejects; a forged token stops the connection', { skip: !bin && 'no polyarch-relay binary (set POLYARCH_RELAY_BIN)' }, async () => {
  const { dir, port, url, token } = await relaySetup();
  const readOnly = mint('read');
  const profile = tempDir('polyarch-profile-');
  const relay = await startRelay(bin, port, dir);
  const context = await launch(profile);
  try {
    const [writer, reader, forger] = [await openTab(context, server.url), await openTab(context, server.url), await openTab(context, server.url)];
    await openRepo(writer, 'writer');
    await openRepo(reader, 'reader');
    await openRepo(forger, 'forger');
    const connect = (page, token) =>
      page.evaluate(({ url, token }) => window.repo.connect(url, { token, minDelayMs: 100, maxDelayMs: 1000 }), { url, token });
    await connect(writer, token);
    await writer.evaluate(() => window.repo.relayStored(window.repo.register('cal', 'title').set('from the writer')));

    // The reader follows the document, and its own write is refused, never "on the relay".
    await connect(reader, readOnly);
    await until(reader, () => window.repo.register('cal', 'title').value === 'from the writer', null, 'the reader to read');
    const refusal = await reader.evaluate(async () => {
      const r = window.repo.register('cal', 'title').set('from the reader');
      await window.repo.stored(r);
      try {
        await window.repo.relayStored(r);
        return 'stored by the relay';
      } catch (e) {
        return { name: e.name, code: e.code, message: e.message };
      }
    });
    assert.equal(refusal.code, 'WRITE_REFUSED', JSON.stringify(refusal));
    assert.equal(refusal.name, 'PolyarchError');
    assert.match(refusal.message, /may only read/);
    // The connection stays usable: the reader still follows the writer.
    await writer.evaluate(() => window.repo.relayStored(window.repo.register('cal', 'title').set('again')));
    await until(reader, () => window.repo.register('cal', 'title').conflicts.includes('again'), null, 'the reader to keep following');
    assert.equal(await writer.evaluate(() => window.repo.register('cal', 'title').value), 'again');

    // A token the relay did not sign: the connection stops for good, and says why.
    await connect(forger, `${token.slice(0, -4)}AAAA`);
    await until(forger, () => window.repo.syncStatus.relay === 'refused', null, 'the forged token to be refused', 20_000);
  } finally {
    await context.close();
    await stopRelay(relay);
    for (const p of [profile, dir]) rmSync(p, { recursive: true, force: true });
  }
});
