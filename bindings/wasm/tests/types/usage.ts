// A typed usage example: `tsc --noEmit` checks it against the package's hand-written types.
import {
  Repo,
  SyncSession,
  syncLocally,
  isPolyarchError,
  connectWebSocket,
  type RelayStatus,
  type DocEvent,
  type Receipt,
  type Scalar,
  type Conflict,
} from 'polyarch';

export async function example(): Promise<string[]> {
  const laptop: Repo = await Repo.open({ name: 'laptop', storage: 'memory' });
  const phone = await Repo.open({ onError: (e) => console.warn(e) });

  const receipt: Receipt | null = laptop.change('cal', (tx) => {
    tx.setRegister(['events', 'e1', 'title'], 'Design review');
    tx.addToSet(['events', 'e1', 'attendees'], 'ada');
    tx.increment('rsvps');
    tx.splice('notes', 0, 0, 'agenda');
  });
  if (receipt) {
    const { onDisk } = laptop.receiptStatus(receipt);
    console.log(onDisk, receipt.offset);
  }

  const unsubscribe: () => void = phone.subscribe('cal', (event: DocEvent) => {
    console.log(event.doc, event.patches.length);
  });
  phone.subscribe(null, (event: DocEvent) => console.log(event.doc), { patches: false })();
  const moved: number = syncLocally(new SyncSession(laptop), new SyncSession(phone));
  unsubscribe();

  const title: Scalar | undefined = phone.register('cal', ['events', 'e1', 'title']).value;
  const conflicts: Scalar[] = phone.register('cal', ['events', 'e1', 'title']).conflicts;
  for (const c of phone.conflicts('cal')) {
    const where: Array<string | number> = c.path;
    const values: Scalar[] = c.values;
    console.log(where.join('/'), values);
  }
  const { json, conflicts: all }: { json: Record<string, unknown>; conflicts: Conflict[] } = phone.toJSONWithConflicts('cal');
  console.log(Object.keys(json), all.length);
  const count: number = phone.counter('cal', 'rsvps').value;
  const text: string = phone.text('cal', 'notes').toString();
  const first = new SyncSession(phone);
  const frames: Uint8Array[] = first.start();
  // Reconnecting to a peer met before: one round trip.
  const peer: string | undefined = first.peer;
  new SyncSession(phone, { peer, docs: ['cal'] }).free();
  console.log(title, conflicts, count, text, frames.length, moved);

  try {
    phone.register('missing', 'x').value;
  } catch (e) {
    if (isPolyarchError(e)) console.log(e.code);
  }
  return phone.set('cal', ['events', 'e1', 'attendees']).members;
}

/** Keeps a replica compact when the app is idle: long histories fold into snapshots. */
export function tidy(repo: Repo, afterOpening: boolean): number {
  repo.compact('cal');
  return afterOpening ? repo.maintain({ all: true }) : repo.maintain();
}

/** Moves a replica to a new device: its image opens as a copy that writes as a new actor. */
export async function copy(repo: Repo): Promise<Repo> {
  const image: Uint8Array = repo.exportImage();
  try {
    return await Repo.open({ image, label: 'copy' });
  } catch (e) {
    if (isPolyarchError(e) && e.code === 'STORE_NOT_AN_IMAGE') throw new Error('not an image');
    throw e;
  }
}

export function relay(repo: Repo): () => void {
  const conn = connectWebSocket(repo, 'ws://127.0.0.1:8080/sync', {
    token: 'secret-token',
    onStatus: (s: RelayStatus) => console.log(s),
  });
  const unsubscribe = repo.subscribe(null, () => conn.poll());
  return () => {
    unsubscribe();
    conn.close();
  };
}
