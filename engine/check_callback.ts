// One check for callback options, shared by the engine, the adapters and channels.

import { showValue } from "./show_value.ts";

/**
 * Check an optional callback option.
 *
 * @param name The option's name, for the error.
 * @param value The value given.
 * @returns The value.
 * @throws {TypeError} When it is neither undefined nor a function.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkCallback } from "./check_callback.ts";
 * assert.throws(() => checkCallback("onError", "log"), {
 *   message: 'Invalid option onError: "log" is not a function',
 * });
 * ```
 */
export function checkCallback<F>(name: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(`Invalid option ${name}: ${showValue(value)} is not a function`);
  }
  return value;
}
