// Shared by the browser tests: the packed package, a static server for it, and Chromium.
//
// The package under test is the tarball `cargo xtask npm` packs (`target/npm/polyarch-*.tgz`),
// unpacked into a temporary directory; `POLYARCH_TARBALL` names another one. It is served
// under `/pkg/` next to a test page (`page/`) from one origin (127.0.0.1, a secure context, as
// OPFS and Web Locks need), by a Node `http` server with the right MIME types (`.wasm` must be
// `application/wasm` for streaming instantiation).
//
// Chromium is `CHROMIUM_BIN` (default `/usr/bin/chromium`), driven by `playwright-core` with
// the flags that work on these machines, with a user-data-dir the test owns so that a
// "browser restart" is a second launch on the same directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = resolve(HERE, '../../../..');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

export const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A fresh temporary directory, removed by `cleanup`. */
export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The unpacked package: `POLYARCH_PKG_DIR` as is, else the tarball unpacked. */
export function unpackPackage() {
  if (process.env.POLYARCH_PKG_DIR) return { dir: resolve(process.env.POLYARCH_PKG_DIR), cleanup() {} };
  let tarball = process.env.POLYARCH_TARBALL;
  if (!tarball) {
    const out = join(ROOT, 'target/npm');
    const found = readdirSync(out, { withFileTypes: true })
      .filter((e) => e.isFile() && /^polyarch-.*\.tgz$/.test(e.name))
      .map((e) => join(out, e.name))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    if (!found.length) throw new Error(`no polyarch-*.tgz in ${out}: run \`cargo xtask npm\` first`);
    tarball = found[0];
  }
  const tmp = tempDir('polyarch-pkg-');
  execFileSync('tar', ['-xzf', tarball, '-C', tmp]);
  return { dir: join(tmp, 'package'), cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

/** Serves `/pkg/*` from `pkgDir` and everything else from the test page's directory. */
export async function serve(pkgDir) {
  const page = join(HERE, 'page');
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let base = page;
    let path = decodeURIComponent(url.pathname);
    if (path.startsWith('/pkg/')) {
      base = pkgDir;
      path = path.slice('/pkg'.length);
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(base, path));
    if (!file.startsWith(base + sep)) {
      res.writeHead(403).end();
      return;
    }
    let body;
    try {
      body = readFileSync(file);
    } catch {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    res.end(body);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

/** Chromium with its profile in `userDataDir` (reuse the directory to restart the "same" browser). */
export async function launch(userDataDir) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
  });
}

/** A new tab on the test page, the package loaded; console errors are collected in `errors`. */
export async function openTab(context, url) {
  const page = await context.newPage();
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.loaded === true);
  return page;
}

/** Opens the browser repo `name` in `page` as `window.repo`; returns its role. */
export async function openRepo(page, name) {
  return page.evaluate(async (name) => {
    window.repo = await window.polyarch.openBrowserRepo({ name, onError: (e) => console.error(String(e)) });
    return window.repo.role;
  }, name);
}

/**
 * Waits until `predicate(arg)` (run in the page; throwing counts as false, as a document not
 * synced yet does) is true; throws with `what` after `timeout` ms.
 */
export async function until(page, predicate, arg, what, timeout = 15_000) {
  const check = ({ src, arg }) => {
    try {
      return (0, eval)(`(${src})`)(arg);
    } catch {
      return false;
    }
  };
  try {
    await page.waitForFunction(check, { src: predicate.toString(), arg }, { timeout, polling: 50 });
  } catch (e) {
    throw new Error(`timed out waiting for ${what}: ${e.message}\npage errors: ${page.errors.join('\n')}`);
  }
}

/**
 * For a test file: unpacks the package and serves it before the file's tests, and cleans up
 * after them. Returns `{ url }` (valid once the tests run).
 */
export function servePackage() {
  const served = { url: null };
  let pkg;
  let server;
  before(async () => {
    pkg = unpackPackage();
    server = await serve(pkg.dir);
    served.url = server.url;
  });
  after(async () => {
    await server?.close();
    pkg?.cleanup();
  });
  return served;
}

/** Runs `body(context)` in Chromium on a fresh profile, removed afterwards. */
export async function withBrowser(body) {
  const profile = tempDir('polyarch-profile-');
  const context = await launch(profile);
  try {
    await body(context);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
