// The event dialog: create, edit (only the fields touched are written), delete; pick a value
// of a field in conflict; fix a double booking; attendees, RSVPs and collaborative notes.
import { h, mount } from './dom';
import { at, clock, dayOf, minutesOf } from './dates';
import {
  ANSWERS, ROOMS, answer, createEvent, deleteEvent, moveEvent, readEvent, setAttendee, writeFields, writeNotes,
  type CalEvent, type EventDraft,
} from './model';
import { freeRoom } from './bookings';
import type { App } from './app';

const ANSWER_LABELS = { yes: 'Going', maybe: 'Maybe', no: 'Not going' } as const;

/** The dialog, its element and what it shows. */
export class Editor {
  readonly dialog: HTMLDialogElement;
  #app: App;
  /** The event shown (`id` null while creating one). */
  #doc = '';
  #id: string | null = null;
  /** The register values the form started from: Save writes only what differs. */
  #base: EventDraft | null = null;

  constructor(app: App) {
    this.#app = app;
    this.dialog = h('dialog', { class: 'editor', onclose: () => (this.#id = null) });
    document.body.append(this.dialog);
    app.onChange(() => this.#refresh());
  }

  /** Opens an empty form for a one-hour event at `start`. */
  create(start: string): void {
    this.#id = null;
    this.#doc = this.#app.doc;
    const end = at(dayOf(start), Math.min(minutesOf(start) + 60, 24 * 60 - 1));
    this.#base = { title: '', start, end, room: '' };
    mount(this.dialog);
    this.#render(null);
    this.dialog.showModal();
    this.dialog.querySelector<HTMLInputElement>('[name=title]')?.focus();
  }

  /** Opens event `e` of the week shown. */
  open(e: CalEvent): void {
    this.#id = e.id;
    this.#doc = this.#app.doc;
    this.#base = null;
    mount(this.dialog);
    this.#render(e);
    this.dialog.showModal();
  }

  /** Re-renders after a change (a remote edit, a pick): the fields being typed into stay. */
  #refresh(): void {
    if (!this.dialog.open || this.#id === null) return;
    const e = readEvent(this.#app.repo, this.#doc, this.#id);
    if (!e) {
      this.dialog.close();
      return;
    }
    this.#render(e);
  }

  #render(e: CalEvent | null): void {
    const app = this.#app;
    const form = this.dialog.querySelector('form');
    const typed = form ? formDraft(form) : null;
    const current: EventDraft = e ? { title: e.title, start: e.start, end: e.end, room: e.room } : this.#base!;
    // Fields the user has changed since the last render keep what they typed.
    const previous = this.#base ?? current;
    const shown: EventDraft = { ...current };
    if (typed) for (const k of ['title', 'start', 'end', 'room'] as const) if (typed[k] !== previous[k]) shown[k] = typed[k];
    this.#base = current;
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.getAttribute('name') : null;
    const selection = document.activeElement instanceof HTMLTextAreaElement || document.activeElement instanceof HTMLInputElement
      ? [document.activeElement.selectionStart, document.activeElement.selectionEnd] : null;

    const id = this.#id;
    const doc = this.#doc;
    const track = (r: ReturnType<typeof writeFields>) => id && app.track(id, r);
    const clashWith = id ? app.clashes.get(id) ?? [] : [];
    const room = e && clashWith.length ? freeRoom(e, app.events) : null;

    const newForm = h(
      'form',
      {
        method: 'dialog',
        onsubmit: (ev: SubmitEvent) => {
          ev.preventDefault();
          this.#save(newForm);
        },
      },
      h('header', {}, h('h2', {}, e ? 'Event' : 'New event'), h('button', { type: 'button', class: 'icon', title: 'Close', onclick: () => this.dialog.close() }, '×')),
      field('Title', h('input', { name: 'title', value: shown.title, required: true, placeholder: 'Design review', autocomplete: 'off' }), e?.conflicts.title, (v) => track(writeFields(app.repo, doc, id!, { title: v }))),
      h(
        'div',
        { class: 'row' },
        field('Day', h('input', { name: 'day', type: 'date', value: dayOf(shown.start), required: true })),
        field('Start', h('input', { name: 'start', type: 'time', value: clock(shown.start), required: true, step: 900 }), e?.conflicts.start, (v) => track(writeFields(app.repo, doc, id!, { start: v })), true),
        field('End', h('input', { name: 'end', type: 'time', value: clock(shown.end), required: true, step: 900 }), e?.conflicts.end, (v) => track(writeFields(app.repo, doc, id!, { end: v })), true),
      ),
      field(
        'Room',
        h('select', { name: 'room' }, h('option', { value: '' }, 'No room'), ROOMS.map((r) => h('option', { value: r, selected: r === shown.room }, r))),
        e?.conflicts.room,
        (v) => track(writeFields(app.repo, doc, id!, { room: v })),
      ),
      e && clashWith.length
        ? h(
            'div',
            { class: 'alert clash' },
            h('strong', {}, 'Double booked. '),
            `${e.room} is also booked by `,
            clashWith.flatMap((other, i) => {
              const o = app.events.find((x) => x.id === other);
              return [i ? ', ' : '', h('em', {}, o ? `${o.title} (${clock(o.start)}–${clock(o.end)})` : 'another event')];
            }),
            '.',
            room
              ? h('button', { type: 'button', class: 'fix', onclick: () => track(writeFields(app.repo, doc, id!, { room })) }, `Move to a free room (${room})`)
              : h('span', {}, ' No room is free then: move it to another time.'),
          )
        : null,
      e ? attendees(app, doc, e) : null,
      e ? rsvps(app, doc, e) : null,
      e ? notes(app, doc, e) : null,
      h(
        'footer',
        {},
        e ? h('button', { type: 'button', class: 'danger', onclick: () => { app.track(e.id, deleteEvent(app.repo, doc, e.id)); this.dialog.close(); } }, 'Delete') : null,
        h('span', { class: 'spacer' }),
        h('button', { type: 'button', onclick: () => this.dialog.close() }, e ? 'Close' : 'Cancel'),
        h('button', { type: 'submit', class: 'primary' }, e ? 'Save' : 'Create'),
      ),
    );
    // What is being typed in fields that are not saved on each keystroke survives the render.
    const attendee = form?.querySelector<HTMLInputElement>('[name=attendee]')?.value;
    mount(this.dialog, newForm);
    const input = newForm.querySelector<HTMLInputElement>('[name=attendee]');
    if (input && attendee) input.value = attendee;
    if (focused) {
      const el = newForm.querySelector<HTMLInputElement | HTMLTextAreaElement>(`[name="${focused}"]`);
      el?.focus();
      if (el && selection && 'setSelectionRange' in el && el.type !== 'date' && el.type !== 'time') {
        try {
          el.setSelectionRange(selection[0], selection[1]);
        } catch {
          // not a text field
        }
      }
    }
  }

  #save(form: HTMLFormElement): void {
    const app = this.#app;
    const draft = formDraft(form);
    if (draft.end <= draft.start) draft.end = at(dayOf(draft.start), Math.min(minutesOf(draft.start) + 60, 24 * 60 - 1));
    if (this.#id === null) {
      const created = createEvent(app.repo, draft);
      app.track(created.id, created.receipt);
    } else {
      const base = this.#base!;
      const changed: Partial<EventDraft> = {};
      for (const k of ['title', 'room'] as const) if (draft[k] !== base[k]) changed[k] = draft[k];
      if (draft.start !== base.start) {
        const moved = moveEvent(app.repo, this.#doc, this.#id, draft.start, draft.end);
        app.track(moved.id, moved.receipt);
        this.#id = moved.id;
        this.#doc = moved.doc;
      } else if (draft.end !== base.end) {
        changed.end = draft.end;
      }
      app.track(this.#id, writeFields(app.repo, this.#doc, this.#id, changed));
    }
    app.refresh();
    this.dialog.close();
  }
}

/** The register values in `form`. */
function formDraft(form: HTMLFormElement): EventDraft {
  const data = new FormData(form);
  const day = String(data.get('day') ?? '');
  return {
    title: String(data.get('title') ?? '').trim(),
    start: `${day}T${String(data.get('start') ?? '00:00')}`,
    end: `${day}T${String(data.get('end') ?? '00:00')}`,
    room: String(data.get('room') ?? ''),
  };
}

/** A labelled input; with `conflict`, every concurrent value and a button to keep it. */
function field(label: string, input: HTMLElement, conflict?: string[], pick?: (value: string) => void, isTime = false): HTMLElement {
  return h(
    'label',
    { class: `field${conflict ? ' in-conflict' : ''}` },
    h('span', { class: 'label' }, label),
    input,
    conflict && pick
      ? h(
          'div',
          { class: 'conflict-box', dataset: { conflict: label.toLowerCase() } },
          h('div', { class: 'conflict-head' }, `⚠ Changed on two devices at once. Keep:`),
          conflict.map((value) =>
            h(
              'button',
              { type: 'button', class: 'pick', dataset: { value }, onclick: () => pick(value) },
              h('span', {}, isTime ? clock(value) || value : value || '(empty)'),
              h('small', {}, 'Keep this'),
            ),
          ),
        )
      : null,
  );
}

function attendees(app: App, doc: string, e: CalEvent): HTMLElement {
  const input = h('input', { name: 'attendee', placeholder: 'Add someone', autocomplete: 'off' });
  const add = () => {
    const who = input.value.trim();
    if (!who) return;
    app.track(e.id, setAttendee(app.repo, doc, e.id, who, true));
    input.value = '';
  };
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      add();
    }
  });
  return h(
    'div',
    { class: 'field' },
    h('span', { class: 'label' }, `Attendees (${e.attendees.length})`),
    h(
      'div',
      { class: 'chips' },
      e.attendees.map((who) =>
        h('span', { class: 'chip', dataset: { attendee: who } }, who, h('button', { type: 'button', title: `Remove ${who}`, onclick: () => app.track(e.id, setAttendee(app.repo, doc, e.id, who, false)) }, '×')),
      ),
      input,
      h('button', { type: 'button', class: 'small', onclick: add }, 'Add'),
    ),
  );
}

function rsvps(app: App, doc: string, e: CalEvent): HTMLElement {
  return h(
    'div',
    { class: 'field' },
    h('span', { class: 'label' }, 'RSVPs'),
    h(
      'div',
      { class: 'rsvps' },
      ANSWERS.map((a) =>
        h('button', { type: 'button', class: `rsvp ${a}`, dataset: { answer: a }, onclick: () => app.track(e.id, answer(app.repo, doc, e.id, a)) }, ANSWER_LABELS[a], h('strong', {}, e.rsvp[a])),
      ),
    ),
  );
}

function notes(app: App, doc: string, e: CalEvent): HTMLElement {
  return h(
    'label',
    { class: 'field' },
    h('span', { class: 'label' }, 'Notes'),
    h('textarea', {
      name: 'notes',
      rows: 3,
      value: e.notes,
      placeholder: 'Agenda, links… (typed together, live)',
      oninput: (ev: Event) => app.track(e.id, writeNotes(app.repo, doc, e.id, (ev.target as HTMLTextAreaElement).value)),
    }),
  );
}
