// Two devices online: an event created on one appears on the other, and its durability badge
// goes from "on this device" to "on the relay".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calendarFixture, card, createEvent, openDevice, screenshot, unexpectedErrors, until } from './support.mjs';

const WEEK = '2030-W10'; // Monday 2030-03-04

const env = calendarFixture();

test('an event created on one device appears on the other', async () => {
  const a = await openDevice(env.laptop.context, env.demo.url, 'a', WEEK);
  const b = await openDevice(env.laptop.context, env.demo.url, 'b', WEEK);
  for (const page of [a, b]) {
    await until(page, () => window.calendar.status.relay === 'in-sync', null, 'the device to reach the relay', 30_000);
  }

  await createEvent(a, { title: 'Design review', day: '2030-03-06', start: '10:00', end: '11:30', room: 'Curie' });
  await card(b, 'Design review').waitFor({ timeout: 20_000 });
  const seen = await b.evaluate(() => window.calendar.events.find((e) => e.title === 'Design review'));
  assert.equal(seen.start, '2030-03-06T10:00');
  assert.equal(seen.end, '2030-03-06T11:30');
  assert.equal(seen.room, 'Curie');

  // The change A made travels: on A's disk, then on the relay.
  await card(a, 'Design review').locator('.durability.relay').waitFor({ timeout: 20_000 });
  await until(a, () => window.calendar.status.relayUnacked === 0, null, 'nothing left waiting for the relay');

  await screenshot(a, 'week-two-devices');
  assert.deepEqual(unexpectedErrors(a), []);
  assert.deepEqual(unexpectedErrors(b), []);
});
