// Node: the wasm module is read from disk and instantiated synchronously on import.
import { readFileSync } from 'node:fs';
import { initSync } from './dist/polyarch_wasm.js';
import { withInit } from './common.js';

initSync({ module: readFileSync(new URL('./dist/polyarch_wasm_bg.wasm', import.meta.url)) });
withInit(async () => {});

export * from './common.js';

/** Browsers only: there is no OPFS, Worker or Web Lock in Node. */
export async function openBrowserRepo() {
  const e = new Error('openBrowserRepo runs in browsers only; in Node use Repo.open');
  e.name = 'PolyarchError';
  e.code = 'STORAGE_UNAVAILABLE';
  throw e;
}

/** Browsers only (see `openBrowserRepo`). */
export class BrowserRepo {
  constructor() {
    throw new TypeError('BrowserRepo exists in browsers only; use openBrowserRepo there');
  }
}
