// `connectWebSocket`: keeps a repo in sync with a relay (`polyarch-relay serve`, path `/sync`)
// over WebSocket, reconnecting with exponential backoff and jitter.
//
// Every connection is a new `SyncSession`; its hello carries the cursor the repo stored for the
// relay, so a reconnect resumes where the last connection stopped (only what changed since is
// sent, both ways). Going offline and online is a reconnect: `online` events (browsers) retry
// at once.
import { SyncSession } from './common.js';

/**
 * Connects `repo` to the relay at `url` (`ws://host:port/sync`). Options: `token` (an access
 * token from `polyarch-relay token mint`), `WebSocket` (a constructor, for Node < 22),
 * `minDelayMs`/`maxDelayMs` (backoff bounds), `onStatus(status)`, `onReceive()` (after frames
 * were applied: call `poll` on your other sessions), `onError(error)`.
 *
 * What the relay refuses reaches `onError` as an `Error` with a `code` (see
 * `SyncSession.takeRefusals`): a refused token (`REFUSED_UNAUTHORIZED`, `REFUSED_EXPIRED`) stops
 * the connection for good (status `"refused"`: retrying would not help; connect again with
 * another token); a refused write (`REFUSED_FORBIDDEN`, with `doc`) leaves it running.
 */
export function connectWebSocket(repo, url, options = {}) {
  return new WebSocketConnection(repo, url, options);
}

/** A relay connection; see `connectWebSocket`. */
export class WebSocketConnection {
  #repo;
  #url;
  #options;
  #WS;
  #socket = null;
  #session = null;
  #delay;
  #timer = null;
  #closed = false;
  #status = 'connecting';
  #peer = null;
  #attempts = 0;
  #onOnline = () => this.#retryNow();

  constructor(repo, url, options) {
    this.#repo = repo;
    this.#url = url;
    this.#options = options;
    this.#WS = options.WebSocket === undefined ? globalThis.WebSocket : options.WebSocket;
    if (typeof this.#WS !== 'function') {
      const e = new Error('no WebSocket here: pass `WebSocket` in the options (Node < 22: the `ws` package)');
      e.name = 'PolyarchError';
      e.code = 'INVALID_ARGUMENT';
      throw e;
    }
    this.#delay = options.minDelayMs ?? 250;
    globalThis.addEventListener?.('online', this.#onOnline);
    this.#open();
  }

  /**
   * `"connecting"`, `"handshaking"`, `"catching-up"`, `"in-sync"`, `"offline"` (waiting to
   * retry), `"refused"` (the relay refused the token: stopped) or `"closed"`.
   */
  get status() {
    return this.#status;
  }

  /** The relay's device id, once it said hello (stays known across reconnects). */
  get peer() {
    return this.#peer;
  }

  /** Connection attempts so far. */
  get attempts() {
    return this.#attempts;
  }

  /** Sends local changes (and changes from other sessions) made since the last call. */
  poll() {
    if (!this.#session || this.#socket?.readyState !== 1) return;
    try {
      this.#send(this.#session.poll());
    } catch (e) {
      this.#error(e);
      this.#socket.close();
    }
  }

  /** Stops for good. */
  close() {
    this.#stop('closed');
  }

  #stop(status) {
    if (this.#closed) return;
    this.#closed = true;
    globalThis.removeEventListener?.('online', this.#onOnline);
    clearTimeout(this.#timer);
    this.#socket?.close();
    this.#drop();
    this.#setStatus(status);
  }

  #open() {
    if (this.#closed) return;
    this.#attempts++;
    this.#setStatus('connecting');
    let socket;
    try {
      socket = new this.#WS(this.#url);
    } catch (e) {
      this.#error(e);
      this.#retryLater();
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    socket.onopen = () => {
      if (this.#socket !== socket) return;
      this.#session = new SyncSession(this.#repo, { token: this.#options.token });
      try {
        this.#send(this.#session.start());
      } catch (e) {
        this.#error(e);
        socket.close();
        return;
      }
      this.#setStatus(this.#session.state);
    };
    socket.onmessage = (event) => {
      if (this.#socket !== socket || !this.#session) return;
      if (!(event.data instanceof ArrayBuffer)) return;
      try {
        this.#send(this.#session.receive(new Uint8Array(event.data)));
      } catch (e) {
        this.#error(e);
        socket.close();
        return;
      }
      for (const refusal of this.#session.takeRefusals()) {
        this.#error(refusal);
        if (refusal.code === 'REFUSED_UNAUTHORIZED' || refusal.code === 'REFUSED_EXPIRED') {
          this.#stop('refused');
          return;
        }
      }
      this.#peer = this.#session.peer ?? this.#peer;
      const state = this.#session.state;
      if (state === 'in-sync') this.#delay = this.#options.minDelayMs ?? 250;
      this.#setStatus(state);
      try {
        this.#options.onReceive?.();
      } catch (e) {
        this.#error(e);
      }
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#drop();
      this.#retryLater();
    };
  }

  #send(frames) {
    for (const frame of frames) this.#socket.send(frame);
  }

  #drop() {
    this.#session?.free();
    this.#session = null;
    this.#socket = null;
  }

  #retryLater() {
    if (this.#closed) return;
    this.#setStatus('offline');
    const max = this.#options.maxDelayMs ?? 30_000;
    const wait = this.#delay / 2 + Math.random() * (this.#delay / 2);
    this.#delay = Math.min(this.#delay * 2, max);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#open(), wait);
  }

  #retryNow() {
    if (this.#closed || this.#socket) return;
    clearTimeout(this.#timer);
    this.#open();
  }

  #setStatus(status) {
    if (status === this.#status) return;
    this.#status = status;
    try {
      this.#options.onStatus?.(status);
    } catch (e) {
      this.#error(e);
    }
  }

  #error(e) {
    try {
      if (this.#options.onError) this.#options.onError(e);
      else console.error('polyarch: relay connection:', e);
    } catch {
      // A throwing error handler must not stop the connection.
    }
  }
}
