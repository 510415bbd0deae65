// One test for "a promise, or a hand-made thenable", shared by the engine, telemetry and
// pub/sub.

/**
 * Whether a value is a promise or a hand-made thenable (an object with a `then` method).
 *
 * @param value Anything.
 * @returns Whether it can be awaited as a promise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isThenable } from "./is_thenable.ts";
 * assert.equal(isThenable(Promise.resolve(1)), true);
 * assert.equal(isThenable({ then: 1 }), false);
 * ```
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
}
