// Tab slots: a bounded set of identities (device id and automerge actor) that page loads of one
// origin and repo name take turns with, so that the device's database meets as many page
// devices, and its documents hold as many page actors, as tabs were ever open at once, not as
// many as there were page loads. See the package README ("Actor ids").
//
// Slot `k` is the Web Lock `polyarch:<name>:slot:<k>`; a page holds the lowest free one for its
// lifetime (the browser releases it when the page goes away, even by a crash). The slot's
// identity is kept in localStorage under the same key, so every tab of the origin can read it,
// and only the slot's holder writes it. It records the database it was used with (`db`, the
// database's device id): a slot whose actor wrote to another database (this one was wiped
// while localStorage was kept) must not continue that actor's sequence here.

/** Format version of the stored identity. */
const VERSION = 1;

/** More slots than this means something is wrong with the locks: give up on slots. */
const MAX_SLOTS = 1024;

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const randomId = () => hex(crypto.getRandomValues(new Uint8Array(16)));
const HEX32 = /^[0-9a-f]{32}$/;

/** A new identity, bound to no database yet. */
function fresh() {
  return { v: VERSION, device: randomId(), actor: randomId(), db: null };
}

function read(key) {
  try {
    const id = JSON.parse(localStorage.getItem(key));
    const valid = id?.v === VERSION && HEX32.test(id.device) && HEX32.test(id.actor) && (id.db === null || HEX32.test(id.db));
    return valid ? id : null;
  } catch {
    return null;
  }
}

/** Takes the lowest free slot's lock; resolves to `{ index, release }`. */
async function lowestFree(name) {
  for (let index = 0; index < MAX_SLOTS; index++) {
    const release = await new Promise((granted, failed) => {
      navigator.locks
        .request(`polyarch:${name}:slot:${index}`, { ifAvailable: true }, (lock) => {
          if (!lock) return granted(null);
          // Held until `release` is called (or the page goes away).
          return new Promise((done) => granted(done));
        })
        .catch(failed);
    });
    if (release) return { index, release };
  }
  return null;
}

/**
 * Leases a tab slot for the repo `name`: resolves to a `Slot`, or `null` where a slot's identity
 * cannot be kept (no localStorage): the page then writes as a new actor, as a new device.
 */
export async function leaseSlot(name) {
  try {
    localStorage.getItem('polyarch:probe');
  } catch {
    return null;
  }
  const lease = await lowestFree(name);
  return lease && new Slot(name, lease.index, lease.release);
}

/** A leased tab slot and its identity. */
export class Slot {
  #key;
  #release;

  constructor(name, index, release) {
    this.index = index;
    this.#key = `polyarch:${name}:slot:${index}`;
    this.#release = release;
    this.identity = read(this.#key);
    if (!this.identity) {
      this.identity = fresh();
      this.#store(this.identity);
    }
  }

  /**
   * Whether this slot's actor may continue its sequence in the database whose device id is
   * `db` (the first one it meets becomes its own). If it belongs to another database, the
   * slot takes a new identity for its next page (this page keeps writing as its own actor).
   */
  vouchesFor(db) {
    if (this.identity.db === db) return true;
    if (this.identity.db === null) {
      // Bound before the actor first writes here, or not used here at all.
      const bound = { ...this.identity, db };
      if (!this.#store(bound)) return false;
      this.identity = bound;
      return true;
    }
    this.#store({ ...fresh(), db });
    return false;
  }

  /** Frees the slot for the next page. */
  release() {
    this.#release();
  }

  /** Saves the slot's identity for its next pages; returns whether it could. */
  #store(identity) {
    try {
      localStorage.setItem(this.#key, JSON.stringify(identity));
      return true;
    } catch {
      return false; // Storage full or blocked.
    }
  }
}
