// The week view: seven day columns by working hours; events placed by time, flagged when a
// field is in conflict or the room is double booked, moved by dragging.
import { h, mount } from './dom';
import { at, clock, compareText, dayOf, days, isoDate, minutesOf } from './dates';
import { moveEvent, type CalEvent } from './model';
import type { App } from './app';

/** The first and last hour shown. */
export const FIRST_HOUR = 7;
export const LAST_HOUR = 21;
/** Pixels per hour, and the drag grid in minutes. */
const HOUR_PX = 60;
const SNAP_MIN = 15;

const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** What the week view asks of the page. */
export interface WeekActions {
  open(event: CalEvent): void;
  create(start: string): void;
}

const top = (minutes: number) => ((minutes - FIRST_HOUR * 60) / 60) * HOUR_PX;

/**
 * What the week view shows: the running app, or a stored view of its week shown while the
 * page's replica loads (whose cards open on a click but do not drag).
 */
export type WeekShown = App | Pick<App, 'week' | 'events' | 'clashes' | 'durability'>;

/** Renders the week of `app` into `root`. */
export function renderWeek(root: HTMLElement, app: WeekShown, actions: WeekActions): void {
  const today = isoDate(new Date());
  const dates = days(app.week).map(isoDate);
  const hours = Array.from({ length: LAST_HOUR - FIRST_HOUR }, (_, i) => FIRST_HOUR + i);
  const columns = dates.map((day) =>
    h(
      'div',
      {
        class: `day${day === today ? ' today' : ''}`,
        dataset: { day },
        style: { height: `${hours.length * HOUR_PX}px` },
        onclick: (e: MouseEvent) => {
          if (e.target !== e.currentTarget) return;
          const y = e.offsetY;
          const minutes = FIRST_HOUR * 60 + Math.floor(((y / HOUR_PX) * 60) / 30) * 30;
          actions.create(at(day, minutes));
        },
      },
      hours.map((hour) => h('div', { class: 'slot', style: { top: `${(hour - FIRST_HOUR) * HOUR_PX}px` } })),
      lanes(app.events.filter((e) => dayOf(e.start) === day)).map(({ event, lane, of }) => card(event, lane, of, app, actions)),
    ),
  );
  mount(
    root,
    h(
      'div',
      { class: 'week-head' },
      h('div', { class: 'gutter' }),
      dates.map((day, i) =>
        h('div', { class: `day-name${day === today ? ' today' : ''}` }, h('span', {}, DAY_NAMES[i]), h('strong', {}, Number(day.slice(8)))),
      ),
    ),
    h(
      'div',
      { class: 'week-body' },
      h('div', { class: 'gutter' }, hours.map((hour) => h('div', { class: 'hour', style: { height: `${HOUR_PX}px` } }, `${String(hour).padStart(2, '0')}:00`))),
      columns,
    ),
  );
}

/**
 * Side-by-side placement of one day's events: each overlapping group shares the column's
 * width, an event taking the first lane free at its start.
 */
export function lanes(events: readonly CalEvent[]): { event: CalEvent; lane: number; of: number }[] {
  const sorted = [...events].sort((a, b) => compareText(a.start, b.start) || compareText(b.end, a.end));
  const out: { event: CalEvent; lane: number; of: number }[] = [];
  let group: { event: CalEvent; lane: number; of: number }[] = [];
  let groupEnd = '';
  const laneEnds: string[] = [];
  const close = () => {
    for (const placed of group) placed.of = laneEnds.length;
    out.push(...group);
    group = [];
    laneEnds.length = 0;
  };
  for (const event of sorted) {
    if (group.length && event.start >= groupEnd) close();
    let lane = laneEnds.findIndex((end) => end <= event.start);
    if (lane < 0) lane = laneEnds.length;
    laneEnds[lane] = event.end;
    group.push({ event, lane, of: 1 });
    if (group.length === 1 || event.end > groupEnd) groupEnd = event.end;
  }
  close();
  return out;
}

/** One event's card, in lane `lane` of `of`. */
function card(e: CalEvent, lane: number, of: number, app: WeekShown, actions: WeekActions): HTMLElement {
  const start = Math.max(minutesOf(e.start), FIRST_HOUR * 60);
  const end = Math.max(dayOf(e.end) > dayOf(e.start) ? 24 * 60 : minutesOf(e.end), start + SNAP_MIN);
  const conflicted = Object.keys(e.conflicts).length > 0;
  const clash = app.clashes.has(e.id);
  const durability = app.durability.get(e.id);
  const el = h(
    'div',
    {
      class: `event${conflicted ? ' conflicted' : ''}${clash ? ' clash' : ''}`,
      dataset: { eventId: e.id, title: e.title },
      style: {
        top: `${top(start)}px`,
        height: `${Math.max(((end - start) / 60) * HOUR_PX - 2, 18)}px`,
        left: `calc(${(lane / of) * 100}% + 3px)`,
        width: `calc(${100 / of}% - 6px)`,
      },
      title: `${e.title} · ${clock(e.start)}–${clock(e.end)} · ${e.room}`,
    },
    h('div', { class: 'event-title' }, e.title || '(no title)'),
    h('div', { class: 'event-meta' }, `${clock(e.start)}–${clock(e.end)}`, e.room ? ` · ${e.room}` : ''),
    h(
      'div',
      { class: 'event-flags' },
      conflicted ? h('span', { class: 'flag conflict', title: 'Edited on two devices at once: pick a value' }, '⚠ Conflict') : null,
      clash ? h('span', { class: 'flag clash', title: 'Another event books this room at the same time' }, 'Double booked') : null,
      durability ? h('span', { class: `durability ${durability}`, title: DURABILITY[durability] }, DURABILITY[durability]) : null,
    ),
  );
  if ('repo' in app) draggable(el, e, app, actions);
  else el.addEventListener('click', () => actions.open(e));
  return el;
}

/** What a durability badge says. */
export const DURABILITY = { saving: 'Saving…', device: 'On this device', relay: 'On the relay' } as const;

/** Moves the card with the pointer (snapping to 15 minutes, across days); a click opens it. */
function draggable(el: HTMLElement, e: CalEvent, app: App, actions: WeekActions): void {
  el.addEventListener('pointerdown', (down: PointerEvent) => {
    if (down.button !== 0) return;
    down.stopPropagation();
    const duration = minutesOf(e.end) - minutesOf(e.start) + (dayOf(e.end) > dayOf(e.start) ? 24 * 60 : 0);
    let moved = false;
    let target: { day: string; minutes: number } | null = null;
    const move = (ev: PointerEvent) => {
      const dy = ev.clientY - down.clientY;
      if (!moved && Math.abs(dy) + Math.abs(ev.clientX - down.clientX) < 5) return;
      moved = true;
      el.classList.add('dragging');
      const column = document.elementsFromPoint(ev.clientX, ev.clientY).find((n) => n instanceof HTMLElement && n.classList.contains('day')) as HTMLElement | undefined;
      const minutes = Math.round((minutesOf(e.start) + (dy / HOUR_PX) * 60) / SNAP_MIN) * SNAP_MIN;
      const clamped = Math.min(Math.max(minutes, 0), 24 * 60 - duration);
      const day = column?.dataset.day ?? target?.day ?? dayOf(e.start);
      if (column && el.parentElement !== column) column.append(el);
      el.style.top = `${top(clamped)}px`;
      target = { day, minutes: clamped };
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      if (!moved) {
        actions.open(e);
        return;
      }
      if (!target) return;
      const end = target.minutes + duration;
      const endAt = end >= 24 * 60 ? at(target.day, 24 * 60 - 1) : at(target.day, end);
      const start = at(target.day, target.minutes);
      if (start === e.start) {
        app.refresh();
        return;
      }
      const result = moveEvent(app.repo, app.doc, e.id, start, endAt);
      app.track(result.id, result.receipt);
      app.refresh();
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  });
}
