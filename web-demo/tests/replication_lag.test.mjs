// The status panel's "Other devices": what each other device lacks of the week shown (the
// replication lag), from the notes devices write in the shared `devices` document. A device
// that goes offline falls behind on the other's panel, and catches up once it is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calendarFixture, card, createEvent, openDevice, screenshot, setOnline, unexpectedErrors, until } from './support.mjs';

const WEEK = '2030-W12'; // Monday 2030-03-18

const env = calendarFixture();

/** How `page`'s panel shows `device` against the week shown: `{ lacks, ahead }` (null: not listed). */
const lagOf = (page, device) =>
  page.evaluate((device) => {
    const li = document.querySelector(`.peers li[data-device="${device}"]`);
    return li ? { lacks: li.dataset.lacks, ahead: li.dataset.ahead, text: li.textContent } : null;
  }, device);

/** Waits until `page`'s panel shows `device` holding every change of the week, both ways. */
async function waitUpToDate(page, device, what) {
  await until(
    page,
    (device) => {
      const li = document.querySelector(`.peers li[data-device="${device}"]`);
      return li?.dataset.lacks === '0' && li?.dataset.ahead === '0';
    },
    device,
    what,
    30_000,
  );
}

test('a device that went offline shows as lacking changes on the other, then catches up', async () => {
  const a = await openDevice(env.laptop.context, env.demo.url, 'a', WEEK);
  const b = await openDevice(env.laptop.context, env.demo.url, 'b', WEEK);
  for (const page of [a, b]) {
    await until(page, () => window.calendar.status.relay === 'in-sync', null, 'the device to reach the relay', 30_000);
  }
  await createEvent(a, { title: 'Kick-off', day: '2030-03-19', start: '09:00', end: '10:00', room: 'Ada' });
  await card(b, 'Kick-off').waitFor({ timeout: 20_000 });
  await waitUpToDate(a, 'b', "A's panel to show B holding the week");
  await waitUpToDate(b, 'a', "B's panel to show A holding the week");

  // B goes offline; A's new event cannot reach it, and A's panel says so.
  await setOnline(b, false);
  await createEvent(a, { title: 'While B is away', day: '2030-03-20', start: '14:00', end: '15:00', room: 'Curie' });
  await until(
    a,
    () => Number(document.querySelector('.peers li[data-device="b"]')?.dataset.lacks) > 0,
    null,
    "A's panel to show B lacking A's new event",
    30_000,
  );
  const behind = await lagOf(a, 'b');
  assert.match(behind.text, /lacks \d+ changes? made here/);
  await screenshot(a, 'panel-peer-behind');

  // B comes back: it receives the event, notes it, and A's panel shows it caught up.
  await setOnline(b, true);
  await card(b, 'While B is away').waitFor({ timeout: 20_000 });
  await waitUpToDate(a, 'b', "A's panel to show B caught up");
  assert.match((await lagOf(a, 'b')).text, /has every change of this week/);

  assert.deepEqual(unexpectedErrors(a), []);
  assert.deepEqual(unexpectedErrors(b), []);
});
