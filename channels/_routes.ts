// Topic patterns: "room:*" matches every topic that starts with "room:", "user:42" only
// itself. The first route that matches wins, in the order they were given.

import type { Channel } from "./channel.ts";

type Definition = Channel<unknown, unknown, unknown>;

/** The routes of one app, checked. */
export class Routes {
  readonly #exact = new Map<string, Definition>();
  readonly #prefixes: [string, Definition][] = [];
  readonly #order = new Map<Definition, number>();

  constructor(routes: Readonly<Record<string, unknown>>) {
    if (routes === null || typeof routes !== "object") {
      throw new TypeError(`Invalid routes: ${String(routes)} is not an object`);
    }
    let i = 0;
    for (const [pattern, definition] of Object.entries(routes)) {
      const star = pattern.indexOf("*");
      if (star !== -1 && star !== pattern.length - 1) {
        throw new TypeError(`Invalid route ${pattern}: "*" may only end a pattern`);
      }
      if (
        definition === null || typeof definition !== "object" ||
        typeof (definition as { join?: unknown }).join !== "function"
      ) {
        throw new TypeError(`Invalid route ${pattern}: the channel has no join()`);
      }
      const d = definition as Definition;
      const intercept = d.intercept;
      if (
        intercept !== undefined &&
        (!Array.isArray(intercept) || intercept.some((e) => typeof e !== "string"))
      ) {
        throw new TypeError(`Invalid route ${pattern}: intercept must be a list of event names`);
      }
      if (star === -1) {
        if (!this.#exact.has(pattern)) this.#exact.set(pattern, d);
      } else this.#prefixes.push([pattern.slice(0, -1), d]);
      this.#order.set(d, Math.min(this.#order.get(d) ?? Infinity, i++));
    }
  }

  /** The channel that serves a topic, or `undefined`. */
  match(topic: string): Definition | undefined {
    const exact = this.#exact.get(topic);
    for (const [prefix, definition] of this.#prefixes) {
      if (!topic.startsWith(prefix)) continue;
      if (exact === undefined || this.#order.get(definition)! < this.#order.get(exact)!) {
        return definition;
      }
      break;
    }
    return exact;
  }
}
