// A clock whose time moves only when a test says so.

import type { Clock } from "../engine/mod.ts";

/**
 * A {@linkcode Clock} for tests: `now()` starts at 0 and timers fire only inside
 * {@linkcode FakeClock.advance}, in due order.
 *
 * @example Timers fire when the test advances the clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { FakeClock } from "@websock/websock/testing";
 *
 * const clock = new FakeClock();
 * let fired = false;
 * clock.setTimeout(() => fired = true, 100);
 * clock.advance(99);
 * assert.equal(fired, false);
 * clock.advance(1);
 * assert.equal(fired, true);
 * assert.equal(clock.now(), 100);
 * ```
 */
export class FakeClock implements Clock {
  #now = 0;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  /** The current time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /**
   * Schedule a callback `ms` milliseconds from now.
   *
   * @param callback What to call.
   * @param ms The delay.
   * @returns The timer's handle.
   */
  setTimeout(callback: () => void, ms: number): number {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  /**
   * Cancel a timer.
   *
   * @param handle The handle `setTimeout` returned.
   */
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Move time forward, firing every timer that falls due (and those they schedule), in order.
   *
   * @param ms Milliseconds to advance.
   */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let nextId = 0;
      let next: { at: number; callback: () => void } | undefined;
      for (const [id, timer] of this.#timers) {
        if (timer.at <= end && (next === undefined || timer.at < next.at)) {
          next = timer;
          nextId = id;
        }
      }
      if (next === undefined) break;
      this.#timers.delete(nextId);
      this.#now = next.at;
      next.callback();
    }
    this.#now = end;
  }
}
