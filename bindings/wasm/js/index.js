// Browsers and bundlers: the wasm module is fetched next to this file and compiled once per
// realm (streaming, so the browser compiles while it downloads and caches the code); a page's
// Worker is handed the page's compiled module instead of fetching and compiling it again.
import init from './dist/polyarch_wasm.js';
import { withInit } from './common.js';

const WASM_URL = new URL('./dist/polyarch_wasm_bg.wasm', import.meta.url);

let compiling;
let loading;

/** Fetches and compiles the module, streaming where the server says `application/wasm`. */
async function compile() {
  const response = await fetch(WASM_URL);
  if (!response.ok) throw new Error(`failed to fetch Wasm: ${response.status} ${response.statusText} fetching '${WASM_URL}'`);
  if (typeof WebAssembly.compileStreaming === 'function' && response.headers.get('Content-Type') === 'application/wasm') {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

withInit(
  () => (loading ??= (compiling ??= compile()).then((module) => init({ module_or_path: module }))),
  (given) => (compiling ??= given ? Promise.resolve(given).then((module) => module ?? compile()) : compile()),
);

export * from './common.js';
export { openBrowserRepo, BrowserRepo } from './browser.js';
