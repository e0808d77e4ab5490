// A module loader hook (node --import ./throttle-hook.mjs) that sets automerge-repo's
// per-document sync throttle (DocSynchronizer.syncDebounceRate, 100 ms, not configurable
// through Repo's options) to $AMRG_SYNC_DEBOUNCE_MS. Without the variable nothing changes.
import { register } from "node:module"

if (process.env.AMRG_SYNC_DEBOUNCE_MS !== undefined) {
  register("./throttle-loader.mjs", import.meta.url, {
    data: { ms: Number(process.env.AMRG_SYNC_DEBOUNCE_MS) },
  })
}
