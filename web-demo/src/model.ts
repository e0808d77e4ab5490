// The calendar's data: one Polyarch document per ISO week (`week-2026-W49`), holding a map
// `events` of event id -> event. Each event is a map of typed CRDTs:
//
// | field                      | CRDT           | concurrent edits                                  |
// | -------------------------- | -------------- | ------------------------------------------------- |
// | title, start, end, room    | register       | every value kept: shown as a conflict, user picks |
// | attendees                  | OR-set         | add wins over a concurrent remove                 |
// | rsvp/yes, rsvp/no, rsvp/maybe | counter     | increments from every device add up               |
// | notes                      | text           | characters typed on both devices interleave       |
//
// A week's document is all a week view needs, so a device reads one document per week shown.
import type { BrowserRepo, Conflict, Receipt, Scalar } from 'polyarch';
import { compareText, weekKey, weekOf, dateOf, type Week } from './dates';

/** The fields kept in registers: a concurrent edit of one of them is a visible conflict. */
export const REGISTERS = ['title', 'start', 'end', 'room'] as const;
export type RegisterField = (typeof REGISTERS)[number];

/** RSVP answers, each a counter. */
export const ANSWERS = ['yes', 'maybe', 'no'] as const;
export type Answer = (typeof ANSWERS)[number];

/** The meeting rooms. */
export const ROOMS = ['Ada', 'Babbage', 'Curie', 'Darwin', 'Euler'] as const;

/** One event as the views read it (registers at their winning value). */
export interface CalEvent {
  readonly id: string;
  readonly title: string;
  readonly start: string;
  readonly end: string;
  readonly room: string;
  readonly attendees: string[];
  readonly rsvp: Record<Answer, number>;
  readonly notes: string;
  /** Registers holding several concurrent values: every value, the winner first. */
  readonly conflicts: Partial<Record<RegisterField, string[]>>;
}

/** What a new event or the editor's form holds. */
export interface EventDraft {
  title: string;
  start: string;
  end: string;
  room: string;
}

/** The document of week `w`. */
export function weekDoc(w: Week): string {
  return `week-${weekKey(w)}`;
}

/** The document an event starting at `start` (a floating time) belongs to. */
export function docOfTime(start: string): string {
  return weekDoc(weekOf(dateOf(start)));
}

/** A new event id: unique without coordination. */
export function newEventId(): string {
  return `ev-${crypto.randomUUID().slice(0, 13)}`;
}

const asString = (v: unknown): string => (typeof v === 'string' ? v : v == null ? '' : String(v));

/** The events of week document `doc`, sorted by start. */
export function readWeek(repo: BrowserRepo, doc: string): CalEvent[] {
  if (!repo.has(doc)) return [];
  // The values and every conflicting register (events/<id>/<field>) in one read of the week.
  return eventsOf(repo.toJSONWithConflicts(doc));
}

/** The events of a read of a week's document (`toJSONWithConflicts`, or a stored view of it), sorted by start. */
export function eventsOf(read: { json: Record<string, unknown>; conflicts: Conflict[] }): CalEvent[] {
  const json = read.json as { events?: Record<string, Record<string, unknown>> };
  const conflictsById = new Map<string, Partial<Record<RegisterField, string[]>>>();
  for (const { path, values } of read.conflicts) {
    const [events, id, field] = path;
    if (path.length !== 3 || events !== 'events' || typeof id !== 'string') continue;
    if (!(REGISTERS as readonly unknown[]).includes(field)) continue;
    const of = conflictsById.get(id) ?? {};
    of[field as RegisterField] = values.map(asString);
    conflictsById.set(id, of);
  }
  const events: CalEvent[] = [];
  for (const [id, e] of Object.entries(json.events ?? {})) {
    if (!e || typeof e !== 'object' || !e.start) continue;
    const conflicts = conflictsById.get(id) ?? {};
    const rsvp = (e.rsvp ?? {}) as Partial<Record<Answer, number>>;
    events.push({
      id,
      title: asString(e.title),
      start: asString(e.start),
      end: asString(e.end),
      room: asString(e.room),
      attendees: Object.keys((e.attendees ?? {}) as object).sort(),
      rsvp: { yes: rsvp.yes ?? 0, maybe: rsvp.maybe ?? 0, no: rsvp.no ?? 0 },
      notes: asString(e.notes),
      conflicts,
    });
  }
  return events.sort((a, b) => compareText(a.start, b.start) || compareText(a.id, b.id));
}

/** One event of `doc`, or undefined. */
export function readEvent(repo: BrowserRepo, doc: string, id: string): CalEvent | undefined {
  return readWeek(repo, doc).find((e) => e.id === id);
}

/** Creates an event in its week's document, with its containers made once (see the table). */
export function createEvent(repo: BrowserRepo, draft: EventDraft, attendees: string[] = []): { id: string; doc: string; receipt: Receipt | null } {
  const id = newEventId();
  const doc = docOfTime(draft.start);
  const receipt = repo.change(doc, (tx) => {
    const at = (field: string) => ['events', id, field];
    for (const field of REGISTERS) tx.setRegister(at(field), draft[field]);
    for (const who of attendees) tx.addToSet(at('attendees'), who);
    for (const answer of ANSWERS) tx.increment(['events', id, 'rsvp', answer], 0);
    tx.updateText(at('notes'), '');
  });
  return { id, doc, receipt };
}

/**
 * Writes the registers of `changes` in one change. Only the fields given are written, so an
 * edit never turns a field the user did not touch into a conflict.
 */
export function writeFields(repo: BrowserRepo, doc: string, id: string, changes: Partial<Record<RegisterField, Scalar>>): Receipt | null {
  const fields = Object.entries(changes).filter(([, v]) => v !== undefined);
  if (!fields.length) return null;
  return repo.change(doc, (tx) => {
    for (const [field, value] of fields) tx.setRegister(['events', id, field], value as Scalar);
  });
}

/** Deletes an event. */
export function deleteEvent(repo: BrowserRepo, doc: string, id: string): Receipt | null {
  return repo.change(doc, (tx) => tx.deleteKey(['events'], id));
}

/**
 * Moves an event to a new time. Within its week it is two register writes; into another week
 * it is copied into that week's document and deleted from this one.
 */
export function moveEvent(repo: BrowserRepo, doc: string, id: string, start: string, end: string): { doc: string; id: string; receipt: Receipt | null } {
  const target = docOfTime(start);
  if (target === doc) return { doc, id, receipt: writeFields(repo, doc, id, { start, end }) };
  void repo.follow([target]);
  const e = readEvent(repo, doc, id);
  if (!e) return { doc, id, receipt: null };
  const created = createEvent(repo, { title: e.title, start, end, room: e.room }, e.attendees);
  if (e.notes) repo.text(created.doc, ['events', created.id, 'notes']).update(e.notes);
  deleteEvent(repo, doc, id);
  return created;
}

/** Adds or removes an attendee (an OR-set: a concurrent add wins over a remove). */
export function setAttendee(repo: BrowserRepo, doc: string, id: string, who: string, present: boolean): Receipt | null {
  const set = repo.set(doc, ['events', id, 'attendees']);
  try {
    return present ? set.add(who) : set.delete(who);
  } finally {
    set.free();
  }
}

/** Counts one RSVP answer (a counter: answers from every device add up). */
export function answer(repo: BrowserRepo, doc: string, id: string, a: Answer): Receipt | null {
  const counter = repo.counter(doc, ['events', id, 'rsvp', a]);
  try {
    return counter.increment(1);
  } finally {
    counter.free();
  }
}

/** Replaces the notes with `text` as the smallest splice (collaborative text). */
export function writeNotes(repo: BrowserRepo, doc: string, id: string, text: string): Receipt | null {
  const notes = repo.text(doc, ['events', id, 'notes']);
  try {
    return notes.update(text);
  } finally {
    notes.free();
  }
}
