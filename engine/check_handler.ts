// A handler is checked when it is handed over (the adapter function, TestConnection.start,
// new Engine), not when the first connection runs it: a TypeError naming what is missing,
// instead of every connection ending 1011, or a crash of the whole process.

import { showValue } from "./show_value.ts";
import { classMistake } from "./class_mistake.ts";

const REQUIRED = ["init", "handleIn"] as const;
const OPTIONAL = ["handleControl", "handleInfo", "terminate"] as const;

/**
 * Check that `handler` is a {@linkcode WebSock} handler: an object (a plain one or a class
 * instance) with `init` and `handleIn` functions, and `handleControl`, `handleInfo` and
 * `terminate` functions where present.
 *
 * @param handler What the caller passed.
 * @param where The function it was passed to, for the error (`websockHandler()`).
 * @throws {TypeError} When it is not a handler, naming what is wrong.
 *
 * @example A handler without handleIn
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkHandler } from "@websock/websock/engine";
 *
 * assert.throws(() => checkHandler({ init: () => null }, "websockHandler()"), {
 *   name: "TypeError",
 *   message: "Invalid handler for websockHandler(): handleIn is missing",
 * });
 * ```
 */
export function checkHandler(handler: unknown, where: string): void {
  const invalid = (why: string) => new TypeError(`Invalid handler for ${where}: ${why}`);
  const mistake = classMistake(handler);
  if (mistake !== undefined) throw invalid(mistake);
  if (handler === null || typeof handler !== "object") {
    throw invalid(`${showValue(handler)} is not an object with init and handleIn`);
  }
  const callbacks = handler as Record<string, unknown>;
  for (const name of REQUIRED) {
    if (callbacks[name] === undefined) throw invalid(`${name} is missing`);
  }
  for (const name of [...REQUIRED, ...OPTIONAL]) {
    const value = callbacks[name];
    if (value !== undefined && typeof value !== "function") {
      throw invalid(`${name} is ${showValue(value)}, not a function`);
    }
  }
}
