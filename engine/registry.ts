// The live connections of one handler, so that a server can drain them all at once.

import { checkInteger } from "./check_integer.ts";
import { showValue } from "./show_value.ts";

/** What a registry asks of a connection's engine: to close, and to be given up on. */
export interface Drainable {
  /** Close because the server is going away (1001) or restarting (1012). */
  shutdown(restart: boolean): void;
  /** Give up on a connection whose callbacks did not settle in time. */
  abandon(): void;
}

/** Options for {@linkcode Registry.shutdown}. */
export interface ShutdownOptions {
  /** Close with 1012 (service restart) instead of 1001 (going away). */
  readonly restart?: boolean;
  /**
   * Milliseconds to wait for in-flight callbacks and async `terminate`s; connections still
   * busy then are abandoned (their `terminate` runs at once with the last good state).
   * @default {10000}
   */
  readonly timeout?: number;
}

/**
 * The live connections of one handler. Give it to each engine (`registry` in
 * `EngineInit`): the engine adds itself and removes itself once it is over;
 * {@linkcode Registry.shutdown} closes them all and waits for every `terminate`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Registry } from "@websock/websock/engine";
 * const registry = new Registry();
 * assert.equal(registry.size, 0);
 * await registry.shutdown(); // no connections: resolves at once
 * ```
 */
export class Registry {
  readonly #live = new Set<Drainable>();
  readonly #afterDrain = new Set<() => Promise<void>>();
  #waiters: (() => void)[] = [];

  /** How many connections are live. */
  get size(): number {
    return this.#live.size;
  }

  /**
   * Track an engine.
   *
   * @param engine The engine of a new connection.
   */
  add(engine: Drainable): void {
    this.#live.add(engine);
  }

  /**
   * Forget an engine: its connection is over (the engine calls it).
   *
   * @param engine The engine whose connection is over.
   */
  delete(engine: Drainable): void {
    if (this.#live.delete(engine) && this.#live.size === 0 && this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /**
   * Add a step that {@linkcode Registry.shutdown} awaits once every connection is over, before
   * it resolves: for an adapter whose runtime still has work to do then for the server to stop
   * cleanly (Deno's adapter waits until its deferred close frames were written, or Deno's
   * `server.shutdown()` right after would send its own 1001). Adding the same step again
   * keeps it once, so an adapter may add it for every connection.
   *
   * @param step What to wait for after a drain (and after a shutdown with no connection).
   * @throws {TypeError} When `step` is not a function.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Registry } from "@websock/websock/engine";
   * const registry = new Registry();
   * const steps: string[] = [];
   * const flush = async () => void steps.push("flushed");
   * registry.afterDrain(flush);
   * registry.afterDrain(flush); // once only
   * await registry.shutdown();
   * assert.deepEqual(steps, ["flushed"]);
   * ```
   */
  afterDrain(step: () => Promise<void>): void {
    if (typeof step !== "function") {
      throw new TypeError(`Invalid afterDrain step: ${showValue(step)} is not a function`);
    }
    this.#afterDrain.add(step);
  }

  /**
   * Close every live connection (1001, or 1012 with `restart`) so that each `terminate` sees
   * `shutdown`, wait until all of them are over, then for the steps of
   * {@linkcode Registry.afterDrain}.
   *
   * @param options Whether the server is restarting.
   * @returns A promise that resolves once every connection is over and every step is done.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const drained = this.#drain(options);
    if (this.#afterDrain.size === 0) return drained;
    const steps = [...this.#afterDrain];
    return drained.then(() => Promise.all(steps.map((step) => step()))).then(() => {});
  }

  #drain(options: ShutdownOptions): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve();
    const timeout = checkInteger("timeout", options.timeout ?? 10_000, 0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = new Promise<void>((resolve) => this.#waiters.push(resolve))
      .finally(() => clearTimeout(timer));
    for (const engine of [...this.#live]) engine.shutdown(options.restart ?? false);
    if (this.#live.size > 0) {
      timer = setTimeout(() => {
        for (const engine of [...this.#live]) engine.abandon();
      }, timeout);
    }
    return done;
  }
}
