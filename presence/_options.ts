// The options of a Tracker, checked, with their defaults; the checks of its arguments and metas.

import { checkClock, type Clock, systemClock } from "../engine/options.ts";
import { checkCallback } from "../engine/check_callback.ts";
import { classMistake } from "../engine/class_mistake.ts";
import { checkOptionNames } from "../engine/check_options.ts";
import { showValue } from "../engine/show_value.ts";
import { utf8Length } from "../engine/utf8_length.ts";
import type { PresenceDiff, PresenceMeta, PresencePubSub, TrackerOptions } from "./types.ts";

/** Every option of a tracker, resolved. */
export interface Resolved {
  readonly pubsub: PresencePubSub | undefined;
  readonly name: string;
  readonly topic: string;
  readonly heartbeatInterval: number;
  readonly downAfter: number;
  readonly batchDelay: number;
  readonly maxEntries: number;
  readonly maxMetaBytes: number;
  readonly maxNodes: number;
  readonly onDiff: (topic: string, diff: PresenceDiff) => void;
  readonly onError: (error: unknown) => void;
  readonly clock: Clock;
  readonly epoch: number;
}

/** A random URL-safe id of `bytes` random bytes. */
export function randomId(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...random)).replaceAll("+", "-").replaceAll("/", "_")
    .replaceAll("=", "");
}

function atLeast(name: string, value: unknown, min: number): number {
  if (typeof value !== "number") {
    throw new TypeError(`Invalid option ${name}: ${showValue(value)} is not a number`);
  }
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(`Invalid option ${name}: ${showValue(value)} is not a number >= ${min}`);
  }
  return value;
}

function checkName(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`Invalid option ${name}: ${showValue(value)} is not a ${name}`);
  }
}

/** Throw unless the topic and key are strings (a topic not empty). */
export function checkWhere(what: string, topic: unknown, key: unknown): void {
  if (typeof topic !== "string" || topic === "") {
    throw new TypeError(`Cannot ${what}: topic ${showValue(topic)} is not a topic`);
  }
  if (typeof key !== "string") {
    throw new TypeError(`Cannot ${what} in ${topic}: key ${showValue(key)} is not a string`);
  }
}

/** Throw unless the owner is an object. */
export function checkOwner(what: string, owner: unknown): void {
  if (owner === null || (typeof owner !== "object" && typeof owner !== "function")) {
    throw new TypeError(`Cannot ${what}: owner ${showValue(owner)} is not an object`);
  }
}

/**
 * A meta as stored: a frozen copy with the tracker's `phx_ref` (and `phx_ref_prev` after an
 * update), the caller's own dropped; over `maxBytes` of JSON it throws a RangeError.
 */
export function frozenMeta(
  what: string,
  meta: unknown,
  ref: string,
  prev: string | undefined,
  maxBytes: number,
): PresenceMeta {
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
    throw new TypeError(`Cannot ${what}: meta ${showValue(meta)} is not an object`);
  }
  const { phx_ref: _ref, phx_ref_prev: _prev, ...rest } = meta as Record<string, unknown>;
  const copy: Record<string, unknown> = prev === undefined
    ? { ...rest, phx_ref: ref }
    : { ...rest, phx_ref: ref, phx_ref_prev: prev };
  if (maxBytes !== Infinity) {
    const bytes = utf8Length(JSON.stringify(copy));
    if (bytes > maxBytes) {
      throw new RangeError(
        `Cannot ${what}: meta of ${bytes} bytes is over maxMetaBytes (${maxBytes})`,
      );
    }
  }
  return Object.freeze(copy) as PresenceMeta;
}

function checkPubSub(pubsub: unknown): void {
  const mistake = classMistake(pubsub);
  if (mistake !== undefined) throw new TypeError(`Invalid option pubsub: ${mistake}`);
  for (const method of ["subscribe", "unsubscribe", "publish"]) {
    if (typeof (pubsub as Record<string, unknown> | null)?.[method] !== "function") {
      throw new TypeError(`Invalid option pubsub: ${showValue(pubsub)} has no ${method}() method`);
    }
  }
}

/** The error hook, made never to throw: it must not break the tracker. */
function guarded(onError: (error: unknown) => void): (error: unknown) => void {
  return (error) => {
    try {
      onError(error);
    } catch {
      // ignored: see above
    }
  };
}

const OPTION_NAMES = [
  "pubsub",
  "name",
  "topic",
  "heartbeatInterval",
  "downAfter",
  "batchDelay",
  "maxEntries",
  "maxMetaBytes",
  "maxNodes",
  "onDiff",
  "onError",
  "clock",
  "epoch",
];

/** The options checked, with their defaults; a wrong one throws. */
export function resolveOptions(options: TrackerOptions): Resolved {
  checkOptionNames(options, OPTION_NAMES);
  const {
    pubsub,
    name = randomId(9),
    topic = "websock.presence",
    heartbeatInterval = 1000,
    downAfter = 5000,
    batchDelay = 20,
    maxEntries = 100_000,
    maxMetaBytes = 4096,
    maxNodes = 1000,
    onDiff,
    onError,
    clock,
    epoch = Date.now() * 1000 + Math.floor(Math.random() * 1000),
  } = options;
  if (pubsub !== undefined) checkPubSub(pubsub);
  checkName("name", name);
  checkName("topic", topic);
  atLeast("heartbeatInterval", heartbeatInterval, 1);
  atLeast("downAfter", downAfter, 2 * heartbeatInterval);
  atLeast("batchDelay", batchDelay, 0);
  atLeast("maxEntries", maxEntries, 1);
  atLeast("maxMetaBytes", maxMetaBytes, 2);
  atLeast("maxNodes", maxNodes, 1);
  if (typeof epoch !== "number" || !Number.isFinite(epoch)) {
    throw new RangeError(`Invalid option epoch: ${showValue(epoch)} is not a finite number`);
  }
  return {
    pubsub,
    name,
    topic,
    heartbeatInterval,
    downAfter,
    batchDelay,
    maxEntries,
    maxMetaBytes,
    maxNodes,
    onDiff: checkCallback("onDiff", onDiff) ?? (() => {}),
    onError: guarded(checkCallback("onError", onError) ?? console.error),
    clock: clock === undefined ? systemClock : checkClock(clock),
    epoch,
  };
}
