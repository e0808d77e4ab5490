// Node: the wasm module is read from disk and instantiated synchronously on import.
import { readFileSync } from 'node:fs';
import { initSync } from './dist/polyarch_wasm.js';
import { withInit } from './common.js';

initSync({ module: readFileSync(new URL('./dist/polyarch_wasm_bg.wasm', import.meta.url)) });
withInit(async () => {});

export * from './common.js';
