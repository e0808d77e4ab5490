// Attendees (an OR-set), RSVPs (counters) and notes (text) edited on two devices at once,
// offline, converge to what people expect; then everything survives a reload and a browser
// restart, and a brand-new device joining late gets it all from the relay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  calendarFixture, card, closeEvent, createEvent, eventTitled, machine, openDevice, openEvent, reload, screenshot, setOnline,
  unexpectedErrors, until,
} from './support.mjs';

const WEEK = '2030-W13'; // Monday 2030-03-25

const env = calendarFixture();

async function addAttendee(page, who) {
  await page.fill('dialog input[name=attendee]', who);
  await page.press('dialog input[name=attendee]', 'Enter');
  await page.waitForSelector(`dialog .chip[data-attendee="${who}"]`);
}

async function removeAttendee(page, who) {
  await page.click(`dialog .chip[data-attendee="${who}"] button`);
  await page.waitForSelector(`dialog .chip[data-attendee="${who}"]`, { state: 'detached' });
}

const rsvp = (page, answer) => page.click(`dialog button.rsvp[data-answer=${answer}]`);

test('attendees, RSVPs and notes edited offline on two devices converge', async () => {
  const a = await openDevice(env.laptop.context, env.demo.url, 'a', WEEK);
  const b = await openDevice(env.laptop.context, env.demo.url, 'b', WEEK);
  for (const page of [a, b]) await setOnline(page, true);
  await createEvent(a, { title: 'Planning', day: '2030-03-26', start: '13:00', end: '14:30', room: 'Ada' });
  await openEvent(a, 'Planning');
  await addAttendee(a, 'ada');
  await addAttendee(a, 'bob');
  await closeEvent(a);
  const { id } = await eventTitled(a, 'Planning');
  await until(b, (id) => window.calendar.events.find((e) => e.id === id)?.attendees.length === 2, id, 'B to get the attendees', 20_000);

  await setOnline(a, false);
  await setOnline(b, false);
  // A: removes bob and ada, adds grace, answers yes twice, writes the agenda.
  await openEvent(a, 'Planning');
  await removeAttendee(a, 'bob');
  await removeAttendee(a, 'ada');
  await addAttendee(a, 'grace');
  await rsvp(a, 'yes');
  await rsvp(a, 'yes');
  await a.fill('dialog textarea[name=notes]', 'Agenda: roadmap.');
  await closeEvent(a);
  // B, at the same time: adds bob again (add wins over A's remove) and linus, answers yes and no.
  await openEvent(b, 'Planning');
  await addAttendee(b, 'linus');
  await addAttendee(b, 'bob');
  await rsvp(b, 'yes');
  await rsvp(b, 'no');
  await b.fill('dialog textarea[name=notes]', 'Bring laptops.');
  await closeEvent(b);

  await setOnline(a, true);
  await setOnline(b, true);
  const expected = (id) => {
    const e = window.calendar.events.find((e) => e.id === id);
    return e && e.attendees.join() === 'bob,grace,linus' && e.rsvp.yes === 3 && e.rsvp.no === 1 && e.rsvp.maybe === 0
      && e.notes.includes('Agenda: roadmap.') && e.notes.includes('Bring laptops.');
  };
  for (const page of [a, b]) await until(page, expected, id, 'attendees, RSVPs and notes to converge', 30_000);
  const [ea, eb] = [await eventTitled(a, 'Planning'), await eventTitled(b, 'Planning')];
  assert.deepEqual(ea, eb);
  assert.equal(ea.notes.length, 'Agenda: roadmap.'.length + 'Bring laptops.'.length);

  await openEvent(a, 'Planning');
  await screenshot(a, 'event-collaboration');
  await closeEvent(a);
  assert.deepEqual(unexpectedErrors(a), []);
  assert.deepEqual(unexpectedErrors(b), []);
  await a.close();
  await b.close();
});

test('reload and browser restart keep everything; a late device gets it all', async () => {
  let a = await openDevice(env.laptop.context, env.demo.url, 'a', WEEK);
  await setOnline(a, true);
  await createEvent(a, { title: 'Retro', day: '2030-03-29', start: '16:00', end: '17:00', room: 'Euler' });
  await card(a, 'Retro').locator('.durability.relay').waitFor({ timeout: 20_000 });
  const before = await a.evaluate(() => window.calendar.events);
  assert.deepEqual(before.map((e) => e.title).sort(), ['Planning', 'Retro']);

  await reload(a);
  assert.deepEqual(await a.evaluate(() => window.calendar.events), before);

  // Offline edit, then a browser restart before it ever reaches the relay.
  await setOnline(a, false);
  await openEvent(a, 'Retro');
  await a.fill('dialog textarea[name=notes]', 'Written offline, kept on this device.');
  await closeEvent(a);
  await until(a, () => [...window.calendar.durability.values()].includes('device'), null, 'the offline edit to be on this device');
  await env.laptop.restart();
  a = await openDevice(env.laptop.context, env.demo.url, 'a', WEEK);
  assert.equal((await eventTitled(a, 'Retro')).notes, 'Written offline, kept on this device.');
  assert.equal(await a.evaluate(() => window.calendar.online), false);
  await setOnline(a, true);
  await until(a, () => window.calendar.status.relayUnacked === 0, null, 'the offline edit to reach the relay', 30_000);
  const all = await a.evaluate(() => window.calendar.events);
  await a.close();
  await env.laptop.context.close().catch(() => {});

  // A new machine, alone with the relay: it bootstraps everything.
  const late = await machine();
  try {
    const c = await openDevice(late.context, env.demo.url, 'c', WEEK);
    await until(c, (n) => window.calendar.events.length === n, all.length, 'the late device to get every event', 30_000);
    assert.deepEqual(await c.evaluate(() => window.calendar.events), all);
    await screenshot(c, 'week-late-joiner');
    assert.deepEqual(unexpectedErrors(c), []);
  } finally {
    await late.remove();
  }
});
