// What trackers say to each other over the pub/sub topic, and the check of what they hear.
//
// Every message names its node (`n`) and the node's incarnation (`e`, its epoch: a number
// that grows from one start of a node to the next). A node sends only its own entries:
//
//   h  heartbeat:  {t, n, e, s}            s = how many deltas the node has sent so far
//   d  delta:      {t, n, e, s, j, l}      the delta numbered s: joins j, leaves l (refs)
//   s  state:      {t, n, e, s, j}         all the node's entries, as of delta s
//   q  sync ask:   {t, n, e, to}           "send your state" to node `to` (null: every node)
//   b  bye:        {t, n, e}               the node is stopping: drop its entries now
//
// Joins are grouped by topic: [[topic, [[key, meta], ...]], ...]; a meta carries its phx_ref.

import type { PresenceMeta } from "./types.ts";

/** Joins on the wire: per topic, the keys and metas. */
export type WireJoins = [topic: string, entries: [key: string, meta: PresenceMeta][]][];

/** A message between trackers. */
export type Wire =
  | { t: "h"; n: string; e: number; s: number }
  | { t: "d"; n: string; e: number; s: number; j: WireJoins; l: string[] }
  | { t: "s"; n: string; e: number; s: number; j: WireJoins }
  | { t: "q"; n: string; e: number; to: string | null }
  | { t: "b"; n: string; e: number };

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

const isSeq = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0;

function isJoins(value: unknown): value is WireJoins {
  if (!Array.isArray(value)) return false;
  for (const group of value) {
    if (!Array.isArray(group) || typeof group[0] !== "string" || !Array.isArray(group[1])) {
      return false;
    }
    for (const entry of group[1]) {
      if (
        !Array.isArray(entry) || typeof entry[0] !== "string" || !isObject(entry[1]) ||
        typeof entry[1].phx_ref !== "string"
      ) return false;
    }
  }
  return true;
}

/** The message, if it is a well-formed one; `undefined` otherwise. */
export function parseWire(message: unknown): Wire | undefined {
  if (!isObject(message) || typeof message.n !== "string" || !Number.isFinite(message.e)) {
    return undefined;
  }
  switch (message.t) {
    case "h":
      return isSeq(message.s) ? message as Wire : undefined;
    case "d":
      return isSeq(message.s) && message.s > 0 && isJoins(message.j) &&
          Array.isArray(message.l) && message.l.every((ref) => typeof ref === "string")
        ? message as Wire
        : undefined;
    case "s":
      return isSeq(message.s) && isJoins(message.j) ? message as Wire : undefined;
    case "q":
      return message.to === null || typeof message.to === "string" ? message as Wire : undefined;
    case "b":
      return message as Wire;
    default:
      return undefined;
  }
}

/** Group entries by topic for the wire. */
export function joinsOf(entries: Iterable<{ topic: string; key: string; meta: PresenceMeta }>) {
  const byTopic = new Map<string, [string, PresenceMeta][]>();
  for (const { topic, key, meta } of entries) {
    let list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, list = []);
    list.push([key, meta]);
  }
  return [...byTopic] as WireJoins;
}
