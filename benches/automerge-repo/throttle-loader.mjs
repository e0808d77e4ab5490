// The loader for throttle-hook.mjs: rewrites the one field initialiser in DocSynchronizer.js
// and fails loudly if it is not there (a new automerge-repo version moved it).
let ms = 100
export async function initialize(data) {
  ms = data.ms
}
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context)
  if (!url.endsWith("/synchronizer/DocSynchronizer.js")) return result
  const source = String(result.source)
  const needle = "syncDebounceRate = 100;"
  if (!source.includes(needle)) {
    throw new Error(`throttle hook: ${needle} not found in ${url}`)
  }
  return { ...result, source: source.replace(needle, `syncDebounceRate = ${ms};`) }
}
