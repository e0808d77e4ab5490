// The calendar's entry point: opens this device's replica, connects it to the relay the
// server names in `/config.json`, and renders the week.
import './style.css';
import { openBrowserRepo } from 'polyarch';
import { App, type DemoConfig } from './app';
import { weekDoc } from './model';
import { DEVICES_DOC } from './peers';
import { h, mount } from './dom';
import { at, days, isoDate, monthName, parseWeekKey, weekKey, weekOf } from './dates';
import { Editor } from './editor';
import { statusPanel } from './status';
import { renderWeek } from './week';

declare global {
  interface Window {
    /** The running app, for the end-to-end tests and the console. */
    calendar?: App;
  }
}

async function config(): Promise<DemoConfig | null> {
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    return res.ok ? ((await res.json()) as DemoConfig) : null;
  } catch {
    return null;
  }
}

function weekLabel(app: App): string {
  const [first, last] = [days(app.week)[0]!, days(app.week)[6]!];
  const range = first.getMonth() === last.getMonth()
    ? `${monthName(first)} ${first.getDate()} – ${last.getDate()}`
    : `${monthName(first)} ${first.getDate()} – ${monthName(last)} ${last.getDate()}`;
  return `${range}, ${last.getFullYear()}`;
}

/** Today if the week shown is this week, else that week's Monday. */
function defaultDay(app: App): string {
  const today = new Date();
  return weekKey(weekOf(today)) === weekKey(app.week) ? isoDate(today) : isoDate(days(app.week)[0]!);
}

async function main(): Promise<void> {
  performance.mark('calendar:script-run');
  const params = new URLSearchParams(location.search);
  const device = /^[a-z]$/.test(params.get('device') ?? '') ? params.get('device')! : 'a';
  document.title = `Calendar · Device ${device.toUpperCase()}`;
  const week = parseWeekKey(location.hash.slice(1)) ?? weekOf(new Date());
  // Only the week shown (and the devices' notes) come into the page: opening costs one week,
  // however many the device holds.
  const [repo, cfg] = await Promise.all([
    openBrowserRepo({ name: `calendar-${device}`, label: `device ${device}`, docs: [weekDoc(week), DEVICES_DOC], onError: (e) => console.warn('polyarch:', e) }),
    config(),
  ]);
  performance.mark('calendar:repo-open');
  const app = new App(repo, device, cfg, week);
  window.calendar = app;
  const editor = new Editor(app);

  const title = h('div', { class: 'week-title' });
  const grid = h('main', { class: 'week' });
  const panel = h('aside', { class: 'panel' });
  const shell = h(
    'div',
    { class: 'shell' },
    h(
      'header',
      { class: 'top' },
      h('div', { class: 'brand' }, h('span', { class: 'logo' }, '◆'), 'Team Calendar', h('span', { class: 'by' }, 'on Polyarch')),
      h(
        'nav',
        {},
        h('button', { class: 'ghost', title: 'Previous week', onclick: () => app.go(-1) }, '‹'),
        h('button', { class: 'ghost', onclick: () => app.go(0) }, 'Today'),
        h('button', { class: 'ghost', title: 'Next week', onclick: () => app.go(1) }, '›'),
        title,
      ),
      h('button', { class: 'primary new-event', onclick: () => editor.create(at(defaultDay(app), 10 * 60)) }, '+ New event'),
    ),
    h('div', { class: 'content' }, grid, panel),
  );
  mount(document.getElementById('app')!, shell);
  const updateStatus = statusPanel(panel, app);

  const render = () => {
    mount(title, h('strong', {}, weekLabel(app)), h('span', { class: 'muted' }, ` · Week ${app.week.week}`));
    history.replaceState(null, '', `${location.search}#${weekKey(app.week)}`);
    renderWeek(grid, app, { open: (e) => editor.open(e), create: (start) => editor.create(start) });
    updateStatus();
  };
  let queued = false;
  app.onChange(() => {
    if (queued) return;
    queued = true;
    // A microtask, not an animation frame: frames are not drawn for a tab in the background,
    // and a device's tab must show what reached it even then.
    queueMicrotask(() => {
      queued = false;
      render();
    });
  });
  app.onStatus(updateStatus);
  render();
  // "Last contact" counts up.
  setInterval(updateStatus, 1000);
  document.body.dataset.ready = 'true';
  performance.mark('calendar:week-shown');
}

main().catch((e) => {
  console.error(e);
  mount(document.getElementById('app')!, h('div', { class: 'fatal' }, h('h2', {}, 'The calendar could not start'), h('pre', {}, String(e?.message ?? e))));
});
