// HistoryPubSub: pub/sub whose messages carry positions, and subscribers that resume.

import type { Subscriber } from "./pubsub.ts";
import {
  type Delivery,
  type HistoryBackend,
  type HistoryGap,
  type HistoryMessage,
  type HistoryPage,
  isPosition,
  type Position,
} from "./history_backend.ts";
import { MemoryHistory } from "./memory_history.ts";
import { isThenable } from "../engine/is_thenable.ts";
import { showValue } from "../engine/show_value.ts";
import {
  checkBackend,
  checkHubOptions,
  checkSubscriber,
  checkTopic,
  guardedErrorHook,
} from "./_checks.ts";

/** Options of {@linkcode HistoryPubSub}. */
export interface HistoryPubSubOptions {
  /**
   * Stores the history and carries messages between nodes.
   * @default {new MemoryHistory()}
   */
  backend?: HistoryBackend;
  /**
   * Called with every failure: a publish that could not be stored, a lost connection, a
   * history that could not be read, a subscriber whose `send` threw.
   * @default {console.error}
   */
  onError?: (error: unknown) => void;
}

// Every name of HistoryPubSubOptions, for checkHubOptions (the compiler says if one is missing).
const OPTION_NAMES = Object.keys(
  { backend: 0, onError: 0 } satisfies Record<keyof HistoryPubSubOptions, 0>,
);

// Every name of HistorySubscribeOptions (the compiler says if one is missing).
const SUBSCRIBE_NAMES = Object.keys(
  { since: 0 } satisfies Record<keyof HistorySubscribeOptions, 0>,
);

/** Options of {@linkcode HistoryPubSub.subscribe}. */
export interface HistorySubscribeOptions {
  /**
   * Resume after this position: the subscriber first receives every message after it that
   * the history still holds, in order, then the new ones. When the history no longer
   * reaches back that far, it first receives one {@linkcode HistoryGap}.
   * Without it, the subscriber receives the messages published from now on.
   * @default {undefined}
   */
  since?: Position;
}

// Messages read and queued per step of a catch-up; the next step waits for a macrotask, so
// that a connection's mailbox (1024 events by default) drains between steps.
const PAGE = 500;

// Sweep a topic for closed subscribers when it has grown this much since the last sweep.
const SWEEP_GROWTH = 2;
const SWEEP_MIN = 64;

type Sub<M> = Subscriber<Delivery<M>>;

/** One subscriber on one topic: where it is, and what waits while it catches up. */
interface Cursor {
  /** The last position delivered (or the start); undefined until known. */
  last: Position | undefined;
  /** Live messages held while the subscriber catches up (or waits for the start). */
  pending: HistoryMessage<unknown>[] | undefined;
}

interface Topic<M> {
  readonly subs: Map<Sub<M>, Cursor>;
  /** The newest position this node has seen; undefined until the backend subscribed. */
  head: Position | undefined;
  /** Resolves once the backend delivers the topic's new messages (never rejects). */
  opened: Promise<void>;
  swept: number;
}

function after(a: Position, b: Position): boolean {
  return a.epoch !== b.epoch || a.offset > b.offset;
}

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Pub/sub with history: every message gets a position in its topic (an offset and an
 * epoch), each topic keeps a bounded history, and a subscriber can resume from the last
 * position it received: `subscribe(topic, connection, { since })` first delivers what it
 * missed, in order, then the new messages, with no gap and no duplicate at the seam. If the
 * history no longer reaches back that far (trimmed, or a new epoch), the subscriber first
 * gets one {@linkcode HistoryGap}.
 *
 * Subscribers (connection mailboxes) receive {@linkcode Delivery} objects:
 * `{ type: "message", topic, position, message }` or `{ type: "gap", ... }`.
 *
 * Guarantee: at least once within the history (a client that resumes from an older position
 * than it has sees messages again: skip positions it already has); a gap notice beyond it;
 * one order per topic, the same on every node. The default {@linkcode MemoryHistory} keeps
 * the history in-process; the Redis Streams backend (`@websock/websock/pubsub-redis-streams`)
 * shares it between processes.
 *
 * @typeParam M The messages published.
 *
 * @example Resume from the last position
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Delivery, HistoryPubSub } from "@websock/websock/pubsub";
 *
 * const pubsub = new HistoryPubSub<string>();
 * const first: Delivery<string>[] = [];
 * const a = { send: (d: Delivery<string>) => first.push(d) > 0 };
 * await pubsub.subscribe("news", a);
 * await pubsub.publish("news", "one");
 * pubsub.unsubscribe("news", a); // the client goes away
 * await pubsub.publish("news", "two");
 * await pubsub.publish("news", "three");
 *
 * const again: Delivery<string>[] = [];
 * const last = first.at(-1)!.position; // what the client kept
 * await pubsub.subscribe("news", { send: (d) => again.push(d) > 0 }, { since: last });
 * assert.deepEqual(again.map((d) => d.type === "message" && d.message), ["two", "three"]);
 * assert.deepEqual(again.map((d) => d.position.offset), [2, 3]);
 * await pubsub.close();
 * ```
 */
export class HistoryPubSub<M = unknown> {
  readonly #backend: HistoryBackend;
  readonly #onError: (error: unknown) => void;
  readonly #topics = new Map<string, Topic<M>>();
  readonly #bySubscriber = new Map<Sub<M>, { topics: Set<string>; off?: () => void }>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #started: Promise<void>;
  #ready = false;
  #queued = 0;
  #closed = false;

  /**
   * Make a pub/sub hub with history.
   *
   * @param options The backend (default: an in-process {@linkcode MemoryHistory}) and the
   *   error hook.
   */
  constructor(options: HistoryPubSubOptions = {}) {
    checkHubOptions(options, "HistoryPubSub", OPTION_NAMES);
    const { backend = new MemoryHistory(), onError = console.error } = options;
    checkBackend(backend, ["start", "subscribe", "unsubscribe", "publish", "read", "close"]);
    this.#backend = backend;
    this.#onError = guardedErrorHook(onError);
    let started: void | Promise<void> = undefined;
    try {
      started = backend.start((entry) => this.#deliver(entry), this.#onError);
    } catch (error) {
      this.#onError(error);
    }
    if (isThenable(started)) {
      this.#started = Promise.resolve(started).then(undefined, this.#onError).then(() => {
        this.#ready = true;
      });
    } else {
      this.#ready = true;
      this.#started = Promise.resolve();
    }
  }

  /**
   * Run `call` now if the backend has started, else once it has. Calls keep their order: a
   * call made while earlier ones still wait for the start waits too.
   */
  #later(call: () => void): void {
    if (this.#ready && this.#queued === 0) return call();
    this.#queued++;
    this.#started.then(() => {
      this.#queued--;
      call();
    });
  }

  /** Call the backend (see #later); report a failure, then `then(undefined)`. */
  #call<T>(call: () => T | Promise<T>, then: (value: T | undefined) => void): void {
    this.#later(() => {
      let result: T | Promise<T>;
      try {
        result = call();
      } catch (error) {
        this.#onError(error);
        return then(undefined);
      }
      if (!isThenable(result)) return then(result);
      (result as Promise<T>).then(then, (error) => {
        if (!this.#closed) this.#onError(error);
        then(undefined);
      });
    });
  }

  #deliver(entry: HistoryMessage<unknown>): void {
    const topic = this.#topics.get(entry.topic);
    if (!topic) return;
    if (topic.head && after(entry.position, topic.head)) topic.head = entry.position;
    for (const [sub, cursor] of topic.subs) {
      if (cursor.pending) cursor.pending.push(entry);
      else this.#emit(sub, cursor, entry);
    }
  }

  /** Send one delivery; drop the subscriber when it is gone. */
  #send(sub: Sub<M>, delivery: Delivery<M>): boolean {
    let sent = false;
    try {
      sent = sub.closed !== true && sub.send(delivery);
    } catch (error) {
      this.#onError(error);
    }
    if (!sent) this.#drop(sub);
    return sent;
  }

  /** Send a gap notice from the cursor's position to `position`. */
  #gap(topic: string, sub: Sub<M>, cursor: Cursor, position: Position): boolean {
    const last = cursor.last!;
    const gap: HistoryGap = {
      type: "gap",
      topic,
      after: last,
      position,
      missed: last.epoch === position.epoch && last.offset < position.offset
        ? position.offset - last.offset
        : undefined,
    };
    cursor.last = position;
    return this.#send(sub, gap);
  }

  /** Deliver a message in its place: skip what the subscriber has, say so if it missed some. */
  #emit(sub: Sub<M>, cursor: Cursor, entry: HistoryMessage<unknown>): boolean {
    const last = cursor.last, at = entry.position;
    if (last) {
      if (last.epoch === at.epoch && at.offset <= last.offset) return true;
      if (last.epoch !== at.epoch || at.offset !== last.offset + 1) {
        const before = { epoch: at.epoch, offset: at.offset - 1 };
        if (!this.#gap(entry.topic, sub, cursor, before)) return false;
      }
    }
    cursor.last = at;
    return this.#send(sub, entry as HistoryMessage<M>);
  }

  /** Deliver what waited, then go live. */
  #flush(sub: Sub<M>, cursor: Cursor): void {
    const pending = cursor.pending ?? [];
    cursor.pending = undefined;
    for (const entry of pending) if (!this.#emit(sub, cursor, entry)) return;
  }

  /** Start the backend's delivery of a topic; then start its subscribers that wait. */
  #open(name: string, topic: Topic<M>): void {
    let opened!: () => void;
    topic.opened = new Promise((resolve) => opened = resolve);
    this.#call(() => this.#backend.subscribe(name), (head) => {
      if (this.#topics.get(name) === topic && !this.#closed) {
        topic.head = head;
        for (const [sub, cursor] of topic.subs) {
          if (cursor.last !== undefined || !cursor.pending) continue;
          cursor.last = head;
          this.#flush(sub, cursor);
        }
      }
      opened();
    });
  }

  #current(name: string, topic: Topic<M>, sub: Sub<M>, cursor: Cursor): boolean {
    return !this.#closed && this.#topics.get(name) === topic && topic.subs.get(sub) === cursor;
  }

  /** Deliver the history after `cursor.last`, page by page, then what came live meanwhile. */
  async #catchUp(name: string, topic: Topic<M>, sub: Sub<M>, cursor: Cursor): Promise<void> {
    await topic.opened; // from here on, new messages wait in cursor.pending
    for (;;) {
      if (!this.#current(name, topic, sub, cursor)) return;
      const last = cursor.last!;
      let page: HistoryPage | undefined;
      try {
        page = await this.#backend.read(name, last, PAGE);
      } catch (error) {
        if (this.#closed) return;
        this.#onError(
          new Error(`Cannot read the history of ${name}: ${(error as Error)?.message}`, {
            cause: error,
          }),
        );
      }
      if (!this.#current(name, topic, sub, cursor)) return;
      if (!page) {
        // Unreadable: say so with a gap, and go on live.
        if (topic.head && after(topic.head, last) && !this.#gap(name, sub, cursor, topic.head)) {
          return;
        }
        break;
      }
      if (page.entries.length === 0) {
        const here = { epoch: page.epoch, offset: page.head };
        if (
          (last.epoch !== here.epoch || last.offset !== here.offset) &&
          !this.#gap(name, sub, cursor, here)
        ) return;
        break;
      }
      for (const entry of page.entries) if (!this.#emit(sub, cursor, entry)) return;
      const now = cursor.last!;
      if (now.epoch === page.epoch && now.offset >= page.head) break;
      // The live messages waiting go on from here: no need to read further.
      const next = cursor.pending![0]?.position;
      if (next && next.epoch === now.epoch && next.offset <= now.offset + 1) break;
      await tick();
    }
    if (this.#current(name, topic, sub, cursor)) this.#flush(sub, cursor);
  }

  #track(task: Promise<void>): Promise<void> {
    const done = task.then(undefined, this.#onError).finally(() => this.#tasks.delete(done));
    this.#tasks.add(done);
    return done;
  }

  #remove(name: string, sub: Sub<M>): boolean {
    const topic = this.#topics.get(name);
    if (!topic?.subs.delete(sub)) return false;
    const membership = this.#bySubscriber.get(sub);
    membership?.topics.delete(name);
    if (membership?.topics.size === 0) {
      this.#bySubscriber.delete(sub);
      membership.off?.();
    }
    if (topic.subs.size === 0) {
      this.#topics.delete(name);
      if (!this.#closed) this.#call(() => this.#backend.unsubscribe(name), () => {});
    }
    return true;
  }

  #drop(sub: Sub<M>): void {
    const membership = this.#bySubscriber.get(sub);
    if (!membership) return;
    for (const name of [...membership.topics]) this.#remove(name, sub);
  }

  #sweep(topic: Topic<M>): void {
    if (topic.subs.size < SWEEP_MIN || topic.subs.size < topic.swept * SWEEP_GROWTH) return;
    for (const sub of topic.subs.keys()) if (sub.closed === true) this.#drop(sub);
    topic.swept = topic.subs.size;
  }

  /**
   * Subscribe a connection's mailbox (or any {@linkcode Subscriber}) to a topic; it receives
   * {@linkcode Delivery} objects. Subscribing twice is one subscription (the second `since`
   * is ignored).
   *
   * @param topic The topic.
   * @param subscriber The connection (its `send` is the mailbox).
   * @param options `since`: the last position the client has, to resume after it.
   * @returns A promise that resolves once the subscriber has caught up and receives new
   *   messages as they come. It never rejects: failures go to `onError`.
   * @throws {TypeError} When `since` is not a position (check client input with
   *   {@linkcode isPosition}), or the hub is closed.
   *
   * @example Resume in init, from a position the client sent
   * ```ts
   * import assert from "node:assert/strict";
   * import { ok, push, type WebSock } from "@websock/websock";
   * import { type Delivery, HistoryPubSub, isPosition } from "@websock/websock/pubsub";
   * import { TestConnection } from "@websock/websock/testing";
   *
   * const pubsub = new HistoryPubSub<string>();
   * const Reader = {
   *   init(since: unknown, connection) {
   *     pubsub.subscribe("news", connection, isPosition(since) ? { since } : {});
   *     return ok(null);
   *   },
   *   handleIn: (_data, state) => ok(state),
   *   handleInfo: (d, state) => push(d.type === "message" ? d.message : "gap", state),
   * } satisfies WebSock<null, Delivery<string>>;
   *
   * const first = await pubsub.publish("news", "one");
   * await pubsub.publish("news", "two");
   * const conn = await TestConnection.start(Reader, { arg: first }); // the client had "one"
   * await conn.settle();
   * assert.deepEqual(conn.texts(), ["two"]);
   * await pubsub.close();
   * ```
   */
  subscribe(
    topic: string,
    subscriber: Subscriber<Delivery<M>>,
    options: HistorySubscribeOptions = {},
  ): Promise<void> {
    checkTopic(topic, "subscribe");
    checkSubscriber(subscriber, "subscribe");
    checkHubOptions(options, "HistoryPubSub.subscribe()", SUBSCRIBE_NAMES);
    const since = options.since;
    if (since !== undefined && !isPosition(since)) {
      throw new TypeError(
        `Cannot subscribe to ${topic}: since ${showValue(since)} is not a position`,
      );
    }
    if (this.#closed) throw new TypeError(`Cannot subscribe to ${topic}: the PubSub is closed`);
    if (subscriber.closed === true) return Promise.resolve();
    let state = this.#topics.get(topic);
    if (!state) {
      state = { subs: new Map(), head: undefined, opened: Promise.resolve(), swept: 0 };
      this.#topics.set(topic, state);
      this.#open(topic, state);
    } else {
      if (state.subs.has(subscriber)) return state.opened;
      this.#sweep(state);
    }
    let membership = this.#bySubscriber.get(subscriber);
    if (!membership) {
      this.#bySubscriber.set(subscriber, membership = { topics: new Set() });
      membership.off = subscriber.onClose?.(() => this.#drop(subscriber));
    }
    membership.topics.add(topic);
    if (since === undefined && state.head) {
      state.subs.set(subscriber, { last: state.head, pending: undefined });
      return Promise.resolve();
    }
    const cursor: Cursor = { last: since, pending: [] };
    state.subs.set(subscriber, cursor);
    if (since === undefined) return state.opened; // #open starts it
    return this.#track(this.#catchUp(topic, state, subscriber, cursor));
  }

  /**
   * Unsubscribe a subscriber from a topic.
   *
   * @param topic The topic.
   * @param subscriber The connection.
   * @returns Whether it was subscribed.
   *
   * @example Leave a topic
   * ```ts
   * import assert from "node:assert/strict";
   * import { type Delivery, HistoryPubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new HistoryPubSub<string>();
   * const inbox = { send: (_d: Delivery<string>) => true };
   * pubsub.subscribe("news", inbox);
   * assert.equal(pubsub.unsubscribe("news", inbox), true);
   * assert.equal(pubsub.unsubscribe("news", inbox), false);
   * ```
   */
  unsubscribe(topic: string, subscriber: Subscriber<Delivery<M>>): boolean {
    checkTopic(topic, "unsubscribe");
    return this.#remove(topic, subscriber);
  }

  /**
   * Unsubscribe a subscriber from every topic.
   *
   * @param subscriber The connection.
   * @returns How many topics it was subscribed to.
   *
   * @example In terminate
   * ```ts
   * import assert from "node:assert/strict";
   * import { type Delivery, HistoryPubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new HistoryPubSub<string>();
   * const inbox = { send: (_d: Delivery<string>) => true };
   * pubsub.subscribe("a", inbox);
   * assert.equal(pubsub.unsubscribeAll(inbox), 1);
   * ```
   */
  unsubscribeAll(subscriber: Subscriber<Delivery<M>>): number {
    const count = this.#bySubscriber.get(subscriber)?.topics.size ?? 0;
    this.#drop(subscriber);
    return count;
  }

  /**
   * Publish a message: the backend stores it with the topic's next position, then every
   * subscriber of the topic, on every node, receives it in the topic's order.
   *
   * @param topic The topic.
   * @param message The message; it must survive the backend's encoding (JSON for Redis).
   * @returns A promise of the message's position. It rejects when the message could not be
   *   stored (Redis unreachable), and `onError` is told too: the promise may be ignored.
   *
   * @example Publish and learn the position
   * ```ts
   * import assert from "node:assert/strict";
   * import { HistoryPubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new HistoryPubSub<{ price: number }>();
   * const position = await pubsub.publish("ticker", { price: 42 });
   * assert.equal(position.offset, 1); // the first of its topic, in this epoch
   * assert.equal((await pubsub.publish("ticker", { price: 43 })).offset, 2);
   * await pubsub.close();
   * ```
   */
  publish(topic: string, message: M): Promise<Position> {
    checkTopic(topic, "publish");
    if (this.#closed) throw new TypeError(`Cannot publish to ${topic}: the PubSub is closed`);
    let stored = new Promise<Position>((resolve, reject) =>
      this.#later(() => {
        try {
          resolve(this.#backend.publish(topic, message));
        } catch (error) {
          reject(error);
        }
      })
    );
    stored = stored.catch((error) => {
      this.#onError(error);
      throw error;
    });
    stored.catch(() => {}); // onError has it: ignoring the promise is safe
    return stored;
  }

  /**
   * How many subscribers a topic has on this node.
   *
   * @param topic The topic.
   * @returns The count.
   *
   * @example Count
   * ```ts
   * import assert from "node:assert/strict";
   * import { HistoryPubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new HistoryPubSub<string>();
   * assert.equal(pubsub.subscribers("news"), 0);
   * pubsub.subscribe("news", { send: () => true });
   * assert.equal(pubsub.subscribers("news"), 1);
   * await pubsub.close();
   * ```
   */
  subscribers(topic: string): number {
    return this.#topics.get(topic)?.subs.size ?? 0;
  }

  /**
   * The topics with at least one subscriber on this node.
   *
   * @returns The topics.
   *
   * @example List topics
   * ```ts
   * import assert from "node:assert/strict";
   * import { HistoryPubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new HistoryPubSub<string>();
   * assert.deepEqual(pubsub.topics(), []);
   * pubsub.subscribe("news", { send: () => true });
   * assert.deepEqual(pubsub.topics(), ["news"]);
   * await pubsub.close();
   * ```
   */
  topics(): string[] {
    return [...this.#topics.keys()];
  }

  /**
   * Drop every subscription, stop the catch-ups and close the backend. Publishing or
   * subscribing afterwards throws.
   *
   * @returns A promise that resolves once the backend is closed.
   *
   * @example Close
   * ```ts
   * import assert from "node:assert/strict";
   * import { HistoryPubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new HistoryPubSub();
   * await pubsub.close();
   * assert.throws(() => pubsub.publish("news", "late"), TypeError);
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const membership of this.#bySubscriber.values()) membership.off?.();
    this.#topics.clear();
    this.#bySubscriber.clear();
    await this.#started;
    // Close the backend first: a catch-up that waits for an unreachable Redis then ends.
    try {
      await this.#backend.close();
    } catch (error) {
      this.#onError(error);
    }
    await Promise.all(this.#tasks);
  }
}
