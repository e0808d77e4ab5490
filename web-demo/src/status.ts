// The device panel: which device this is, its online switch, where its replica stands with
// the relay (connection, changes waiting to reach it, last contact), and what the other
// devices lack of the week shown (the replication lag).
import { h, mount } from './dom';
import type { App } from './app';
import type { PeerLag } from './peers';

const RELAY_TEXT: Record<string, string> = {
  none: 'Offline (switched off)',
  connecting: 'Connecting…',
  handshaking: 'Connecting…',
  'catching-up': 'Catching up…',
  'in-sync': 'Connected, in sync',
  offline: 'Relay unreachable: retrying',
  refused: 'Refused by the relay: check the access token',
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

/** One other device's line: how it stands against this one on the week shown. */
function peerLine(p: PeerLag, now = Date.now()): HTMLElement {
  const name = `Device ${p.device.toUpperCase()}`;
  let state: string;
  let text: string;
  if (p.lacks === null || p.ahead === null) {
    [state, text] = ['unknown', 'has not opened this week'];
  } else if (p.lacks === 0 && p.ahead === 0) {
    [state, text] = ['ok', 'has every change of this week'];
  } else {
    const parts = [];
    if (p.lacks) parts.push(`lacks ${p.lacks} change${p.lacks === 1 ? '' : 's'} made here`);
    if (p.ahead) parts.push(`has ${p.ahead} not here yet`);
    [state, text] = ['behind', parts.join('; ')];
  }
  return h(
    'li',
    { class: `peer ${state}`, 'data-device': p.device, 'data-lacks': String(p.lacks ?? ''), 'data-ahead': String(p.ahead ?? '') },
    h('span', { class: `avatar small d-${p.device}` }, p.device.toUpperCase()),
    h('span', {}, h('strong', {}, name), ` ${text}`, h('small', { class: 'muted' }, ` · as of ${ago(p.at, now)}`)),
  );
}

/** The next device letter, for the "open as another device" link. */
function nextDevice(device: string): string {
  const code = device.charCodeAt(0);
  return code >= 97 && code < 122 ? String.fromCharCode(code + 1) : 'b';
}

/**
 * Builds the panel of `app` into `root` once and returns its update function, which changes
 * texts and states in place (the switch is never replaced under the pointer).
 */
export function statusPanel(root: HTMLElement, app: App): () => void {
  const other = new URL(location.href);
  other.searchParams.set('device', nextDevice(app.device));
  other.hash = '';
  const role = h('small');
  const toggle = h('input', { type: 'checkbox', name: 'online', onchange: (e: Event) => (app.online = (e.target as HTMLInputElement).checked) });
  const toggleText = h('span');
  const relay = h('dd', { class: 'relay' });
  const waiting = h('dd');
  const contact = h('dd', { class: 'last-contact' });
  const tab = h('dd');
  const peers = h('ul', { class: 'peers' });
  mount(
    root,
    h('h3', {}, 'This device'),
    h('div', { class: 'device' }, h('span', { class: `avatar d-${app.device}` }, app.device.toUpperCase()), h('div', {}, h('strong', {}, `Device ${app.device.toUpperCase()}`), role)),
    app.config
      ? h('label', { class: 'switch' }, toggle, h('span', { class: 'track' }), toggleText)
      : h('p', { class: 'muted' }, 'No relay configured: this device works alone.'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Relay'),
      relay,
      h('dt', {}, 'Waiting for the relay'),
      waiting,
      h('dt', {}, 'Last contact with the relay'),
      contact,
      h('dt', {}, 'This tab ↔ device database'),
      tab,
    ),
    h('h3', {}, 'Other devices'),
    peers,
    h('h3', {}, 'More devices'),
    h('p', { class: 'muted' }, 'Each device has its own replica (its own SQLite on OPFS) and identity. Tabs of one device share its replica.'),
    h('a', { class: 'button', href: other.href, target: '_blank', rel: 'opener' }, `Open as Device ${nextDevice(app.device).toUpperCase()}`),
    h('a', { class: 'button ghost', href: location.pathname + location.search, target: '_blank' }, 'Open another tab of this device'),
  );
  return () => {
    const s = app.status;
    const link = app.config ? s.relay : 'none';
    role.textContent = `${s.role === 'owner' ? 'this tab holds the database' : 'a tab of this device'} · ${app.repo.deviceId.slice(0, 8)}`;
    toggle.checked = app.online;
    toggleText.textContent = app.online ? 'Online' : 'Offline';
    relay.className = `relay ${link === 'in-sync' ? 'ok' : link === 'none' || link === 'closed' ? 'off' : 'busy'}`;
    relay.dataset.relay = link;
    mount(relay, h('span', { class: 'dot' }), app.config ? RELAY_TEXT[link] ?? link : 'None configured');
    const n = s.relayUnacked;
    waiting.dataset.unacked = String(n ?? '');
    waiting.textContent = n === null ? '—' : n === 0 ? 'nothing: the relay has every change' : `${n} change${n === 1 ? '' : 's'}`;
    contact.textContent = ago(s.relayLastContactMs);
    tab.textContent = s.state === 'in-sync' ? 'in sync' : s.state;
    const lags = app.peers;
    if (lags.length) mount(peers, ...lags.map((p) => peerLine(p)));
    else mount(peers, h('li', { class: 'muted' }, 'None seen yet: open this week as another device.'));
  };
}
