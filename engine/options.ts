// The options every adapter shares, their defaults, and their validation.

import type { ErrorContext, Telemetry } from "./telemetry.ts";
import { showValue } from "./show_value.ts";
import { checkCallback } from "./check_callback.ts";
import { checkInteger } from "./check_integer.ts";
import { checkTelemetry } from "./_validate.ts";

export type { ErrorContext, ErrorSource } from "./telemetry.ts";

/** A source of time and timers; replace it to control time in tests. */
export interface Clock {
  /** Milliseconds since some fixed point. */
  now(): number;
  /** Call `callback` after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancel a timer made by `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/** The options that shape a connection's engine, shared by every adapter. */
export interface EngineOptions {
  /**
   * Liveness, in milliseconds: a peer that sent nothing (no message, no ping, no pong) for
   * about half of this is pinged, and a peer that still shows no sign of life after `timeout`
   * is closed with 1001 (`terminate` sees `timeout`), at most a quarter of it later. A peer
   * that answers pings stays however long it only reads. On Deno, Deno's own keep-alive
   * (`idleTimeout`) does this. `0` turns it off.
   * @default {60000}
   */
  timeout?: number;
  /**
   * A limit on application data, in milliseconds: close with 1001 (`terminate` sees
   * `timeout`) a peer that sent no data message for this long, even one that answers pings.
   * `0` turns it off.
   * @default {0}
   */
  dataTimeout?: number;
  /**
   * The largest message, in bytes, a peer may send; a larger one closes the connection with
   * 1009 and `terminate` sees an error.
   * @default {1048576}
   */
  maxMessageBytes?: number;
  /**
   * How many events (received messages and mailbox messages) may wait for the handler;
   * one more closes the connection with 1013 and `terminate` sees an error.
   * @default {1024}
   */
  maxQueuedEvents?: number;
  /**
   * How many bytes a peer may leave unread; more closes the connection with 1008 and
   * `terminate` sees an error. Looked at before queuing a message, at least every 64 KiB
   * sent; what was queued since the previous look does not count, so one large message never
   * closes a peer that takes it. A peer that stops reading holds at most this + 2 × (64 KiB +
   * the largest message sent). Its 1008 close frame waits behind what it left unread: on Node
   * and Bun it reaches a peer that reads again within about 4 s, then the connection is dropped
   * without it (Deno keeps the connection until the peer reads or goes).
   * @default {16777216}
   */
  maxBufferedBytes?: number;
  /**
   * Told of every error a callback throws, every invalid result, and every failed
   * `terminate`; none of it reaches the client.
   * @default {Logs with console.error}
   */
  onError?: (error: unknown, context: ErrorContext) => void;
  /**
   * Time and timers.
   * @default {The global Date.now, setTimeout and clearTimeout}
   */
  clock?: Clock;
  /**
   * Told what every connection does: starts and stops (with messages, bytes and close codes),
   * refused upgrades, errors, dropped mailbox messages, slow peers. See {@linkcode Telemetry};
   * `Metrics` from `@websock/websock/telemetry` is one.
   * @default {None: nothing is counted}
   */
  telemetry?: Telemetry;
}

/** Options after validation, with every default filled in. */
export interface ResolvedEngineOptions {
  /** See {@linkcode EngineOptions.timeout}. */
  readonly timeout: number;
  /** See {@linkcode EngineOptions.dataTimeout}. */
  readonly dataTimeout: number;
  /** See {@linkcode EngineOptions.maxMessageBytes}. */
  readonly maxMessageBytes: number;
  /** See {@linkcode EngineOptions.maxQueuedEvents}. */
  readonly maxQueuedEvents: number;
  /** See {@linkcode EngineOptions.maxBufferedBytes}. */
  readonly maxBufferedBytes: number;
  /** Bytes sent between two looks at the peer's buffer. */
  readonly checkBufferedEvery: number;
  /** See {@linkcode EngineOptions.onError}. */
  readonly onError: (error: unknown, context: ErrorContext) => void;
  /** See {@linkcode EngineOptions.clock}. */
  readonly clock: Clock;
  /** See {@linkcode EngineOptions.telemetry}. */
  readonly telemetry: Telemetry | undefined;
}

/** The names of {@linkcode EngineOptions}, for `checkOptionNames`. */
export const ENGINE_OPTION_NAMES: readonly string[] = [
  "timeout",
  "dataTimeout",
  "maxMessageBytes",
  "maxQueuedEvents",
  "maxBufferedBytes",
  "onError",
  "clock",
  "telemetry",
];

/** The defaults of {@linkcode EngineOptions}. */
export const DEFAULTS = {
  timeout: 60_000,
  dataTimeout: 0,
  maxMessageBytes: 1024 * 1024,
  maxQueuedEvents: 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
} as const;

/** The global clock: `Date.now`, `setTimeout` and `clearTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/**
 * Check a clock option: an object with `now`, `setTimeout` and `clearTimeout`.
 *
 * @param clock The value given.
 * @returns The clock.
 * @throws {TypeError} When it is not a clock.
 */
export function checkClock<C>(clock: C): C {
  const methods = clock as Record<string, unknown> | null;
  for (const name of ["now", "setTimeout", "clearTimeout"]) {
    if (typeof methods?.[name] !== "function") {
      throw new TypeError(`Invalid option clock: ${showValue(clock)} has no ${name}() method`);
    }
  }
  return clock;
}

function logError(error: unknown, context: ErrorContext): void {
  const where = context.connection ? ` on ${context.connection.url}` : "";
  console.error(`websock: ${context.source} failed${where}:`, error);
}

/**
 * Validate engine options and fill in the defaults. Adapters call it once per handler, not
 * per connection.
 *
 * @param options The options a user passed.
 * @returns The resolved options.
 * @throws {TypeError} When an option has the wrong type.
 * @throws {RangeError} When an option is out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveEngineOptions } from "@websock/websock/engine";
 * const options = resolveEngineOptions({ timeout: 5_000 });
 * assert.equal(options.timeout, 5_000);
 * assert.equal(options.maxMessageBytes, 1024 * 1024); // the defaults filled in
 * ```
 */
export function resolveEngineOptions(options: EngineOptions = {}): ResolvedEngineOptions {
  // `undefined` takes the default; anything else, `null` included, must be valid.
  const count = (name: keyof typeof DEFAULTS, min: number): number => {
    const value = options[name];
    return value === undefined ? DEFAULTS[name] : checkInteger(name, value, min);
  };
  const maxBufferedBytes = count("maxBufferedBytes", 1);
  const onError = checkCallback("onError", options.onError);
  const telemetry = checkTelemetry(options.telemetry);
  return {
    timeout: count("timeout", 0),
    dataTimeout: count("dataTimeout", 0),
    maxMessageBytes: count("maxMessageBytes", 1),
    maxQueuedEvents: count("maxQueuedEvents", 1),
    maxBufferedBytes,
    checkBufferedEvery: Math.max(1, Math.min(64 * 1024, Math.floor(maxBufferedBytes / 4))),
    onError: withTelemetry(onError ?? logError, telemetry),
    clock: options.clock === undefined ? systemClock : checkClock(options.clock),
    telemetry,
  };
}

// The error hook, telling telemetry first (a throw there is ignored).
function withTelemetry(
  onError: (error: unknown, context: ErrorContext) => void,
  telemetry: Telemetry | undefined,
): (error: unknown, context: ErrorContext) => void {
  if (telemetry?.onCallbackError === undefined) return onError;
  return (error, context) => {
    try {
      telemetry.onCallbackError!({ error, source: context.source, connection: context.connection });
    } catch {
      // Telemetry must not change what happens.
    }
    onError(error, context);
  };
}
