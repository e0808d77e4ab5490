// Load driver for automerge-repo's sync server, the baseline of benches/relay_load.rs.
//
//   node driver.mjs URL DOCS SECS RAMP_SECS SERVER_PID
//
// Every document has 4 devices, each an automerge-repo client Repo with its own WebSocket
// connection (WebSocketClientAdapter), typing 6 changes per second: one character spliced into
// the document's text and its own counter set to the change's number. The devices run in 4
// worker threads (worker k holds device k of every document), so that the driver is not
// limited to one core's event loop. Every device records, for each change of the other three,
// the time from the call to `handle.change` on the sender to the `change` event on the
// receiver (send times are shared between the threads in a SharedArrayBuffer; the clock is
// `performance.timeOrigin + performance.now()`, the same in every thread). Changes sent in the
// measured window (after the ramp) count; one not received by the end (a short drain after the
// window) counts as late beyond any bound. Prints one line `RESULT {json}`, with the server's
// CPU and memory read from /proc at the window's edges.
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import * as A from "@automerge/automerge"
import fs from "node:fs"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads"

const DEVICES = 4
const RATE_HZ = 6
const PERIOD_MS = 1000 / RATE_HZ
const DRAIN_MS = 1000

const sleep = ms => new Promise(r => setTimeout(r, ms))
const now = () => performance.timeOrigin + performance.now()
const log = (...a) => console.error("driver:", ...a)

function procUsage(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const cpu = (Number(f[11]) + Number(f[12])) / 100
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
    return { cpu, rssKib: rss }
  } catch {
    return { cpu: NaN, rssKib: 0 }
  }
}

// CPU of the whole process (every thread), from /proc.
const selfCpu = () => procUsage(process.pid).cpu

// ---------------------------------------------------------------- worker: device `slot`
async function device() {
  const { url, docs, slot, perDoc, sab } = workerData
  const sent = new Float64Array(sab) // [doc][slot][n], n from 1
  const at = (d, k, n) => (d * DEVICES + k) * perDoc + n
  const handles = []
  let timing = null
  const latencies = []
  const lags = []
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })

  const repoFor = () =>
    new Repo({ network: [new WebSocketClientAdapter(url)], sharePolicy: async () => true })

  parentPort.on("message", async msg => {
    if (msg.type === "create") {
      // Device 0 makes every document and hands its URL to the others.
      const urls = []
      for (let d = 0; d < docs; d++) {
        const repo = repoFor()
        const init = { text: "" }
        for (let k = 0; k < DEVICES; k++) init[`c${k}`] = 0
        const handle = repo.create(init)
        await handle.whenReady()
        await repo.networkSubsystem.whenReady()
        handles.push({ repo, handle })
        urls.push(handle.url)
      }
      await sleep(500) // let the server receive them before the others ask
      parentPort.postMessage({ type: "created", urls })
    } else if (msg.type === "find") {
      const BATCH = 20
      for (let d = 0; d < docs; d += BATCH) {
        const part = []
        for (let i = d; i < Math.min(docs, d + BATCH); i++) {
          part.push(
            (async () => {
              const repo = repoFor()
              for (let attempt = 0; ; attempt++) {
                try {
                  return { repo, handle: await repo.find(msg.urls[i]) }
                } catch (e) {
                  if (attempt >= 50) throw e
                  await sleep(100)
                }
              }
            })()
          )
        }
        handles.push(...(await Promise.all(part)))
      }
      parentPort.postMessage({ type: "found" })
    } else if (msg.type === "start") {
      timing = msg
      run().catch(e => {
        console.error(e)
        process.exit(1)
      })
    }
  })

  async function run() {
    const { start, measureFrom, stopAt } = timing
    handles.forEach(({ handle }, d) => {
      const seen = Array(DEVICES).fill(0)
      handle.on("change", ({ doc: value }) => {
        const t = now()
        for (let k = 0; k < DEVICES; k++) {
          if (k === slot) continue
          const upto = value[`c${k}`] ?? 0
          while (seen[k] < upto && seen[k] + 1 < perDoc) {
            seen[k] += 1
            const s = sent[at(d, k, seen[k])]
            if (s >= measureFrom && s < stopAt) latencies.push(t - s)
          }
        }
      })
    })
    setTimeout(() => loopDelay.enable(), measureFrom - now())
    setTimeout(() => loopDelay.disable(), stopAt - now())
    const typists = handles.map(({ handle }, d) =>
      (async () => {
        const phase = (((d * DEVICES + slot) % 97) / 97) * PERIOD_MS
        let n = 0
        let next = start + phase
        for (;;) {
          const wait = next - now()
          if (wait > 0) await sleep(wait)
          const t = now()
          if (t >= stopAt || n + 1 >= perDoc) break
          n += 1
          sent[at(d, slot, n)] = t
          if (t >= measureFrom) lags.push(t - next)
          handle.change(doc => {
            A.splice(doc, ["text"], Math.floor(Math.random() * (doc.text.length + 1)), 0, "x")
            doc[`c${slot}`] = n
          })
          next += PERIOD_MS
        }
      })()
    )
    await Promise.all(typists)
    await sleep(DRAIN_MS)
    parentPort.postMessage({
      type: "done",
      latencies,
      lags,
      loopDelayP99: loopDelay.percentile(99) / 1e6,
      loopDelayMax: loopDelay.max / 1e6,
    })
    await Promise.all(handles.map(({ repo }) => repo.shutdown().catch(() => {})))
  }
}

// ---------------------------------------------------------------- main: coordinator
async function main() {
  const [url, docsArg, secsArg, rampArg, pidArg] = process.argv.slice(2)
  const docs = Number(docsArg)
  const secs = Number(secsArg)
  const ramp = Number(rampArg)
  const serverPid = Number(pidArg)
  const perDoc = Math.ceil((secs + ramp + 2) * RATE_HZ) + 10
  const sab = new SharedArrayBuffer(docs * DEVICES * perDoc * 8)
  const sent = new Float64Array(sab)

  log(`connecting ${docs} documents x ${DEVICES} devices to ${url}`)
  const workers = []
  for (let slot = 0; slot < DEVICES; slot++) {
    const w = new Worker(new URL(import.meta.url), {
      workerData: { url, docs, slot, perDoc, sab },
    })
    w.on("error", e => {
      console.error(e)
      process.exit(1)
    })
    workers.push(w)
  }
  const next = (w, type) =>
    new Promise(resolve => {
      const on = msg => {
        if (msg.type === type) {
          w.off("message", on)
          resolve(msg)
        }
      }
      w.on("message", on)
    })
  const created = next(workers[0], "created")
  workers[0].postMessage({ type: "create" })
  const { urls } = await created
  await Promise.all(
    workers.slice(1).map(w => {
      const found = next(w, "found")
      w.postMessage({ type: "find", urls })
      return found
    })
  )
  log("all connected")

  const start = now() + 200
  const measureFrom = start + ramp * 1000
  const stopAt = measureFrom + secs * 1000
  const done = workers.map(w => next(w, "done"))
  for (const w of workers) w.postMessage({ type: "start", start, measureFrom, stopAt })
  let edges = []
  setTimeout(() => edges.push([procUsage(serverPid), selfCpu()]), measureFrom - now())
  setTimeout(() => edges.push([procUsage(serverPid), selfCpu()]), stopAt - now())
  const results = await Promise.all(done)

  const latencies = results.flatMap(r => r.latencies).sort((a, b) => a - b)
  const lags = results.flatMap(r => r.lags).sort((a, b) => a - b)
  let sentInWindow = 0
  for (const t of sent) if (t >= measureFrom && t < stopAt) sentInWindow += 1
  const expected = sentInWindow * (DEVICES - 1)
  const pct = p => {
    // Undelivered changes count as infinitely late.
    if (expected === 0) return null
    const i = Math.min(expected - 1, Math.round((expected - 1) * p))
    return i < latencies.length ? latencies[i] : null
  }
  const nominal = docs * DEVICES * RATE_HZ * secs
  const [[s0, c0], [s1, c1]] = edges
  const p99 = pct(0.99)
  const row = {
    documents: docs,
    devices: docs * DEVICES,
    p50_ms: pct(0.5),
    p99_ms: p99,
    max_ms: latencies.length ? latencies[latencies.length - 1] : null,
    p99_undelivered: p99 === null && expected > 0,
    deliveries: latencies.length,
    expected_deliveries: expected,
    delivered_fraction: expected ? latencies.length / expected : 0,
    sent_fraction_of_nominal: sentInWindow / nominal,
    send_lag_p99_ms: lags.length ? lags[Math.floor((lags.length - 1) * 0.99)] : null,
    server_cpu_percent: ((s1.cpu - s0.cpu) / secs) * 100,
    server_rss_mib: s1.rssKib / 1024,
    generator_cpu_percent: ((c1 - c0) / secs) * 100,
    generator_rss_mib: procUsage(process.pid).rssKib / 1024,
    generator_loop_delay_p99_ms: Math.max(...results.map(r => r.loopDelayP99)),
    generator_loop_delay_max_ms: Math.max(...results.map(r => r.loopDelayMax)),
  }
  console.log(`RESULT ${JSON.stringify(row)}`)
  await sleep(200)
  process.exit(0)
}

if (isMainThread) {
  main().catch(e => {
    console.error(e)
    process.exit(1)
  })
} else {
  device().catch(e => {
    console.error(e)
    process.exit(1)
  })
}
