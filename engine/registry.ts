// The live connections of one handler, so that a server can drain them all at once.

import { checkCount } from "./_validate.ts";

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
   * Close every live connection (1001, or 1012 with `restart`) so that each `terminate` sees
   * `shutdown`, and wait until all of them are over.
   *
   * @param options Whether the server is restarting.
   * @returns A promise that resolves once every connection is over.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve();
    const timeout = checkCount("timeout", options.timeout ?? 10_000, 0);
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
