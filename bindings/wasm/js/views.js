// Stored views: what a page last read of a document (`toJSONWithConflicts`), kept in
// localStorage with the document's version, so that the next page load can show it before its
// own replica has loaded (`openBrowserRepo({ onView })`).
//
// A view is only ever shown when it is exactly what the device's database holds: it is kept
// only once the database's owner said it holds that very version (so every change in it is
// durable, and no actor's sequence number in it can be handed out again), and shown only once
// the owner says its version is still that one. A version vector names a set of changes, and a
// set of changes makes one document state, so an equal version means an equal document.
//
// Key `polyarch:<name>:views`: `{ v, views: [[doc, token, json], ...] }`, `json` being the
// view as JSON text (parsed only for the document shown, and a new object each time), the most
// recently kept last, at most MAX_VIEWS documents.

/** Format version of the stored views. */
const VERSION = 1;

/** Documents whose view is kept (the most recently read). */
const MAX_VIEWS = 8;

/** Whether JSON gives `v` back as it is. */
function isJsonScalar(v) {
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  return v === null || typeof v === 'string' || typeof v === 'boolean';
}

/** The stored views of one repo name, and the reads waiting for the owner to vouch for them. */
export class StoredViews {
  #key;
  #views = new Map(); // doc -> { token, json }
  #unconfirmed = new Map(); // doc -> { token, json }

  constructor(name) {
    this.#key = `polyarch:${name}:views`;
    try {
      const stored = JSON.parse(localStorage.getItem(this.#key));
      if (stored?.v === VERSION && Array.isArray(stored.views)) {
        for (const entry of stored.views) {
          const [doc, token, json] = Array.isArray(entry) ? entry : [];
          if (typeof doc === 'string' && typeof token === 'string' && typeof json === 'string') {
            this.#views.set(doc, { token, json });
          }
        }
      }
    } catch {
      // No localStorage, or not JSON: no stored views.
    }
  }

  /** The stored view of `doc` with the version it was read at (`{ token, view }`), or undefined. */
  get(doc) {
    const stored = this.#views.get(doc);
    if (!stored) return undefined;
    try {
      return { token: stored.token, view: JSON.parse(stored.json) };
    } catch {
      return undefined;
    }
  }

  /** The documents that have a stored view. */
  docs() {
    return [...this.#views.keys()];
  }

  /** Notes a read of `doc` at version `token`, to keep once the owner holds that version. */
  read(doc, token, view) {
    // The document part is JSON already; a conflict's values may be bytes or dates, which JSON
    // would not give back as they were: such a read is not kept.
    const exact = view.conflicts.every((c) => c.values.every(isJsonScalar));
    if (this.#views.get(doc)?.token === token || !exact) {
      this.#unconfirmed.delete(doc);
      return;
    }
    this.#unconfirmed.set(doc, { token, json: JSON.stringify(view) });
  }

  /** The documents read at versions the owner has not vouched for yet. */
  unconfirmed() {
    return [...this.#unconfirmed.keys()];
  }

  /**
   * The owner's versions (`{ [doc]: token }`): keeps the reads made at exactly those versions.
   * A read at another version stays unconfirmed (the owner may not hold this page's latest
   * change yet); a newer read replaces it.
   */
  confirm(versions) {
    let kept = false;
    for (const [doc, read] of this.#unconfirmed) {
      if (versions[doc] !== read.token) continue;
      this.#unconfirmed.delete(doc);
      this.#views.delete(doc);
      this.#views.set(doc, read);
      kept = true;
    }
    if (!kept) return;
    while (this.#views.size > MAX_VIEWS) this.#views.delete(this.#views.keys().next().value);
    try {
      const views = [...this.#views].map(([doc, { token, json }]) => [doc, token, json]);
      localStorage.setItem(this.#key, JSON.stringify({ v: VERSION, views }));
    } catch {
      // Storage full or blocked: the next page load opens without a view, as it would anyway.
    }
  }
}
