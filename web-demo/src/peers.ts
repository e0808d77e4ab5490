// What the other devices lack: the replication lag, device by device.
//
// Each device notes in a shared document, `devices`, what it holds of every week it has
// opened: per actor, the highest sequence number (a version vector, `repo.actors(doc)`).
// Comparing a peer's note with this device's own vector says how many changes of the week
// the peer lacks, and how many of its changes have not reached this device. A note travels
// like any change (through the relay, or later when offline), so it is as fresh as the
// peer's last sync, and says when it was written.
import type { BrowserRepo, Receipt } from 'polyarch';
import { compareText } from './dates';

/** The document every device notes what it holds in. */
export const DEVICES_DOC = 'devices';

/** What a device noted: when, and its version vector of each week document it holds. */
interface Note {
  readonly at: number;
  readonly docs: Record<string, Record<string, number>>;
}

/** Another device, and how it stands against this one on one week document. */
export interface PeerLag {
  readonly device: string;
  /** When it wrote its note (its clock, ms since the epoch). */
  readonly at: number;
  /** Changes to the week this device holds and the peer lacked; null if it never opened the week. */
  readonly lacks: number | null;
  /** Changes to the week the peer held that have not reached this device; null likewise. */
  readonly ahead: number | null;
}

/** Changes `a` holds that `b` lacks: per actor, how far `a`'s sequence number is past `b`'s. */
function beyond(a: Record<string, number>, b: Record<string, number>): number {
  let n = 0;
  for (const [actor, seq] of Object.entries(a)) n += Math.max(0, seq - (b[actor] ?? 0));
  return n;
}

/** What this replica holds of `docs`, as a note to write. */
export function noteOf(repo: BrowserRepo, docs: string[]): Note {
  return { at: Date.now(), docs: Object.fromEntries(docs.map((d) => [d, repo.actors(d)])) };
}

/** Writes `note` as `device`'s entry of the devices document. */
export function writeNote(repo: BrowserRepo, device: string, note: Note): Receipt | null {
  const json = JSON.stringify(note);
  return repo.change(DEVICES_DOC, (tx) => tx.setRegister(['seen', device], json));
}

/** Every device's last note that reached this replica, by device (unreadable ones left out). */
function notes(repo: BrowserRepo): Map<string, Note> {
  const out = new Map<string, Note>();
  if (!repo.has(DEVICES_DOC)) return out;
  const seen = (repo.toJSON(DEVICES_DOC).seen ?? {}) as Record<string, unknown>;
  for (const [device, json] of Object.entries(seen)) {
    if (typeof json !== 'string') continue;
    try {
      out.set(device, JSON.parse(json) as Note);
    } catch {
      // a note this version cannot read
    }
  }
  return out;
}

/** Whether `note` says what `device`'s stored note already says (its time aside). */
export function alreadyNoted(repo: BrowserRepo, device: string, note: Note): boolean {
  const stored = notes(repo).get(device);
  return stored !== undefined && JSON.stringify(stored.docs) === JSON.stringify(note.docs);
}

/** The other devices' lag on `doc`, as their last notes that reached this device say. */
export function peerLags(repo: BrowserRepo, self: string, doc: string): PeerLag[] {
  const ours = repo.has(doc) ? repo.actors(doc) : {};
  const lags: PeerLag[] = [];
  for (const [device, note] of notes(repo)) {
    if (device === self) continue;
    const theirs = note.docs?.[doc];
    lags.push({
      device,
      at: note.at,
      lacks: theirs ? beyond(ours, theirs) : null,
      ahead: theirs ? beyond(theirs, ours) : null,
    });
  }
  return lags.sort((x, y) => compareText(x.device, y.device));
}
