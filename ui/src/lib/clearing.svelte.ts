// "Clear completed" with a way back: the packages leave the list at once, and are
// forgotten only after a few seconds in which "Undo" brings them back. Nothing is
// forgotten if the app closes meanwhile (the safe side: they are still listed).

/** How long "Undo" is offered. */
export const UNDO_MS = 8000;

export class Clearing {
  /** Downloads hidden now, to be forgotten when the time is up. */
  ids = $state<ReadonlySet<string>>(new Set());
  #timer: ReturnType<typeof setTimeout> | null = null;
  #forget: ((ids: string[]) => void) | null = null;

  hides(id: string): boolean {
    return this.ids.has(id);
  }

  /** Hides `ids` now and calls `forget` with them once `UNDO_MS` have passed; a
   * clearing still pending is forgotten first. */
  start(ids: string[], forget: (ids: string[]) => void) {
    this.flush();
    this.ids = new Set(ids);
    this.#forget = forget;
    this.#timer = setTimeout(() => this.flush(), UNDO_MS);
  }

  /** Brings the hidden downloads back; nothing is forgotten. */
  undo() {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#forget = null;
    this.ids = new Set();
  }

  /** Forgets the hidden downloads now (time is up, or another clearing starts). */
  flush() {
    if (this.#timer) clearTimeout(this.#timer);
    const forget = this.#forget;
    const ids = [...this.ids];
    this.#timer = null;
    this.#forget = null;
    this.ids = new Set();
    if (forget && ids.length) forget(ids);
  }
}
