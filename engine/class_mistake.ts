// One rule for a class passed where an instance belongs (a handler, a channel): the error names
// the class and says to pass an instance, instead of "init is missing" or "has no join()".

import { showValue } from "./show_value.ts";

/**
 * What is wrong with `value` when it is a class (a `class` declaration or expression) given
 * where an instance of it belongs; `undefined` for anything else.
 *
 * @param value What the caller passed.
 * @returns `"[class Counter] is a class, pass an instance (new Counter())"`, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classMistake } from "./class_mistake.ts";
 * class Counter {}
 * assert.equal(classMistake(Counter), "[class Counter] is a class, pass an instance (new Counter())");
 * assert.equal(classMistake(new Counter()), undefined);
 * ```
 */
export function classMistake(value: unknown): string | undefined {
  if (typeof value !== "function" || !/^class\b/.test(Function.prototype.toString.call(value))) {
    return undefined;
  }
  const how = value.name === "" ? "of it" : `(new ${value.name}())`;
  return `${showValue(value)} is a class, pass an instance ${how}`;
}
