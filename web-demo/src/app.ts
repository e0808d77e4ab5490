// The calendar's state and actions: one device's replica (a `BrowserRepo` named after the
// device), the week shown, the relay switch, and how far each change made here has travelled.
import type { BrowserRepo, BrowserSyncStatus, Receipt } from 'polyarch';
import { addWeeks, weekOf, type Week } from './dates';
import { readWeek, weekDoc, type CalEvent } from './model';
import { doubleBookings } from './bookings';
import { DEVICES_DOC, alreadyNoted, noteOf, peerLags, writeNote, type PeerLag } from './peers';

/** How far an event's latest change made on this device has travelled. */
export type Durability = 'saving' | 'device' | 'relay';

/** What `/config.json` hands the page (see `server.mjs`). */
export interface DemoConfig {
  /** The relay's WebSocket path on this origin. */
  readonly relayPath: string;
  /** An access token for it. */
  readonly token: string;
}

/** One device's calendar. */
export class App {
  readonly repo: BrowserRepo;
  /** The device's letter: `a` unless the page was opened with `?device=b`. */
  readonly device: string;
  readonly config: DemoConfig | null;
  week: Week;
  /** Events of the week shown, and the double bookings among them. */
  events: CalEvent[] = [];
  clashes = new Map<string, string[]>();
  readonly durability = new Map<string, Durability>();
  #listeners = new Set<() => void>();
  #statusListeners = new Set<() => void>();
  #seq = 0;
  #latest = new Map<string, number>();
  /** The timer of the next note (see `#noteSoon`). */
  #noteTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(repo: BrowserRepo, device: string, config: DemoConfig | null, week: Week = weekOf(new Date())) {
    this.repo = repo;
    this.device = device;
    this.config = config;
    this.week = week;
    this.refresh();
    // The views reread what they show: no patches needed (they would cost most of applying
    // what other devices send).
    repo.subscribe(
      null,
      (event) => {
        if (event.doc === this.doc) this.refresh();
        if (event.doc === DEVICES_DOC) this.#emitStatus();
        else this.#noteSoon();
      },
      { patches: false },
    );
    repo.onStatus(() => this.#emitStatus());
    if (this.online) this.#connect();
    this.#noteSoon();
  }

  /** The other devices, and what each lacks of the week shown (see `peers.ts`). */
  get peers(): PeerLag[] {
    return peerLags(this.repo, this.device, this.doc);
  }

  /**
   * Notes what this device holds of its weeks in the devices document, half a second after
   * they last changed (a burst of changes makes one note), and only if it differs from the
   * note stored there (so a reload that changed nothing writes nothing).
   */
  #noteSoon(): void {
    if (this.#noteTimer !== null) clearTimeout(this.#noteTimer);
    this.#noteTimer = setTimeout(() => {
      this.#noteTimer = null;
      const weeks = this.repo.docIds().filter((d) => d.startsWith('week-'));
      const note = noteOf(this.repo, weeks);
      if (!alreadyNoted(this.repo, this.device, note)) writeNote(this.repo, this.device, note);
    }, 500);
  }

  /** The document of the week shown. */
  get doc(): string {
    return weekDoc(this.week);
  }

  get status(): BrowserSyncStatus {
    return this.repo.syncStatus;
  }

  /** Whether this device syncs with the relay (kept per device across reloads). */
  get online(): boolean {
    return this.config !== null && localStorage.getItem(this.#onlineKey) !== 'off';
  }

  set online(on: boolean) {
    localStorage.setItem(this.#onlineKey, on ? 'on' : 'off');
    if (on) this.#connect();
    else this.repo.disconnect();
    this.#emitStatus();
  }

  get #onlineKey(): string {
    return `polyarch-calendar:${this.device}:online`;
  }

  #connect(): void {
    if (!this.config) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    this.repo.connect(`${scheme}://${location.host}${this.config.relayPath}`, {
      token: this.config.token,
      minDelayMs: 200,
      maxDelayMs: 5_000,
    });
  }

  /** Shows the week `delta` weeks away (0: this week). */
  go(delta: number): void {
    this.week = delta === 0 ? weekOf(new Date()) : addWeeks(this.week, delta);
    this.refresh();
    // The page holds the weeks it has shown; the database brings this one in.
    const doc = this.doc;
    this.repo.follow([doc]).then(() => doc === this.doc && this.refresh(), () => {});
  }

  /** Rereads the week shown. */
  refresh(): void {
    this.events = readWeek(this.repo, this.doc);
    this.clashes = doubleBookings(this.events);
    this.#emit();
  }

  /** Follows a change to event `id` until it is on this device's disk, then on the relay. */
  track(id: string, receipt: Receipt | null): void {
    if (!receipt) return;
    const seq = ++this.#seq;
    this.#latest.set(id, seq);
    const set = (state: Durability) => {
      if (this.#latest.get(id) !== seq) return; // a later change of the event is followed instead
      this.durability.set(id, state);
      this.#emit();
    };
    set('saving');
    this.repo
      .stored(receipt)
      .then(() => {
        set('device');
        return this.repo.relayStored(receipt);
      })
      .then(() => set('relay'))
      .catch(() => {});
  }

  /** Calls `listener` after the events shown (or their badges) changed; returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `listener` when the device's sync status changes; returns an unsubscribe function. */
  onStatus(listener: () => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  #emit(): void {
    for (const listener of this.#listeners) listener();
  }

  #emitStatus(): void {
    for (const listener of this.#statusListeners) listener();
  }
}
