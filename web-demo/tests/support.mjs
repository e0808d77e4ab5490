// Shared by the calendar's end-to-end tests: the demo server (the built app, and the real relay
// it runs), devices as Chromium pages, and the UI steps the tests take. Chromium, profiles and
// `until` come from the npm package's browser test support.
import { after, before } from 'node:test';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, tempDir, until } from '../../bindings/wasm/tests/browser/support.mjs';
import { startDemo } from '../server.mjs';

export { launch, tempDir, until };

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** Where screenshots go: `target/web-demo-artifacts/` (CI keeps them). */
export const ARTIFACTS = resolve(HERE, '../../target/web-demo-artifacts');

/** The demo server with a fresh relay database; `stop()` removes it. */
export async function startCalendar() {
  const data = tempDir('polyarch-calendar-');
  const demo = await startDemo({ dataDir: data });
  return {
    ...demo,
    stop: async () => {
      await demo.close();
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/**
 * For a test file: the calendar server (`env.demo`) and one browser profile (`env.laptop`),
 * started before its tests and removed after them.
 */
export function calendarFixture() {
  const env = {};
  before(async () => {
    env.demo = await startCalendar();
    env.laptop = await machine();
  });
  after(async () => {
    await env.laptop?.remove();
    await env.demo?.stop();
  });
  return env;
}

/** A browser profile (a "machine"); `close()` keeps it on disk for a restart, `remove()` deletes it. */
export async function machine() {
  const dir = tempDir('polyarch-profile-');
  const m = {
    dir,
    context: await launch(dir),
    async restart() {
      await m.context.close();
      m.context = await launch(dir);
    },
    async remove() {
      await m.context.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return m;
}

/** Opens the calendar as `device` on `week` (`2030-W10`) in a new tab of `context`. */
export async function openDevice(context, url, device, week) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1400, height: 900 });
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${url}?device=${device}#${week}`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
  return page;
}

/** Reloads a device's tab and waits for the calendar. */
export async function reload(page) {
  await page.reload();
  await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
}

/** The event card titled `title`. */
export const card = (page, title) => page.locator(`.event[data-title="${title}"]`);

/** Creates an event through the form. */
export async function createEvent(page, { title, day, start, end, room = '' }) {
  await page.click('button.new-event');
  await page.fill('dialog input[name=title]', title);
  await page.fill('dialog input[name=day]', day);
  await page.fill('dialog input[name=start]', start);
  await page.fill('dialog input[name=end]', end);
  await page.selectOption('dialog select[name=room]', room);
  await page.click('dialog button[type=submit]');
  await card(page, title).waitFor();
}

/** Opens the event titled `title` (a click on its card). */
export async function openEvent(page, title) {
  await card(page, title).click();
  await page.waitForSelector('dialog[open]');
}

/** Saves the open event's form. */
export async function save(page) {
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog[open]', { state: 'detached' }).catch(() => {});
  await page.waitForFunction(() => !document.querySelector('dialog[open]'));
}

/** Closes the open event. */
export async function closeEvent(page) {
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('dialog[open]'));
}

/** Flips the device's online switch to `on` and waits until the relay link says so. */
export async function setOnline(page, on) {
  const checked = await page.isChecked('label.switch input');
  if (checked !== on) await page.click('label.switch');
  await until(
    page,
    (on) => {
      const relay = window.calendar.status.relay;
      return on ? relay === 'in-sync' : relay === 'none' || relay === 'closed';
    },
    on,
    `the device to be ${on ? 'online' : 'offline'}`,
    30_000,
  );
}

/** The events of the week shown, as the app reads them. */
export const events = (page) => page.evaluate(() => window.calendar.events);

/** The event titled `title` on `page` (undefined if none). */
export async function eventTitled(page, title) {
  return (await events(page)).find((e) => e.title === title);
}

/** Saves a screenshot as `target/web-demo-artifacts/<name>.png`. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** Page errors, less the expected ones (a relay that went away). */
export const unexpectedErrors = (page) => page.errors.filter((e) => !/relay connection|WebSocket|ERR_CONNECTION/.test(e));
