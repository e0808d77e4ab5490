// The calendar's entry point: opens this device's replica, connects it to the relay the
// server names in `/config.json`, and renders the week.
import './style.css';
import { openBrowserRepo, type Conflict } from 'polyarch';
import { App, type DemoConfig } from './app';
import { eventsOf, weekDoc, type CalEvent } from './model';
import { doubleBookings } from './bookings';
import { DEVICES_DOC } from './peers';
import { h, mount } from './dom';
import { at, days, isoDate, monthName, parseWeekKey, weekKey, weekOf, type Week } from './dates';
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

function weekLabel(week: Week): string {
  const [first, last] = [days(week)[0]!, days(week)[6]!];
  const range = first.getMonth() === last.getMonth()
    ? `${monthName(first)} ${first.getDate()} – ${last.getDate()}`
    : `${monthName(first)} ${first.getDate()} – ${monthName(last)} ${last.getDate()}`;
  return `${range}, ${last.getFullYear()}`;
}

/** Today if the week shown is this week, else that week's Monday. */
function defaultDay(week: Week): string {
  const today = new Date();
  return weekKey(weekOf(today)) === weekKey(week) ? isoDate(today) : isoDate(days(week)[0]!);
}

async function main(): Promise<void> {
  performance.mark('calendar:script-run');
  const params = new URLSearchParams(location.search);
  const device = /^[a-z]$/.test(params.get('device') ?? '') ? params.get('device')! : 'a';
  document.title = `Calendar · Device ${device.toUpperCase()}`;
  const week = parseWeekKey(location.hash.slice(1)) ?? weekOf(new Date());
  // The shell comes first; its buttons act once the app runs (a click while the stored view
  // of the week is shown waits for it).
  let run: (running: { app: App; editor: Editor }) => void = () => {};
  const running = new Promise<{ app: App; editor: Editor }>((resolve) => (run = resolve));
  const later = (act: (running: { app: App; editor: Editor }) => void) => () => void running.then(act);
  const actions = {
    open: (e: CalEvent) =>
      void running.then(({ app, editor }) => {
        const current = app.events.find((x) => x.id === e.id);
        if (current) editor.open(current);
      }),
    create: (start: string) => void running.then(({ editor }) => editor.create(start)),
  };
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
        h('button', { class: 'ghost', title: 'Previous week', onclick: later(({ app }) => app.go(-1)) }, '‹'),
        h('button', { class: 'ghost', onclick: later(({ app }) => app.go(0)) }, 'Today'),
        h('button', { class: 'ghost', title: 'Next week', onclick: later(({ app }) => app.go(1)) }, '›'),
        title,
      ),
      h('button', { class: 'primary new-event', onclick: later(({ app, editor }) => editor.create(at(defaultDay(app.week), 10 * 60))) }, '+ New event'),
    ),
    h('div', { class: 'content' }, grid, panel),
  );
  const showTitle = (shown: Week) => mount(title, h('strong', {}, weekLabel(shown)), h('span', { class: 'muted' }, ` · Week ${shown.week}`));
  let weekShown = false;
  const markShown = () => {
    if (weekShown) return;
    weekShown = true;
    performance.mark('calendar:week-shown');
  };
  // The week as the device's database holds it, from the view this device stored when it last
  // read it (the database vouched for its version): shown while the page's replica loads, then
  // replaced by the app's own read of the same week.
  const onView = (doc: string, view: { json: Record<string, unknown>; conflicts: Conflict[] }) => {
    if (doc !== weekDoc(week) || weekShown) return;
    const events = eventsOf(view);
    mount(document.getElementById('app')!, shell);
    showTitle(week);
    renderWeek(grid, { week, events, clashes: doubleBookings(events), durability: new Map() }, actions);
    performance.mark('calendar:week-from-view', { detail: { ids: events.map((e) => e.id) } });
    markShown();
  };

  // Only the week shown (and the devices' notes) come into the page: opening costs one week,
  // however many the device holds.
  const [repo, cfg] = await Promise.all([
    openBrowserRepo({
      name: `calendar-${device}`,
      label: `device ${device}`,
      docs: [weekDoc(week), DEVICES_DOC],
      onView,
      onError: (e) => console.warn('polyarch:', e),
    }),
    config(),
  ]);
  performance.mark('calendar:repo-open');
  const app = new App(repo, device, cfg, week);
  window.calendar = app;
  const editor = new Editor(app);
  if (!weekShown) mount(document.getElementById('app')!, shell);
  const updateStatus = statusPanel(panel, app);

  const render = () => {
    showTitle(app.week);
    history.replaceState(null, '', `${location.search}#${weekKey(app.week)}`);
    renderWeek(grid, app, actions);
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
  run({ app, editor });
  document.body.dataset.ready = 'true';
  markShown();
}

main().catch((e) => {
  console.error(e);
  mount(document.getElementById('app')!, h('div', { class: 'fatal' }, h('h2', {}, 'The calendar could not start'), h('pre', {}, String(e?.message ?? e))));
});
