// The textbook cases of multi-leader replication, on two devices that go offline:
// - both edit the same event's title and one moves it: back online they converge, the title
//   conflict shows on both, and picking a value on one clears it on both;
// - both book the same room at overlapping times: both devices flag the double booking, and
//   the fix ("move to a free room") clears it on both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  calendarFixture, card, closeEvent, createEvent, eventTitled, openDevice, openEvent, save, screenshot, setOnline,
  unexpectedErrors, until,
} from './support.mjs';

const env = calendarFixture();

/** Devices A and B on `week`, both online. */
async function twoDevices(week) {
  const a = await openDevice(env.laptop.context, env.demo.url, 'a', week);
  const b = await openDevice(env.laptop.context, env.demo.url, 'b', week);
  for (const page of [a, b]) await setOnline(page, true);
  return [a, b];
}

test('concurrent offline edits converge and the title conflict is resolved everywhere', async () => {
  const [a, b] = await twoDevices('2030-W11'); // Monday 2030-03-11
  await createEvent(a, { title: 'Design review', day: '2030-03-13', start: '10:00', end: '11:00', room: 'Curie' });
  await card(b, 'Design review').waitFor({ timeout: 20_000 });
  const { id } = await eventTitled(b, 'Design review');

  await setOnline(a, false);
  await setOnline(b, false);

  // A renames it; B renames it too and moves it to the afternoon.
  await openEvent(a, 'Design review');
  await a.fill('dialog input[name=title]', 'Design review (v2)');
  await save(a);
  await openEvent(b, 'Design review');
  await b.fill('dialog input[name=title]', 'Architecture review');
  await b.fill('dialog input[name=start]', '14:00');
  await b.fill('dialog input[name=end]', '15:00');
  await save(b);

  await setOnline(a, true);
  await setOnline(b, true);
  const converged = (id) => {
    const e = window.calendar.events.find((e) => e.id === id);
    return e && e.start === '2030-03-13T14:00' && e.end === '2030-03-13T15:00' && (e.conflicts.title ?? []).length === 2;
  };
  for (const page of [a, b]) await until(page, converged, id, 'both devices to converge with the title conflict', 30_000);
  const [ea, eb] = [await a.evaluate((id) => window.calendar.events.find((e) => e.id === id), id), await b.evaluate((id) => window.calendar.events.find((e) => e.id === id), id)];
  assert.deepEqual(ea, eb);
  assert.deepEqual([...ea.conflicts.title].sort(), ['Architecture review', 'Design review (v2)']);
  for (const page of [a, b]) await page.locator(`.event[data-event-id="${id}"] .flag.conflict`).waitFor();

  // A picks B's title: the conflict is gone on both.
  await a.locator(`.event[data-event-id="${id}"]`).click();
  await a.waitForSelector('dialog[open] [data-conflict=title]');
  await screenshot(a, 'event-title-conflict');
  await a.click('dialog [data-conflict=title] button.pick[data-value="Architecture review"]');
  await closeEvent(a);
  const resolved = (id) => {
    const e = window.calendar.events.find((e) => e.id === id);
    return e && e.title === 'Architecture review' && !e.conflicts.title;
  };
  // Picking the value automerge already shows as the winner changes no value, only the
  // conflict: it must still reach B and refresh both views.
  await until(a, resolved, id, 'the resolution on A', 30_000);
  await until(b, resolved, id, 'the resolution to reach B', 30_000);
  await b.locator(`.event[data-event-id="${id}"] .flag.conflict`).waitFor({ state: 'detached' });
  assert.deepEqual(unexpectedErrors(a), []);
  assert.deepEqual(unexpectedErrors(b), []);
  await a.close();
  await b.close();
});

test('two offline bookings of one room are flagged on both devices, and fixed', async () => {
  const [a, b] = await twoDevices('2030-W12'); // Monday 2030-03-18
  await setOnline(a, false);
  await setOnline(b, false);
  await createEvent(a, { title: 'Standup', day: '2030-03-21', start: '09:00', end: '10:00', room: 'Darwin' });
  await createEvent(b, { title: 'Hiring sync', day: '2030-03-21', start: '09:30', end: '10:30', room: 'Darwin' });
  // Alone, each device sees no clash.
  assert.equal(await a.locator('.event.clash').count(), 0);
  await setOnline(a, true);
  await setOnline(b, true);

  for (const page of [a, b]) {
    await until(page, () => document.querySelectorAll('.event.clash').length === 2, null, 'both events flagged as double booked', 30_000);
  }
  await screenshot(b, 'week-double-booking');
  await openEvent(b, 'Hiring sync');
  await b.waitForSelector('dialog[open] .alert.clash');
  await screenshot(b, 'event-double-booking');
  await b.click('dialog[open] .alert.clash button.fix');
  await closeEvent(b);
  for (const page of [a, b]) {
    await until(page, () => document.querySelectorAll('.event.clash').length === 0, null, 'the double booking to be fixed on both', 30_000);
  }
  const rooms = await a.evaluate(() => window.calendar.events.map((e) => `${e.title}: ${e.room}`).sort());
  assert.equal(rooms[1], 'Standup: Darwin');
  assert.notEqual(rooms[0], 'Hiring sync: Darwin');
  assert.deepEqual(unexpectedErrors(a), []);
  assert.deepEqual(unexpectedErrors(b), []);
  await a.close();
  await b.close();
});
