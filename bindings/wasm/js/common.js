// The thin layer over wasm-bindgen's glue, shared by every entry point: `Repo.open` waits for
// the module to be instantiated, so that opening is the only asynchronous step.
import * as wasm from './dist/polyarch_wasm.js';

export { connectWebSocket, WebSocketConnection } from './websocket.js';

export const {
  Repo,
  SyncSession,
  Transaction,
  RegisterHandle,
  CounterHandle,
  SetHandle,
  TextHandle,
  MapHandle,
  ListHandle,
} = wasm;

/** How this realm gets its compiled module (see `withInit`). */
let compiled = async () => null;

/**
 * Installs the `ready` promise (instantiating the module) under `Repo.open`, and `compile`:
 * `compile()` resolves to the compiled `WebAssembly.Module` where there is one to share with a
 * Worker (else null), and `compile(module)`, called before the first `Repo.open` with a module
 * compiled elsewhere (or a promise of one, or of null), makes the realm instantiate that
 * module instead of fetching its own (it fetches its own after null).
 */
export function withInit(ready, compile = compiled) {
  compiled = compile;
  const open = wasm.Repo.open;
  wasm.Repo.open = async function openRepo(options = {}) {
    await ready();
    return open.call(wasm.Repo, options);
  };
}

/** The compiled module (see `withInit`): starts compiling it if nothing did yet. */
export function wasmModule(given) {
  return compiled(given);
}

/** Whether `e` is an error thrown by Polyarch (`e.name === "PolyarchError"`). */
export function isPolyarchError(e) {
  return e instanceof Error && e.name === 'PolyarchError' && typeof e.code === 'string';
}

/**
 * Runs two sessions against each other until neither has anything to say: an in-memory
 * transport for tests and for two replicas in one process. Returns the number of frames moved.
 */
export function syncLocally(a, b) {
  let moved = 0;
  let toB = a.start();
  let toA = b.start();
  for (let round = 0; (toA.length || toB.length) && round < 10_000; round++) {
    const nextToA = [];
    for (const frame of toB) nextToA.push(...b.receive(frame));
    const nextToB = [];
    for (const frame of toA) nextToB.push(...a.receive(frame));
    moved += toA.length + toB.length;
    toA = nextToA;
    toB = nextToB;
  }
  return moved;
}
