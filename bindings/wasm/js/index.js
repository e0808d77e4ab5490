// Browsers and bundlers: the wasm module is fetched next to this file on the first Repo.open.
import init from './dist/polyarch_wasm.js';
import { withInit } from './common.js';

let loading;
withInit(() => (loading ??= init({ module_or_path: new URL('./dist/polyarch_wasm_bg.wasm', import.meta.url) })));

export * from './common.js';
export { openBrowserRepo, BrowserRepo } from './browser.js';
