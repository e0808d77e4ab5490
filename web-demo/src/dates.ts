// Calendar arithmetic on ISO weeks (Monday first) and "floating" local times written as
// `YYYY-MM-DDTHH:MM` strings: they sort as text, and mean the same wall-clock time on every
// device, as a meeting room's booking should.

/** An ISO week: `{ year: 2026, week: 49 }`. */
export interface Week {
  readonly year: number;
  readonly week: number;
}

const DAY_MS = 86_400_000;

/** The ISO week holding `date` (local time). */
export function weekOf(date: Date): Week {
  const d = new Date(Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day); // the Thursday of this week decides its year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  return { year: d.getUTCFullYear(), week: Math.ceil(((d.getTime() - yearStart) / DAY_MS + 1) / 7) };
}

/** `2026-W49`. */
export function weekKey(w: Week): string {
  return `${w.year}-W${String(w.week).padStart(2, '0')}`;
}

/** The week named by `2026-W49`, or null. */
export function parseWeekKey(key: string): Week | null {
  const m = /^(\d{4})-W(\d{2})$/.exec(key);
  if (!m) return null;
  const week = { year: Number(m[1]), week: Number(m[2]) };
  return week.week >= 1 && week.week <= 53 ? week : null;
}

/** The Monday of week `w`, at local midnight. */
export function monday(w: Week): Date {
  const jan4 = new Date(w.year, 0, 4);
  const day = jan4.getDay() || 7;
  return new Date(w.year, 0, 4 - day + 1 + (w.week - 1) * 7);
}

/** The 7 days of week `w`, Monday first. */
export function days(w: Week): Date[] {
  const first = monday(w);
  return Array.from({ length: 7 }, (_, i) => new Date(first.getFullYear(), first.getMonth(), first.getDate() + i));
}

/** The week `delta` weeks after `w`. */
export function addWeeks(w: Week, delta: number): Week {
  const d = monday(w);
  return weekOf(new Date(d.getFullYear(), d.getMonth(), d.getDate() + 7 * delta + 3));
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `YYYY-MM-DD` of a local date. */
export function isoDate(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A floating time: `YYYY-MM-DDTHH:MM`, from a date and minutes since midnight. */
export function at(day: string, minutes: number): string {
  return `${day}T${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/** The day part of a floating time. */
export function dayOf(time: string): string {
  return time.slice(0, 10);
}

/** Minutes since midnight of a floating time. */
export function minutesOf(time: string): number {
  return Number(time.slice(11, 13)) * 60 + Number(time.slice(14, 16));
}

/** The local date of a floating time. */
export function dateOf(time: string): Date {
  return new Date(Number(time.slice(0, 4)), Number(time.slice(5, 7)) - 1, Number(time.slice(8, 10)));
}

/** `09:30`. */
export function clock(time: string): string {
  return time.slice(11, 16);
}

/**
 * Orders strings by their UTF-16 code units, as floating times, ids and device letters sort.
 * Not `localeCompare`: its first call builds an ICU collator (about 10 ms, on the startup path).
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * `Mar`: the month's English abbreviation, as `toLocaleDateString('en', { month: 'short' })`
 * writes it, without loading ICU's date formats on the startup path.
 */
export function monthName(d: Date): string {
  return MONTHS[d.getMonth()]!;
}

/** Whether `[aStart, aEnd)` and `[bStart, bEnd)` overlap. */
export function overlaps(aStart: string, aEnd: string, bStart: string, bEnd: string): boolean {
  return aStart < bEnd && bStart < aEnd;
}
