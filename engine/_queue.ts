// One connection's event queue: flat (kind, payload) pairs between a head and a tail index.
// It keeps its array between bursts (a mailbox delivery allocates nothing) and drops the
// consumed front under steady load (a queue that never empties must not grow without bound).

/** Event kinds, in the queue and in the engine's dispatch. */
export const INIT = 0;
export const IN = 1;
export const CONTROL = 2;
export const INFO = 3;
export const CLOSED = 4;
/** A data frame to send as it is (`Engine.sendFrame`), in order with the pushes. */
export const FRAME = 5;
export type Kind =
  | typeof INIT
  | typeof IN
  | typeof CONTROL
  | typeof INFO
  | typeof CLOSED
  | typeof FRAME;

export class EventQueue {
  // Made on the first push: most connections are idle most of the time.
  #items: unknown[] | undefined = undefined;
  #head = 0;
  #tail = 0;

  /** How many events wait. */
  get size(): number {
    return (this.#tail - this.#head) >> 1;
  }

  /** Whether no event waits. */
  get empty(): boolean {
    return this.#head >= this.#tail;
  }

  push(kind: Kind, payload: unknown): void {
    const items = this.#items ??= [];
    items[this.#tail] = kind;
    items[this.#tail + 1] = payload;
    this.#tail += 2;
  }

  /** The kind of the next event; call {@linkcode EventQueue.take} next. The queue is not empty. */
  nextKind(): Kind {
    return this.#items![this.#head] as Kind;
  }

  /** Remove the next event and return its payload. */
  take(): unknown {
    const items = this.#items!;
    const payload = items[this.#head + 1];
    items[this.#head + 1] = undefined;
    this.#head += 2;
    if (this.#head >= 1024 && this.#head * 2 >= this.#tail) {
      this.#items = items.slice(this.#head, this.#tail);
      this.#tail -= this.#head;
      this.#head = 0;
    }
    return payload;
  }

  /** The queue ran empty: start over at the front, keeping the array unless a burst grew it. */
  rewind(): void {
    if (this.#head === 0) return;
    this.#head = this.#tail = 0;
    if (this.#items!.length > 256) this.#items = undefined;
  }
}
