// A reload shows the week from the view this device stored when it last read it (the database
// vouched that it still holds exactly that version), before the page's own replica has
// loaded; then the page works as ever: edits, and live updates from another tab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calendarFixture, card, createEvent, eventTitled, openDevice, openEvent, closeEvent, reload, unexpectedErrors, until } from './support.mjs';

const WEEK = '2030-W20'; // Monday 2030-05-13

const env = calendarFixture();

/** The marks of this page load: when the stored view was shown (and what), when the replica opened. */
const marks = (page) =>
  page.evaluate(() => {
    const at = (name) => performance.getEntriesByName(name)[0];
    return {
      view: at('calendar:week-from-view')?.startTime ?? null,
      ids: at('calendar:week-from-view')?.detail.ids ?? null,
      open: at('calendar:repo-open')?.startTime ?? null,
      shown: at('calendar:week-shown')?.startTime ?? null,
    };
  });

test('a reload shows the stored week before the replica has loaded, and the page then works as ever', async () => {
  const a = await openDevice(env.laptop.context, env.demo.url, 's', WEEK);
  assert.equal((await marks(a)).view, null, 'nothing stored yet');
  await createEvent(a, { title: 'Kickoff', day: '2030-05-14', start: '09:00', end: '10:00', room: 'Ada' });
  await createEvent(a, { title: 'Lunch talk', day: '2030-05-15', start: '12:00', end: '13:00', room: 'Babbage' });
  await until(a, () => [...window.calendar.durability.values()].every((d) => d !== 'saving'), null, 'both events to be on this device');
  await until(
    a,
    () => {
      const stored = JSON.parse(localStorage.getItem('polyarch:calendar-s:views') ?? 'null');
      const week = stored?.views.find(([doc]) => doc === 'week-2030-W20');
      return week && week[2].includes('Kickoff') && week[2].includes('Lunch talk');
    },
    null,
    'the week\'s view to be stored',
  );
  const before = await a.evaluate(() => window.calendar.events);

  await reload(a);
  const m = await marks(a);
  assert.ok(m.view !== null, 'the stored week was shown');
  assert.ok(m.view < m.open, `shown from the view at ${m.view} ms, before the replica opened at ${m.open} ms`);
  assert.ok(m.shown >= m.view && m.shown < m.open);
  assert.deepEqual(m.ids, before.map((e) => e.id));
  assert.deepEqual(await a.evaluate(() => window.calendar.events), before, 'the replica holds what the view showed');

  // Edits work: a new event, and an edit of a shown one.
  await createEvent(a, { title: 'Retro', day: '2030-05-17', start: '15:00', end: '16:00', room: 'Curie' });
  await openEvent(a, 'Kickoff');
  await a.fill('dialog textarea[name=notes]', 'Agenda first.');
  await closeEvent(a);
  await until(a, () => window.calendar.events.find((e) => e.title === 'Kickoff')?.notes === 'Agenda first.', null, 'the edit to land');

  // Live updates: another tab of this device adds an event, and this one shows it.
  const b = await openDevice(env.laptop.context, env.demo.url, 's', WEEK);
  await createEvent(b, { title: 'Planning', day: '2030-05-16', start: '11:00', end: '12:00', room: 'Darwin' });
  await card(a, 'Planning').waitFor({ timeout: 20_000 });
  assert.equal((await eventTitled(a, 'Planning')).room, 'Darwin');
  await b.close();

  // The next load shows the week as it is now, not as it was.
  await until(a, () => [...window.calendar.durability.values()].every((d) => d !== 'saving'), null, 'the edits to be on this device');
  const now = await a.evaluate(() => window.calendar.events);
  await until(
    a,
    (n) => {
      const stored = JSON.parse(localStorage.getItem('polyarch:calendar-s:views') ?? 'null');
      const week = stored?.views.find(([doc]) => doc === 'week-2030-W20');
      return week && Object.keys(JSON.parse(week[2]).json.events).length === n && week[2].includes('Agenda first.');
    },
    now.length,
    'the new week\'s view to be stored',
  );
  await reload(a);
  const again = await marks(a);
  assert.ok(again.view !== null && again.view < again.open);
  assert.deepEqual(again.ids, now.map((e) => e.id));
  assert.deepEqual(await a.evaluate(() => window.calendar.events), now);
  assert.deepEqual(unexpectedErrors(a), []);
  await a.close();
});
