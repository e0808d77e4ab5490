#!/usr/bin/env node
// The calendar's server: ONE process that serves the built app (`dist/`), runs the real relay
// (`polyarch-relay serve`, a child process on a private port) and proxies `/sync` to it, so
// the page and its relay share one origin. `/config.json` hands the page an access token
// minted with `polyarch-relay token mint`.
//
//   node server.mjs [--port 5173] [--host 127.0.0.1] [--relay-bin PATH] [--data DIR] [--dist DIR]
//
// The relay's database and secret live in `--data` (default `../target/web-demo-data`), so a
// restart keeps the calendar. `cargo xtask demo` builds everything and runs this.
// `startDemo(options)` does the same from a test and returns `{ url, close, stopRelay,
// startRelay }` (to take the relay away and bring it back).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  const server = createTcpServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/** The relay binary: `--relay-bin`, `POLYARCH_RELAY_BIN`, else cargo's debug or release build. */
export function findRelayBin(given) {
  const root = resolve(HERE, '..');
  const target = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
  const found = [given, process.env.POLYARCH_RELAY_BIN, join(target, 'release/polyarch-relay'), join(target, 'debug/polyarch-relay')]
    .find((p) => p && existsSync(p));
  if (!found) throw new Error('no polyarch-relay binary: run `cargo xtask demo`, or pass --relay-bin');
  return found;
}

/** Runs `polyarch-relay serve` until `stop()`; resolves once it answers `/healthz`. */
async function runRelay(bin, port, dataDir, secretFile) {
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--db', `sqlite:${join(dataDir, 'relay.db')}`, '--secret-file', secretFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the relay exited: ${log}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the relay did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    stop: () =>
      new Promise((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', ok);
        child.kill('SIGTERM');
      }),
  };
}

/** Serves `dist` statically (hashed assets cached, the rest revalidated). */
function serveStatic(dist, req, res) {
  let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (path.endsWith('/')) path += 'index.html';
  let file = normalize(join(dist, path));
  if (!file.startsWith(dist + sep)) return res.writeHead(403).end();
  if (!existsSync(file) || !statSync(file).isFile()) file = join(dist, 'index.html');
  res.writeHead(200, {
    'content-type': MIME[extname(file)] ?? 'application/octet-stream',
    'cache-control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  res.end(readFileSync(file));
}

/** Hands a WebSocket upgrade on `/sync` to the relay, byte for byte. */
function proxyUpgrade(relayPort, req, socket, head) {
  const upstream = connect(relayPort, '127.0.0.1', () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(lines.join('\r\n') + '\r\n\r\n');
    if (head?.length) upstream.write(head);
    socket.pipe(upstream).pipe(socket);
  });
  const close = () => {
    upstream.destroy();
    socket.destroy();
  };
  upstream.on('error', close);
  socket.on('error', close);
  upstream.on('close', close);
  socket.on('close', close);
}

/**
 * Starts the relay and the web server; see the file's header. With `relay: false` it serves
 * the app alone (no `/config.json`: every device works offline), as the startup bench does.
 */
export async function startDemo({ port = 0, host = '127.0.0.1', relayBin, dataDir, dist, relay: withRelay = true } = {}) {
  const root = resolve(dist ?? join(HERE, 'dist'));
  if (!existsSync(join(root, 'index.html'))) throw new Error(`no built app in ${root}: run \`npm run build\``);
  let token = null;
  let relay = null;
  let restartRelay = async () => {};
  let relayPort = 0;
  if (withRelay) {
    const bin = findRelayBin(relayBin);
    const data = resolve(dataDir ?? join(HERE, '../target/web-demo-data'));
    mkdirSync(data, { recursive: true });
    const secretFile = join(data, 'secret');
    if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    token = execFileSync(bin, ['token', 'mint', '--secret-file', secretFile, '--docs', '', '--rights', 'read-write', '--ttl', '30d'])
      .toString()
      .trim();
    relayPort = await freePort();
    restartRelay = async () => {
      relay = await runRelay(bin, relayPort, data, secretFile);
    };
    await restartRelay();
  }

  const server = createServer((req, res) => {
    if (req.url === '/config.json') {
      if (!token) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': MIME['.json'], 'cache-control': 'no-store' });
      return res.end(JSON.stringify({ relayPath: '/sync', token }));
    }
    serveStatic(root, req, res);
  });
  server.on('upgrade', (req, socket, head) => {
    if (relayPort && new URL(req.url, 'http://x').pathname === '/sync') proxyUpgrade(relayPort, req, socket, head);
    else socket.destroy();
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  const url = `http://${host}:${server.address().port}/`;
  return {
    url,
    /** Stops the relay (devices see it unreachable) until `startRelay`. */
    stopRelay: async () => relay?.stop(),
    startRelay: restartRelay,
    close: async () => {
      server.closeAllConnections?.();
      await new Promise((ok) => server.close(ok));
      await relay?.stop();
    },
  };
}

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const demo = await startDemo({
    port: Number(arg('port') ?? process.env.PORT ?? 5173),
    host: arg('host') ?? '127.0.0.1',
    relayBin: arg('relay-bin'),
    dataDir: arg('data'),
    dist: arg('dist'),
  });
  console.log(`\nThe calendar is running: ${demo.url}`);
  console.log(`A second device in the same browser: ${demo.url}?device=b   (Ctrl-C stops)\n`);
  const stop = async () => {
    await demo.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
