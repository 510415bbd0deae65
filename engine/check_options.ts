// Option names: an options object may hold only the names its function reads. A misspelled
// or inapplicable option is otherwise silently ignored at run time (JavaScript callers and
// spread options get no compile-time help), so it is refused with the nearest known name.

import { showValue } from "./show_value.ts";

/**
 * Check that `options` is an object (or `undefined`) whose own names are all in `known`; a
 * name in `refused` (known or not) is refused with its reason (an option another runtime honours, a removed
 * one) unless its value is `false` or `undefined`, any other unknown name with a suggestion of
 * the nearest known one.
 *
 * @param options What the caller passed.
 * @param known The option names the function reads.
 * @param refused Names refused with a reason of their own, such as `perMessageDeflate` on a
 *   runtime that cannot compress.
 * @throws {TypeError} When `options` is not an object, or holds a name it should not.
 *
 * @example A misspelled option
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptionNames } from "@websock/websock/engine";
 *
 * assert.throws(
 *   () => checkOptionNames({ timout: 5_000 }, ["timeout", "maxMessageBytes"]),
 *   { name: "TypeError", message: 'Unknown option "timout": did you mean "timeout"?' },
 * );
 * ```
 */
export function checkOptionNames(
  options: unknown,
  known: readonly string[],
  refused: Readonly<Record<string, string>> = {},
): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`Invalid options: ${showValue(options)} is not an object`);
  }
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(refused, name) && known.includes(name)) continue;
    if (Object.hasOwn(refused, name)) {
      // `false` (or `undefined`) asks for nothing the function lacks: portable options may say so.
      const value = (options as Record<string, unknown>)[name];
      if (value === false || value === undefined) continue;
      throw new TypeError(`Invalid option ${name}: ${refused[name]}`);
    }
    const nearest = suggest(name, known);
    throw new TypeError(
      nearest === undefined
        ? `Unknown option ${JSON.stringify(name)}: expected one of ${known.join(", ")}`
        : `Unknown option ${JSON.stringify(name)}: did you mean ${JSON.stringify(nearest)}?`,
    );
  }
}

// The known name nearest to `name`: same letters in another case, or a few edits away.
function suggest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const other = candidate.toLowerCase();
    if (other === lower) return candidate;
    const distance = editDistance(lower, other);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

// Levenshtein distance, one row at a time.
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min(previous[j] + 1, row[j - 1] + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length];
}
