// The device panel: which device this is, its online switch, and where its replica stands
// with the relay (connection, changes waiting to reach it, last contact).
import { h, mount } from './dom';
import type { App } from './app';

const RELAY_TEXT: Record<string, string> = {
  none: 'Offline (switched off)',
  connecting: 'Connecting…',
  handshaking: 'Connecting…',
  'catching-up': 'Catching up…',
  'in-sync': 'Connected, in sync',
  offline: 'Relay unreachable: retrying',
  closed: 'Offline (switched off)',
};

/** "just now", "12 s ago", "3 min ago". */
export function ago(ms: number | null, now = Date.now()): string {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return new Date(ms).toLocaleString();
}

/** The next device letter, for the "open as another device" link. */
function nextDevice(device: string): string {
  const code = device.charCodeAt(0);
  return code >= 97 && code < 122 ? String.fromCharCode(code + 1) : 'b';
}

/** Renders the panel of `app` into `root`. */
export function renderStatus(root: HTMLElement, app: App): void {
  const s = app.status;
  const relay = app.config ? s.relay : 'none';
  const tone = relay === 'in-sync' ? 'ok' : relay === 'none' || relay === 'closed' ? 'off' : 'busy';
  const waiting = s.relayUnacked;
  const other = new URL(location.href);
  other.searchParams.set('device', nextDevice(app.device));
  mount(
    root,
    h('h3', {}, 'This device'),
    h('div', { class: 'device' }, h('span', { class: `avatar d-${app.device}` }, app.device.toUpperCase()), h('div', {}, h('strong', {}, `Device ${app.device.toUpperCase()}`), h('small', {}, `${s.role === 'owner' ? 'holds the database' : 'tab of this device'} · ${app.repo.deviceId.slice(0, 8)}`))),
    app.config
      ? h(
          'label',
          { class: 'switch' },
          h('input', { type: 'checkbox', name: 'online', checked: app.online, onchange: (e: Event) => (app.online = (e.target as HTMLInputElement).checked) }),
          h('span', { class: 'track' }),
          app.online ? 'Online' : 'Offline',
        )
      : h('p', { class: 'muted' }, 'No relay configured: this device works alone.'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Relay'),
      h('dd', { class: `relay ${tone}`, dataset: { relay } }, h('span', { class: 'dot' }), RELAY_TEXT[relay] ?? relay),
      h('dt', {}, 'Waiting for the relay'),
      h('dd', { dataset: { unacked: waiting ?? '' } }, waiting === null ? '—' : waiting === 0 ? 'nothing: the relay has every change' : `${waiting} change${waiting === 1 ? '' : 's'}`),
      h('dt', {}, 'Last contact'),
      h('dd', { class: 'last-contact' }, ago(s.relayLastContactMs)),
      h('dt', {}, 'This tab ↔ device database'),
      h('dd', {}, s.state === 'in-sync' ? 'in sync' : s.state),
    ),
    h('h3', {}, 'More devices'),
    h('p', { class: 'muted' }, 'Each device has its own replica (its own SQLite on OPFS) and identity. Tabs of one device share its replica.'),
    h('a', { class: 'button', href: other.href, target: '_blank', rel: 'opener' }, `Open as Device ${nextDevice(app.device).toUpperCase()}`),
    h('a', { class: 'button ghost', href: location.href, target: '_blank' }, 'Open another tab of this device'),
  );
}
