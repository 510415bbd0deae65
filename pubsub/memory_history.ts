// The in-process HistoryBackend: a ring buffer per topic, bounded by length and age.

import type { HistoryBackend, HistoryMessage, HistoryPage, Position } from "./history_backend.ts";
import { newEpoch } from "./_epoch.ts";
import { checkInteger } from "../engine/check_integer.ts";
import { checkCallback } from "../engine/check_callback.ts";
import { systemClock } from "../engine/options.ts";
import { checkHubOptions } from "./_checks.ts";

/** Options of {@linkcode MemoryHistory}. */
export interface MemoryHistoryOptions {
  /**
   * How many messages each topic keeps (the oldest go first).
   * @default {1000}
   */
  maxLength?: number;
  /**
   * How long a message is kept, in ms; `0` keeps messages until `maxLength` pushes them out.
   * @default {300000}
   */
  maxAge?: number;
  /**
   * The time in ms, for the age limit (replace it in tests).
   * @default {Date.now}
   */
  now?: () => number;
}

// Every name of MemoryHistoryOptions, for checkHubOptions (the compiler says if one is missing).
const OPTION_NAMES = Object.keys(
  { maxLength: 0, maxAge: 0, now: 0 } satisfies Record<keyof MemoryHistoryOptions, 0>,
);

// Look for forgotten topics when the map has grown this much, or after this many publishes.
const SWEEP_GROWTH = 2;
const SWEEP_MIN = 64;
const SWEEP_EVERY = 4096;

/** One topic's history: a ring buffer that grows up to maxLength. */
class Ring {
  readonly epoch: string = newEpoch();
  /** The newest offset (0 before the first message). */
  head = 0;
  subscribed = false;
  #entries: (HistoryMessage<unknown> | undefined)[] = [];
  #times: number[] = [];
  #start = 0;
  #count = 0;

  get count(): number {
    return this.#count;
  }

  push(entry: HistoryMessage<unknown>, time: number, maxLength: number): void {
    const capacity = this.#entries.length;
    if (this.#count === maxLength) this.shift();
    else if (this.#count === capacity) {
      // Grow in order: oldest at 0.
      const size = Math.min(Math.max(8, capacity * 2), maxLength);
      const entries = new Array<HistoryMessage<unknown> | undefined>(size);
      const times = new Array<number>(size);
      for (let i = 0; i < this.#count; i++) {
        entries[i] = this.#entries[(this.#start + i) % capacity];
        times[i] = this.#times[(this.#start + i) % capacity];
      }
      this.#entries = entries;
      this.#times = times;
      this.#start = 0;
    }
    const at = (this.#start + this.#count) % this.#entries.length;
    this.#entries[at] = entry;
    this.#times[at] = time;
    this.#count++;
    this.head = entry.position.offset;
  }

  /** Drop the oldest message. */
  shift(): void {
    this.#entries[this.#start] = undefined;
    this.#start = (this.#start + 1) % this.#entries.length;
    this.#count--;
  }

  /** Drop the messages older than `cutoff`. */
  expire(cutoff: number): void {
    while (this.#count > 0 && this.#times[this.#start] < cutoff) this.shift();
  }

  /** The message at `offset`, if still held. */
  at(offset: number): HistoryMessage<unknown> | undefined {
    const first = this.head - this.#count + 1;
    if (offset < first || offset > this.head) return undefined;
    return this.#entries[(this.#start + offset - first) % this.#entries.length];
  }

  /** The offset of the oldest message held (head + 1 when none). */
  get first(): number {
    return this.head - this.#count + 1;
  }
}

/**
 * The in-process {@linkcode HistoryBackend}, the default of {@linkcode HistoryPubSub}: each
 * topic keeps its last `maxLength` messages, none older than `maxAge`, in a ring buffer.
 * Delivery is synchronous (a publish reaches the subscribers' mailboxes at once).
 *
 * The history lives as long as the process: a restart starts new epochs, so a client that
 * resumes from a position of the old process gets a gap notice. A topic with no subscriber
 * whose messages have all aged out is forgotten (so is its epoch).
 *
 * @example Keep 100 messages per topic for a minute
 * ```ts
 * import assert from "node:assert/strict";
 * import { HistoryPubSub, MemoryHistory } from "@websock/websock/pubsub";
 *
 * const pubsub = new HistoryPubSub<number>({
 *   backend: new MemoryHistory({ maxLength: 100, maxAge: 60_000 }),
 * });
 * for (let i = 1; i <= 150; i++) await pubsub.publish("counts", i);
 *
 * // A subscriber from the start of the epoch: a gap notice (50 trimmed), then the last 100.
 * const seen: unknown[] = [];
 * const start = { epoch: (await pubsub.publish("counts", 151)).epoch, offset: 0 };
 * await pubsub.subscribe("counts", { send: (d) => seen.push(d) > 0 }, { since: start });
 * assert.equal(seen.length, 1 + 100);
 * assert.equal((seen[0] as { type: string }).type, "gap");
 * await pubsub.close();
 * ```
 */
export class MemoryHistory implements HistoryBackend {
  readonly #maxLength: number;
  readonly #maxAge: number;
  readonly #now: () => number;
  readonly #topics = new Map<string, Ring>();
  #deliver: (entry: HistoryMessage<unknown>) => void = () => {};
  #swept = 0;
  #published = 0;

  /**
   * Make an in-process history.
   *
   * @param options The length and age limits, and the clock.
   */
  constructor(options: MemoryHistoryOptions = {}) {
    checkHubOptions(options, "MemoryHistory", OPTION_NAMES);
    const { maxLength = 1000, maxAge = 300_000, now } = options;
    this.#maxLength = checkInteger("maxLength", maxLength, 1);
    this.#maxAge = checkInteger("maxAge", maxAge, 0);
    this.#now = checkCallback("now", now) ?? systemClock.now;
  }

  /**
   * Keep the function that delivers new messages.
   *
   * @param deliver Called with every message published, at once.
   */
  start(deliver: (entry: HistoryMessage<unknown>) => void): void {
    this.#deliver = deliver;
  }

  #ring(topic: string): Ring {
    let ring = this.#topics.get(topic);
    if (!ring) {
      this.#topics.set(topic, ring = new Ring());
      if (this.#topics.size >= SWEEP_MIN && this.#topics.size >= this.#swept * SWEEP_GROWTH) {
        this.#sweep();
      }
    }
    if (this.#maxAge > 0) ring.expire(this.#now() - this.#maxAge);
    return ring;
  }

  // Forget the topics nobody subscribes to whose messages have all aged out.
  #sweep(): void {
    if (this.#maxAge > 0) {
      const cutoff = this.#now() - this.#maxAge;
      for (const [topic, ring] of this.#topics) {
        ring.expire(cutoff);
        if (ring.count === 0 && !ring.subscribed) this.#topics.delete(topic);
      }
    }
    this.#swept = this.#topics.size;
  }

  /**
   * Note the topic as subscribed (kept while subscribed).
   *
   * @param topic The topic.
   * @returns Its newest position.
   */
  subscribe(topic: string): Position {
    const ring = this.#ring(topic);
    ring.subscribed = true;
    return { epoch: ring.epoch, offset: ring.head };
  }

  /**
   * Note the topic as no longer subscribed.
   *
   * @param topic The topic.
   */
  unsubscribe(topic: string): void {
    const ring = this.#topics.get(topic);
    if (ring) ring.subscribed = false;
  }

  /**
   * Store the message, deliver it, and return its position.
   *
   * @param topic The topic.
   * @param message The message (kept as is, not copied).
   * @returns Its position.
   */
  publish(topic: string, message: unknown): Position {
    const ring = this.#ring(topic);
    const position = { epoch: ring.epoch, offset: ring.head + 1 };
    const entry: HistoryMessage<unknown> = { type: "message", topic, position, message };
    ring.push(entry, this.#now(), this.#maxLength);
    if (++this.#published % SWEEP_EVERY === 0) this.#sweep();
    this.#deliver(entry);
    return position;
  }

  /**
   * The messages after a position that are still held.
   *
   * @param topic The topic.
   * @param after The last position the reader has.
   * @param limit The most messages to return.
   * @returns A page of the history.
   */
  read(topic: string, after: Position, limit: number): HistoryPage {
    const ring = this.#ring(topic);
    const from = after.epoch === ring.epoch ? Math.max(after.offset + 1, ring.first) : ring.first;
    const entries: HistoryMessage<unknown>[] = [];
    for (let offset = from; offset <= ring.head && entries.length < limit; offset++) {
      entries.push(ring.at(offset)!);
    }
    return { epoch: ring.epoch, head: ring.head, entries };
  }

  /** Forget every topic. */
  close(): void {
    this.#topics.clear();
  }
}
