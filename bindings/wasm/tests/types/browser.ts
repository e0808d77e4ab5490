// Typed usage of the browser replica (checked by `tsc --noEmit`; it runs in the browser tests).
import { openBrowserRepo, type BrowserRepo, type BrowserSyncStatus } from 'polyarch';

export async function notes(): Promise<string> {
  const repo: BrowserRepo = await openBrowserRepo({ name: 'notes', onError: (e) => console.warn(e) });
  const stop = repo.onStatus((s: BrowserSyncStatus) => console.log(s.role, s.state));
  const receipt = repo.text('note-1', 'body').splice(0, 0, 'Hello');
  await repo.stored(receipt); // committed to SQLite on OPFS: survives a reload
  stop();
  const body = repo.text('note-1', 'body').toString();
  repo.close();
  return body;
}

export async function team(token: string): Promise<void> {
  const repo = await openBrowserRepo({ name: 'team' });
  repo.connect('wss://relay.example/sync', { token, maxDelayMs: 10_000 });
  repo.onStatus((s) => {
    if (s.relay === 'offline') console.log('offline: edits are kept and sent later');
  });
}

export async function offline(repo: BrowserRepo): Promise<number | null> {
  repo.disconnect();
  const receipt = repo.register('cal', 'title').set('Written offline');
  await repo.stored(receipt);
  repo.connect('wss://relay.example/sync');
  await repo.relayStored(receipt); // on the relay: other devices will get it
  const s: BrowserSyncStatus = repo.syncStatus;
  return s.relayUnacked ?? s.relayLastContactMs;
}

export async function oneWeek(): Promise<void> {
  const repo = await openBrowserRepo({ name: 'calendar', docs: ['week-2030-W10'] });
  await repo.follow(['week-2030-W11']); // the next week comes in when shown
}
