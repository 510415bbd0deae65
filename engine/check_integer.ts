// One check for whole-number options, shared by the engine, the adapters and pub/sub.

import { showValue } from "./show_value.ts";

/**
 * Check a whole-number option.
 *
 * @param name The option's name, for the error.
 * @param value The value given.
 * @param min The smallest allowed value.
 * @returns The value.
 * @throws {TypeError} When the value is not a number.
 * @throws {RangeError} When it is not a safe integer at least `min`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkInteger } from "./check_integer.ts";
 * assert.equal(checkInteger("maxLength", 10, 1), 10);
 * ```
 */
export function checkInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== "number") {
    throw new TypeError(`Invalid option ${name}: ${showValue(value)} is not a number`);
  }
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`Invalid option ${name}: ${showValue(value)} is not an integer >= ${min}`);
  }
  return value;
}
