// automerge-repo's sync server, as its reference server sets it up (a Repo with the Node
// WebSocket server adapter, Node filesystem storage, a storage-server peer id and a share
// policy that announces nothing), on the port and directory given.
//
//   node server.mjs PORT DIR
//
// Prints "listening PORT" once it accepts connections. The sync throttle can be changed with
// AMRG_SYNC_DEBOUNCE_MS through the loader hook in throttle-hook.mjs (see README).
import { Repo } from "@automerge/automerge-repo"
import { NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { WebSocketServer } from "ws"

const port = Number(process.argv[2] ?? 3030)
const dir = process.argv[3] ?? ".amrg"

const wss = new WebSocketServer({ host: "127.0.0.1", port })
// eslint-disable-next-line no-unused-vars
const repo = new Repo({
  network: [new NodeWSServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dir),
  peerId: `storage-server-bench`,
  sharePolicy: async () => false,
})
wss.on("listening", () => console.log(`listening ${port}`))
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, async () => {
    await repo.shutdown().catch(() => {})
    process.exit(0)
  })
}
