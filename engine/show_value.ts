// How a value appears in an error message: as `Deno.inspect` would show it, so that `""`,
// `"1"`, `null` and an object cannot be mistaken for one another.
// Runtime-neutral (no Deno.inspect), shared by the engine, pub/sub and telemetry.

/**
 * A short, unambiguous rendering of `value` for an error message, as `Deno.inspect` would
 * write it: strings quoted, functions and classes by name, plain objects and arrays two
 * levels deep, instances by their class (shortened past 80 characters).
 *
 * @param value Anything.
 * @returns Its rendering.
 *
 * @example
 * ```ts
 * import { showValue } from "./show_value.ts";
 * showValue(""); // '""'
 * showValue({ a: 1 }); // "{ a: 1 }"
 * ```
 */
export function showValue(value: unknown): string {
  return shorten(show(value, 2));
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
