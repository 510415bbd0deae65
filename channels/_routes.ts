// Topic patterns: "room:*" matches every topic that starts with "room:", "user:42" only
// itself. The first route that matches wins, in the order they were given.

import type { Channel } from "./channel.ts";
import { classMistake } from "../engine/class_mistake.ts";
import { showValue } from "../engine/show_value.ts";

type Definition = Channel<unknown, unknown, unknown>;

/** The routes of one app, checked. */
export class Routes {
  readonly #exact = new Map<string, Definition>();
  readonly #prefixes: [string, Definition][] = [];
  readonly #order = new Map<Definition, number>();

  constructor(routes: Readonly<Record<string, unknown>>) {
    if (routes === null || typeof routes !== "object" || Array.isArray(routes)) {
      throw new TypeError(`Invalid routes: ${showValue(routes)} is not an object`);
    }
    let i = 0;
    for (const [pattern, definition] of Object.entries(routes)) {
      const star = pattern.indexOf("*");
      if (star !== -1 && star !== pattern.length - 1) {
        throw new TypeError(`Invalid route ${JSON.stringify(pattern)}: "*" may only end a pattern`);
      }
      const d = checkChannel(pattern, definition);
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

// The optional callbacks of a channel: each, where present (not undefined), a function.
const CALLBACKS = ["handleIn", "handleInfo", "handleOut", "terminate"] as const;

// A route's channel: an object (a plain one or a class instance) with a join function, its
// other callbacks functions and intercept a list of event names where present.
function checkChannel(pattern: string, definition: unknown): Definition {
  const invalid = (why: string) =>
    new TypeError(`Invalid route ${JSON.stringify(pattern)}: ${why}`);
  const mistake = classMistake(definition);
  if (mistake !== undefined) throw invalid(mistake);
  if (definition === null || typeof definition !== "object") {
    throw invalid(`${showValue(definition)} is not a channel (an object with join)`);
  }
  const { join, intercept } = definition as { join?: unknown; intercept?: unknown };
  if (join === undefined) throw invalid(`${showValue(definition)} has no join()`);
  if (typeof join !== "function") throw invalid(`join is ${showValue(join)}, not a function`);
  if (
    intercept !== undefined &&
    (!Array.isArray(intercept) || intercept.some((e) => typeof e !== "string"))
  ) {
    throw invalid(`intercept is ${showValue(intercept)}, not a list of event names`);
  }
  for (const name of CALLBACKS) {
    const callback = (definition as Record<string, unknown>)[name];
    if (callback !== undefined && typeof callback !== "function") {
      throw invalid(`${name} is ${showValue(callback)}, not a function`);
    }
  }
  return definition as Definition;
}
