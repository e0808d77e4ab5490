// Types for humans: the `polyarch` package's public API.

/** A path inside a document: a map key, or map keys and list indexes from the root. */
export type Path = string | ReadonlyArray<string | number>;

/** A scalar: what registers and lists hold. Integers stay integers; a Date is a timestamp. */
export type Scalar = string | number | boolean | null | Uint8Array | Date;

/** A register holding concurrent values (see `Repo.conflicts`). */
export interface Conflict {
  /** Map keys and list indexes from the document's root. */
  readonly path: Array<string | number>;
  /** Every concurrent value, the winner first. */
  readonly values: Scalar[];
}

/**
 * Proof that a local change was made; `offset` is its place in this replica's log once
 * committed. Under group commit, typing gathered into one change (see the README) shares that
 * change's `seq`, and its `hash` is `null` until the change is made: at the next read, write,
 * sync or flush, or when its batch is due.
 */
export interface Receipt {
  readonly doc: string;
  readonly hash: string | null;
  readonly seq: number;
  readonly offset: number | null;
}

/** How far a change has travelled. */
export interface ReceiptStatus {
  /** Committed to this device's SQLite. */
  readonly onDisk: boolean;
  /** Peers (device ids, hex) that acknowledged holding it, the relay among them. */
  readonly ackedBy: string[];
}

/** One path's change inside an event. */
export interface Patch {
  readonly path: Array<string | number>;
  readonly action: unknown;
}

/** What changed in one document; delivered after a commit or an import, never mid-change. */
export interface DocEvent {
  readonly doc: string;
  readonly origin: 'Local' | { Remote: { peer: string } };
  readonly patches: Patch[];
}

export interface OpenOptions {
  /** The replica's name (the database file's name with OPFS). Default "polyarch". */
  name?: string;
  /** "memory" (default) or "opfs" (browsers, in a dedicated Worker only). */
  storage?: 'memory' | 'opfs';
  /** A label peers see ("laptop", "relay"). */
  label?: string;
  /** Called with whatever a subscriber throws; default `console.error`. */
  onError?: (error: unknown) => void;
  /**
   * When a change is durable. "immediate" (default): committed before `change` returns.
   * "group": changes made close together commit together (up to 1,024 changes or 10 ms), much
   * cheaper per change; or `{ maxChanges, maxDelayMs }`. Under group commit a receipt's
   * `offset` is `null` until its batch commits: a timer commits a batch once its oldest change
   * has waited `maxDelayMs`, and `flush()` commits at once and returns the receipts.
   * Consecutive changes that only splice one text (typing) are gathered into one change.
   */
  durability?: 'immediate' | 'group' | { maxChanges?: number; maxDelayMs?: number };
  /**
   * Opens a copy of this image, in memory, as a new device: bytes from `exportImage`, here or
   * on another host, or a replica file the native library wrote (and closed), read as bytes.
   * Bytes that are not an image fail with `STORE_NOT_AN_IMAGE`; with `storage: "opfs"`,
   * `INVALID_ARGUMENT`.
   */
  image?: Uint8Array;
  /**
   * With `actor`: a leased identity for an in-memory replica (a browser tab slot's), as 32
   * hex digits. The replica presents this device id to its peers.
   */
  device?: string;
  /**
   * With `device`: the leased actor (2 to 128 hex digits). The replica writes as it only in
   * documents passed to `claimActor`, as its own new actor elsewhere. Another storage or an
   * `image` fails with `INVALID_LEASE`.
   */
  actor?: string;
}

/** Options of `Repo.maintain`. */
export interface MaintainOptions {
  /** Also compact documents that are not loaded (each is loaded for it): slower, once. */
  all?: boolean;
}

/** Stable codes of `PolyarchError`: the bindings' own, then `<LAYER>_<VARIANT>` from the core. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'REPO_BUSY'
  | 'STORAGE_UNAVAILABLE'
  | 'CLOSED'
  | 'INVALID_LEASE'
  | 'NO_SUCH_DOC'
  | 'ID_DOC_ID'
  | 'MODEL_TYPE_MISMATCH'
  | 'MODEL_NO_SUCH_PATH'
  | 'MODEL_INDEX_OUT_OF_RANGE'
  | 'MODEL_INVALID_CURSOR'
  | 'STORE_BUSY'
  | 'STORE_DISK_FULL'
  | 'STORE_CANNOT_OPEN'
  | 'STORE_NOT_AN_IMAGE'
  | 'SYNC_WIRE'
  | 'SYNC_PROTOCOL'
  | 'SYNC_INCOMPATIBLE'
  | 'REFUSED_UNAUTHORIZED'
  | 'REFUSED_EXPIRED'
  | 'REFUSED_FORBIDDEN'
  | 'REFUSED_BAD_REQUEST'
  | 'REFUSED_UNAVAILABLE'
  | 'WRITE_REFUSED'
  | (string & {});

/** Every error Polyarch throws is an `Error` with this shape. */
export interface PolyarchError extends Error {
  readonly name: 'PolyarchError';
  readonly code: ErrorCode;
}

/** Whether `e` was thrown by Polyarch. */
export function isPolyarchError(e: unknown): e is PolyarchError;

/** One device's replica of a set of documents. Reads and writes are synchronous. */
export class Repo {
  private constructor();
  /** Opens a replica. */
  static open(options?: OpenOptions): Promise<Repo>;
  /** This device's id (hex). */
  readonly deviceId: string;
  /**
   * Writes as the leased actor (`Repo.open({ device, actor })`) in `docs` from now on (every
   * document with null). Only once this replica holds every change that actor ever made to
   * them (a completed sync, since the lease was taken, with a replica that holds them all):
   * else the actor's sequence numbers are reused and the documents corrupted.
   */
  claimActor(docs: string[] | null): void;
  /** The actors that wrote the document, each with its highest sequence number. */
  actors(doc: string): Record<string, number>;
  /** The ids of every document. */
  docIds(): string[];
  /** Creates an empty document; returns whether it was new. */
  create(doc: string): boolean;
  /** Whether the document exists. */
  has(doc: string): boolean;
  /**
   * One atomic change: the callback records operations on `tx`; they land together when it
   * returns, or not at all if it throws. Returns the receipt, or null if nothing changed.
   */
  change(doc: string, callback: (tx: Transaction) => void): Receipt | null;
  /** The document as plain JS values. */
  toJSON(doc: string): Record<string, unknown>;
  /**
   * Every register of the document holding concurrent values (writes made on several devices
   * at once), anywhere in it: its path and every value, the winner (what `register(...).value`
   * reads) first. Setting the register resolves its conflict.
   */
  conflicts(doc: string): Conflict[];
  /**
   * `toJSON(doc)` and `conflicts(doc)` together, read in one walk over the document instead
   * of two: for a view that shows values and flags their conflicts.
   */
  toJSONWithConflicts(doc: string): { json: Record<string, unknown>; conflicts: Conflict[] };
  register(doc: string, path: Path): RegisterHandle;
  counter(doc: string, path: Path): CounterHandle;
  set(doc: string, path: Path): SetHandle;
  text(doc: string, path: Path): TextHandle;
  map(doc: string, path: Path): MapHandle;
  list(doc: string, path: Path): ListHandle;
  /**
   * Calls `listener` after each change to `doc` (every document with null), local or remote.
   * Returns an unsubscribe function. With `{ patches: false }` the events carry no patches and
   * none are computed for this listener (most of the cost of applying remote changes): for a
   * view that rereads what it shows.
   */
  subscribe(doc: string | null, listener: (event: DocEvent) => void, options?: { patches?: boolean }): () => void;
  /** Commits changes waiting for a group commit; returns their receipts. */
  flush(): Receipt[];
  /**
   * On disk, and which peers acknowledged it. A receipt with `offset: null` (made before its
   * group commit) shows on disk once its batch has committed.
   */
  receiptStatus(receipt: Receipt): ReceiptStatus;
  /** A version token to carry to another replica's `hasCaughtUp`. */
  version(doc: string): string;
  hasCaughtUp(doc: string, token: string): boolean;
  /** Device, epoch, log head, peers and their lag. */
  status(): {
    device: string;
    epoch: string;
    actor: string;
    log_head: number;
    documents: number;
    unflushed: number;
    pending: number;
    peers: Array<{ peer: string; label: string; acked: number; unacked: number; last_contact_ms: number }>;
  };
  /**
   * Folds the document's history (one logged change per edit) into one compact snapshot, so
   * that opening the document, here or in a replica made from `exportImage`, reads the
   * snapshot instead of replaying every change. Nothing is lost: a peer that had not received
   * some of those changes is sent the snapshot. Throws `NO_SUCH_DOC` for a document not here.
   * `maintain` does this for you where it pays.
   */
  compact(doc: string): void;
  /**
   * Compacts every loaded document whose history is long (at least 1,000 logged changes, and
   * more bytes than its snapshot), after committing waiting changes; returns how many it
   * compacted. Cheap when there is nothing to do: call it when your app is idle (`close` does
   * it too). With `{ all: true }` it also compacts documents not loaded, loading each one
   * (replaying its history) and dropping it after: worth it once after opening a database
   * that was not closed cleanly.
   */
  maintain(options?: MaintainOptions): number;
  /**
   * The whole replica as bytes (its SQLite database, in the format of every host): a backup,
   * or a way to move it. `Repo.open({ image })` opens it here; the native library opens it
   * with `Repo::from_image`, or as a replica file once written to disk. Long histories are
   * compacted first (`maintain({ all: true })`), so the image is about as small as the
   * documents themselves and opens without replaying their history.
   */
  exportImage(): Uint8Array;
  /** Commits waiting changes, compacts long histories (`maintain`) and closes the replica; later calls throw `CLOSED`. */
  close(): void;
  free(): void;
}

/** What a `repo.change` callback records. */
export class Transaction {
  private constructor();
  setRegister(path: Path, value: Scalar): void;
  increment(path: Path, by?: number): void;
  addToSet(path: Path, member: string): void;
  removeFromSet(path: Path, member: string): void;
  splice(path: Path, pos: number, del: number, insert: string): void;
  updateText(path: Path, text: string): void;
  createMap(path: Path): void;
  deleteKey(path: Path, key: string): void;
  push(path: Path, value: Scalar): void;
  insert(path: Path, index: number, value: Scalar): void;
  setIndex(path: Path, index: number, value: Scalar): void;
  deleteIndex(path: Path, index: number): void;
}

/** A register: concurrent writes are all kept in `conflicts`; `set` resolves. */
export class RegisterHandle {
  private constructor();
  readonly value: Scalar | undefined;
  readonly conflicts: Scalar[];
  set(value: Scalar): Receipt | null;
  free(): void;
}

/** A counter: concurrent increments add up. */
export class CounterHandle {
  private constructor();
  readonly value: number;
  increment(by?: number): Receipt | null;
  free(): void;
}

/** An add-wins set of strings. */
export class SetHandle {
  private constructor();
  readonly members: string[];
  readonly size: number;
  has(member: string): boolean;
  add(member: string): Receipt | null;
  delete(member: string): Receipt | null;
  free(): void;
}

/** Collaborative text; positions are UTF-16 code units, like JS strings. */
export class TextHandle {
  private constructor();
  toString(): string;
  readonly length: number;
  splice(pos: number, del: number, insert: string): Receipt | null;
  update(text: string): Receipt | null;
  cursor(pos: number): string;
  cursorPosition(cursor: string): number;
  free(): void;
}

/** A map; reach its values through handles at longer paths. */
export class MapHandle {
  private constructor();
  readonly keys: string[];
  readonly size: number;
  has(key: string): boolean;
  create(): Receipt | null;
  delete(key: string): Receipt | null;
  free(): void;
}

/** A list of scalars. */
export class ListHandle {
  private constructor();
  readonly values: Scalar[];
  readonly length: number;
  get(index: number): Scalar | undefined;
  push(value: Scalar): Receipt | null;
  insert(index: number, value: Scalar): Receipt | null;
  set(index: number, value: Scalar): Receipt | null;
  delete(index: number): Receipt | null;
  free(): void;
}

/** One connection's sync state: frames in, frames out; the transport is yours. */
export class SyncSession {
  /**
   * `docs`: receive only these documents (default: every document). `peer`: the peer's device
   * id, when known (a previous session's `peer`): the session resumes where the last one with
   * that peer ended, so that a reconnection takes one round trip.
   */
  constructor(repo: Repo, options?: { token?: string; docs?: string[]; peer?: string });
  /** The opening frames. */
  start(): Uint8Array[];
  /** Handles one frame from the peer; returns the frames to send back. */
  receive(frame: Uint8Array): Uint8Array[];
  /** Frames carrying local changes made since the last call. */
  poll(): Uint8Array[];
  readonly state: 'handshaking' | 'catching-up' | 'in-sync';
  readonly peer: string | undefined;
  readonly stats: { framesIn: number; framesOut: number; bytesIn: number; bytesOut: number; changesIn: number; changesOut: number };
  /**
   * What the other side refused since the last call: errors with `code` `REFUSED_UNAUTHORIZED`
   * or `REFUSED_EXPIRED` (a bad token: it closes the connection), `REFUSED_FORBIDDEN` (a
   * document this token may not write, named by `doc`; those changes stay in this repo only),
   * `REFUSED_BAD_REQUEST` or `REFUSED_UNAVAILABLE`.
   */
  takeRefusals(): Array<PolyarchError & { doc?: string }>;
  free(): void;
}

/** Runs two sessions against each other until both are quiet; returns the frames moved. */
export function syncLocally(a: SyncSession, b: SyncSession): number;

/** Options of `openBrowserRepo`. */
export interface BrowserRepoOptions {
  /**
   * The replica's name: the database on OPFS (in a pool of its own, so replicas of different
   * names open side by side in one origin) and the tabs that share it. Default "polyarch".
   */
  name?: string;
  /** A label peers see. Default "tab". */
  label?: string;
  /** Called with errors the page cannot throw to you (a failed sync frame, a throwing subscriber). */
  onError?: (error: unknown) => void;
  /** How long to wait for the first sync with the database's owner. Default 20 000 ms. */
  timeoutMs?: number;
  /**
   * Only these documents are brought into the page (opening is then as fast as they are
   * small, whatever the database holds); `follow` adds more. Default: every document.
   */
  docs?: string[];
  /**
   * Stored views: the page keeps what it last read of a document with `toJSONWithConflicts`
   * (in localStorage, once the database holds exactly that version), and the next page load
   * calls `onView(doc, view)` for each followed document whose stored view is still exactly
   * what the database holds, before `openBrowserRepo` resolves: an app can show it while its
   * replica loads. A view whose document changed since is never handed out.
   */
  onView?: (doc: string, view: { json: Record<string, unknown>; conflicts: Conflict[] }) => void;
}

/** How a page stands with the Worker that owns the database. */
export interface BrowserSyncStatus {
  /** "owner": this tab's Worker holds the database; "follower": another tab's does. */
  readonly role: 'starting' | 'owner' | 'follower';
  readonly connected: boolean;
  readonly state: 'disconnected' | 'handshaking' | 'catching-up' | 'in-sync';
  /** The database's device id, once known (what `stored` waits for). */
  readonly storedBy: string | null;
  /** The owner's relay connection: "none" until `connect` (and after `disconnect`), then a `RelayStatus`. */
  readonly relay: 'none' | RelayStatus;
  /**
   * Entries of the device's log the relay has not acknowledged yet (changes waiting to reach
   * it), once the relay is known; null before.
   */
  readonly relayUnacked: number | null;
  /** When the device last heard from the relay (ms since the Unix epoch), or null. */
  readonly relayLastContactMs: number | null;
}

/** A relay connection's state; "offline" means waiting to retry. */
export type RelayStatus = 'connecting' | 'handshaking' | 'catching-up' | 'in-sync' | 'offline' | 'refused' | 'closed';

/** Options of a relay connection. */
export interface RelayOptions {
  /** An access token (`polyarch-relay token mint`). */
  token?: string;
  /** The first retry delay; it doubles up to `maxDelayMs` (default 250 and 30 000 ms). */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** Options of `connectWebSocket`. */
export interface WebSocketOptions extends RelayOptions {
  /** A WebSocket constructor where there is no global one (Node < 22: the `ws` package). */
  WebSocket?: unknown;
  onStatus?: (status: RelayStatus) => void;
  /** Called after received frames were applied: poll your other sessions. */
  onReceive?: () => void;
  onError?: (error: unknown) => void;
}

/** A relay connection that reconnects with backoff and resumes from the stored cursor. */
export interface WebSocketConnection {
  readonly status: RelayStatus;
  /** The relay's device id, once it said hello. */
  readonly peer: string | null;
  readonly attempts: number;
  /** Sends the changes made since the last call (call after local changes). */
  poll(): void;
  close(): void;
}

/** Keeps `repo` in sync with the relay at `url` (`ws://host:port/sync`) over WebSocket. */
export function connectWebSocket(repo: Repo, url: string, options?: WebSocketOptions): WebSocketConnection;

/**
 * A page's replica in a browser: reads and writes are synchronous, on an in-memory view; a
 * dedicated Worker keeps the device's durable replica in SQLite on OPFS. One tab's Worker owns
 * the database at a time (Web Locks); the other tabs sync through it, and take over when it
 * closes.
 */
export interface BrowserRepo
  extends Pick<
    Repo,
    | 'docIds' | 'create' | 'has' | 'change' | 'toJSON' | 'conflicts' | 'toJSONWithConflicts' | 'register' | 'counter'
    | 'set' | 'text' | 'map' | 'list' | 'subscribe' | 'receiptStatus' | 'version' | 'hasCaughtUp' | 'status'
  > {
  readonly name: string;
  /** This page's device id: its tab slot's (see `slot`). */
  readonly deviceId: string;
  /**
   * The tab slot this page leased (0 for the first tab open, 1 for a second one at once, ...),
   * or null where the slot's identity cannot be kept (no localStorage).
   */
  readonly slot: number | null;
  /** The actors that wrote the document, each with its highest sequence number. */
  actors(doc: string): Record<string, number>;
  /** This page's in-memory replica, for `SyncSession`s of your own. */
  readonly local: Repo;
  readonly role: BrowserSyncStatus['role'];
  readonly syncStatus: BrowserSyncStatus;
  /**
   * Keeps this device's database in sync with a relay (`ws://host:port/sync`), through the
   * tab that owns it (and each later owner). Offline edits go out when it is reachable again.
   */
  connect(url: string, options?: RelayOptions): void;
  /**
   * Stops syncing this device with the relay (every tab of the device): it is offline until
   * `connect` is called again. Local edits and the sync between tabs go on.
   */
  disconnect(): void;
  /**
   * Follows more documents (for a repo opened with `docs`); resolves once they are in the
   * page. Writes to documents not followed still reach the database.
   */
  follow(docs: string[]): Promise<void>;
  /** Calls `listener` when the role, sync or relay state changes; returns an unsubscribe function. */
  onStatus(listener: (status: BrowserSyncStatus) => void): () => void;
  /** Resolves once the change is committed to this device's database ("stored on this device"). */
  stored(receipt: Receipt | null): Promise<void>;
  /**
   * Resolves once the relay acknowledged holding the change ("on the relay"): devices that are
   * never online at the same time as this one will get it. Waits across disconnections.
   * Rejects with `WRITE_REFUSED` when the relay refused the change's document (the token may
   * only read it): the change stays on this device.
   */
  relayStored(receipt: Receipt | null): Promise<void>;
  /** Resolves when the page and the database are in sync. */
  whenSynced(timeoutMs?: number): Promise<void>;
  /** Disconnects and stops this tab's Worker (another tab takes over the database). */
  close(): void;
}

/** The `BrowserRepo` class (browsers only; its constructor is internal). */
export const BrowserRepo: { prototype: BrowserRepo };

/**
 * Opens the browser replica `name`, persisted in SQLite on OPFS by a dedicated Worker, shared
 * by every tab of the origin. Resolves after the first sync with the database. Browsers only:
 * rejects with `STORAGE_UNAVAILABLE` in Node.
 */
export function openBrowserRepo(options?: BrowserRepoOptions): Promise<BrowserRepo>;
