// How a value appears in an error message: as JSON or `Deno.inspect` would show it, so that `""`,
// `"1"`, `null` and an object cannot be mistaken for one another.
// Runtime-neutral (no Deno.inspect), shared by the engine, pub/sub and telemetry.

/**
 * A short, unambiguous rendering of `value` for an error message: JSON when JSON shows all
 * of it (strings quoted), otherwise as `Deno.inspect` would write it: functions and classes
 * by name, plain objects and arrays two levels deep, instances by their class (shortened
 * past 80 characters).
 *
 * @param value Anything.
 * @returns Its rendering.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showValue } from "./show_value.ts";
 * assert.equal(showValue(""), '""');
 * assert.equal(showValue({ a: 1 }), '{"a":1}');
 * assert.equal(showValue({ send() {} }), "{ send: [function send] }");
 * ```
 */
export function showValue(value: unknown): string {
  return shorten(show(value, 2));
}

// Whether JSON shows all of a value: strings, finite numbers, booleans, null, and plain
// arrays and objects of them.
function isJson(value: unknown, depth = 0): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object" || depth > 4) return false;
  if (Array.isArray(value)) return value.every((v) => isJson(v, depth + 1));
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) &&
    Object.values(value).every((v) => isJson(v, depth + 1));
}

function show(value: unknown, depth: number): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "bigint":
      return `${value}n`;
    case "symbol":
      return value.toString();
    case "function": {
      const source = Function.prototype.toString.call(value);
      const kind = source.startsWith("class") ? "class" : "function";
      return value.name ? `[${kind} ${value.name}]` : `[${kind}]`;
    }
    case "object": {
      if (value === null) return "null";
      if (value instanceof Error) return `${value.name}: ${value.message}`;
      if (isJson(value)) return JSON.stringify(value);
      if (Array.isArray(value)) {
        if (value.length === 0) return "[]";
        return depth === 0 ? "[Array]" : `[ ${value.map((v) => show(v, depth - 1)).join(", ")} ]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        return `[object ${value.constructor?.name ?? "Object"}]`;
      }
      const entries = Object.entries(value);
      if (entries.length === 0) return "{}";
      if (depth === 0) return "[Object]";
      const shown = entries.map(([k, v]) =>
        `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${show(v, depth - 1)}`
      );
      return `{ ${shown.join(", ")} }`;
    }
    default:
      return String(value); // number, boolean, undefined
  }
}

function shorten(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 77)}...`;
}
