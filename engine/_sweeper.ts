// Keep-alive without a timer per connection: one sweeper per clock and period looks at its
// connections every quarter of the shorter limit and lets each decide (see _liveness.ts).

import type { Clock } from "./options.ts";

export class Sweeper<T> {
  readonly #members = new Set<T>();
  readonly #clock: Clock;
  readonly #every: number;
  readonly #tick: (member: T, now: number) => void;
  #timer: unknown = undefined;

  /**
   * @param clock Time and timers.
   * @param every Milliseconds between two looks.
   * @param tick Called for each member at each look.
   */
  constructor(clock: Clock, every: number, tick: (member: T, now: number) => void) {
    this.#clock = clock;
    this.#every = every;
    this.#tick = tick;
  }

  add(member: T): void {
    this.#members.add(member);
    if (this.#timer === undefined) this.#schedule();
  }

  /** Stop watching a member; `true` when none is left (the timer is then cleared). */
  delete(member: T): boolean {
    this.#members.delete(member);
    if (this.#members.size > 0) return false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    return true;
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      const now = this.#clock.now();
      for (const member of this.#members) this.#tick(member, now);
      if (this.#members.size > 0 && this.#timer === undefined) this.#schedule();
    }, this.#every);
  }
}
