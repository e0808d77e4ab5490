// Double bookings: an invariant no CRDT keeps. Two devices offline can each book room Curie
// for 10:00; both writes are valid and both are kept, so the app finds the clash and shows it
// on both events, with a fix (move one to a room that is free then).
import { overlaps } from './dates';
import { ROOMS, type CalEvent } from './model';

/** For every double-booked event, the ids of the events it clashes with. */
export function doubleBookings(events: readonly CalEvent[]): Map<string, string[]> {
  const clashes = new Map<string, string[]>();
  const byRoom = new Map<string, CalEvent[]>();
  for (const e of events) {
    if (!e.room) continue;
    const list = byRoom.get(e.room) ?? [];
    list.push(e);
    byRoom.set(e.room, list);
  }
  for (const list of byRoom.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [a, b] = [list[i]!, list[j]!];
        if (!overlaps(a.start, a.end, b.start, b.end)) continue;
        clashes.set(a.id, [...(clashes.get(a.id) ?? []), b.id]);
        clashes.set(b.id, [...(clashes.get(b.id) ?? []), a.id]);
      }
    }
  }
  return clashes;
}

/** A room free for the whole of `event`'s time (other events of the week considered), or null. */
export function freeRoom(event: CalEvent, events: readonly CalEvent[]): string | null {
  const busy = new Set(
    events.filter((e) => e.id !== event.id && overlaps(e.start, e.end, event.start, event.end)).map((e) => e.room),
  );
  return ROOMS.find((room) => room !== event.room && !busy.has(room)) ?? null;
}
