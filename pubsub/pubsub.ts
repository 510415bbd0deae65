// PubSub: topics of subscribers (connection mailboxes) and the Backend that joins nodes.

import { isThenable } from "../engine/is_thenable.ts";
import { nativeTopicsOf } from "../engine/topics.ts";
import {
  checkEncode,
  type Encode,
  encodeOf,
  Frames,
  type Lane,
  type NativeGroup,
  type NativeLane,
} from "./_fastlane.ts";
import {
  checkBackend,
  checkHubOptions,
  checkSubscriber,
  checkTopic,
  guardedErrorHook,
} from "./_checks.ts";

/**
 * What can subscribe to a topic: a connection's mailbox (any `Connection<M>`), or anything
 * with the same `send`. A subscriber whose `send` returns `false`, or whose `closed` is
 * `true`, is dropped from every topic.
 */
export interface Subscriber<M> {
  /** Deliver one message; `false` means the subscriber is gone and is dropped. */
  send(message: M): boolean;
  /**
   * Send an encoded frame as it is (a connection's `sendFrame`), for subscriptions with
   * `encode`; `false` means the subscriber is gone and is dropped.
   */
  sendFrame?(data: string | Uint8Array): boolean;
  /** Whether the subscriber is gone (a closed connection); dropped when `true`. */
  readonly closed?: boolean;
  /**
   * Register a listener for the subscriber's close (a connection's `onClose`): the subscriber
   * is then dropped from every topic as soon as it closes, not at the next publish.
   */
  onClose?(listener: () => void): () => void;
}

/**
 * Carries published messages between the {@linkcode PubSub}s of different processes or
 * workers ("nodes"). A backend never delivers a node's own messages back to it: local
 * subscribers are served by the `PubSub` itself.
 *
 * Methods may return promises; a rejection (or throw) is reported to the `PubSub`'s
 * `onError` and never crashes the process.
 *
 * @example A backend that only logs
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Backend, PubSub } from "@websock/websock/pubsub";
 *
 * const log: string[] = [];
 * const logging: Backend = {
 *   start(_deliver, _onError) {},
 *   subscribe(topic) { log.push(`+${topic}`); },
 *   unsubscribe(topic) { log.push(`-${topic}`); },
 *   publish(topic) { log.push(`>${topic}`); },
 *   close() {},
 * };
 * const pubsub = new PubSub({ backend: logging });
 * const inbox = { send: () => true };
 * await pubsub.subscribe("news", inbox); // the first subscriber of "news" on this node
 * pubsub.publish("news", "hello");
 * pubsub.unsubscribe("news", inbox); // the last one
 * await pubsub.close();
 * assert.deepEqual(log, ["+news", ">news", "-news"]);
 * ```
 */
export interface Backend {
  /**
   * Called once by the `PubSub` before anything else. `publish` may be called before a
   * promise returned here settles (keep the order); `subscribe` waits for it.
   *
   * @param deliver Hand it each message another node published to a topic this node
   *   subscribes to.
   * @param onError Report a failure the backend recovers from (a lost connection).
   */
  start(
    deliver: (topic: string, message: unknown) => void,
    onError: (error: unknown) => void,
  ): void | Promise<void>;
  /** This node has its first subscriber to `topic`: start receiving it. */
  subscribe(topic: string): void | Promise<void>;
  /** This node has no subscriber to `topic` any more: stop receiving it. */
  unsubscribe(topic: string): void | Promise<void>;
  /** Send a message published on this node to the other nodes. */
  publish(topic: string, message: unknown): void | Promise<void>;
  /** Release the backend's resources (sockets, channels). */
  close(): void | Promise<void>;
}

/** Options of {@linkcode PubSub}. */
export interface PubSubOptions {
  /**
   * Carries messages to other processes or workers. Omit it for in-process delivery only.
   * @default {undefined}
   */
  backend?: Backend;
  /**
   * Called with every backend failure (a lost Redis connection, a failed publish) and every
   * subscriber whose `send` threw. Pub/sub keeps going after it.
   * @default {console.error}
   */
  onError?: (error: unknown) => void;
}

// What a backend call's promise resolves to, for the PubSub's callers: nothing (one function,
// not a new closure per publish).
const toVoid = (): void => {};

// Every name of PubSubOptions, for checkHubOptions (the compiler says if one is missing).
const OPTION_NAMES = Object.keys(
  { backend: 0, onError: 0 } satisfies Record<keyof PubSubOptions, 0>,
);

// Every name of SubscribeOptions (the compiler says if one is missing), and publish()'s one.
const SUBSCRIBE_NAMES = Object.keys({ encode: 0 } satisfies Record<keyof SubscribeOptions<0>, 0>);
const PUBLISH_NAMES = ["local"];

/** Options of {@linkcode PubSub.subscribe}. */
export interface SubscribeOptions<M> {
  /**
   * The fastlane: deliver the topic's messages to this subscriber as frames, without
   * `handleInfo`. Each publish encodes the message once per encode function (pass one shared
   * function, such as `JSON.stringify`, not a new closure per subscriber) and hands the frame
   * to the subscriber's `sendFrame`, which keeps it in order with the connection's own pushes.
   * On the Bun adapter, the subscribers of one server share Bun's native topics: one
   * `server.publish` reaches all of them that are idle.
   * @default {None: messages go to the mailbox (handleInfo)}
   */
  encode?: (message: M) => string | Uint8Array;
}

/** What {@linkcode PubSub.publish} tells about the subscribers on this node. */
export interface PublishResult {
  /** How many took the message: in their mailbox, or as a frame sent or queued. */
  readonly delivered: number;
  /**
   * How many did not: closed, queue full, peer not reading (over `maxBufferedBytes`), or a
   * `send` or `encode` that threw. Closed ones are dropped from every topic.
   */
  readonly dropped: number;
}

type Members<M> = Map<Subscriber<M>, Lane<M>>;

const NOBODY: PublishResult = Object.freeze({ delivered: 0, dropped: 0 });

let hubs = 0;

// Sweep a topic for closed subscribers when it has grown this much since the last sweep.
const SWEEP_GROWTH = 2;
const SWEEP_MIN = 64;

/**
 * Topics and their subscribers: {@linkcode PubSub.subscribe} a connection's mailbox to a
 * topic, {@linkcode PubSub.publish} a message to every subscriber's `handleInfo`.
 *
 * Closed connections are dropped by themselves: a connection leaves every topic as soon as
 * it starts closing (through its `onClose`). Other subscribers are dropped when a publish
 * meets one whose `send` returns `false` or whose `closed` is `true` (and topics that grow
 * are swept).
 *
 * @typeParam M The messages published (what `handleInfo` receives).
 *
 * @example Two subscribers, one publish
 * ```ts
 * import assert from "node:assert/strict";
 * import { PubSub } from "@websock/websock/pubsub";
 *
 * const pubsub = new PubSub<string>();
 * const seen: string[] = [];
 * const a = { send: (m: string) => seen.push(`a:${m}`) > 0 };
 * const b = { send: (m: string) => seen.push(`b:${m}`) > 0 };
 * pubsub.subscribe("news", a);
 * pubsub.subscribe("news", b);
 * assert.deepEqual(pubsub.publish("news", "hello"), { delivered: 2, dropped: 0 });
 * assert.deepEqual(seen, ["a:hello", "b:hello"]);
 * await pubsub.close();
 * ```
 */
export class PubSub<M = unknown> {
  readonly #topics = new Map<string, Members<M>>();
  readonly #groups = new Map<string, NativeGroup<M>[]>();
  readonly #encodeIds = new WeakMap<Encode<M>, number>();
  #encodes = 0;
  readonly #id = `${++hubs}.${Math.random().toString(36).slice(2, 8)}`;
  readonly #swept = new Map<string, number>();
  readonly #bySubscriber = new Map<Subscriber<M>, Set<string>>();
  readonly #offClose = new Map<Subscriber<M>, () => void>();
  readonly #backend: Backend | undefined;
  readonly #onError: (error: unknown) => void;
  readonly #started: Promise<void>;
  #closed = false;

  /**
   * Make a pub/sub hub.
   *
   * @param options The backend (default: in-process only) and the error hook.
   */
  constructor(options: PubSubOptions = {}) {
    checkHubOptions(options, "PubSub", OPTION_NAMES);
    const { backend, onError = console.error } = options;
    if (backend !== undefined) {
      checkBackend(backend, ["start", "subscribe", "unsubscribe", "publish", "close"]);
    }
    this.#backend = backend;
    this.#onError = guardedErrorHook(onError);
    this.#started = backend
      ? this.#call(() =>
        backend.start((topic, message) => this.#deliver(topic, message as M), this.#onError)
      )
      : Promise.resolve();
  }

  /** Run a backend call; report a throw or a rejection to onError; never reject. */
  #call(call: () => void | Promise<void>): Promise<void> {
    try {
      const result = call();
      if (isThenable(result)) return Promise.resolve(result).then(toVoid, this.#onError);
    } catch (error) {
      this.#onError(error);
    }
    return Promise.resolve();
  }

  #remove(topic: string, subscriber: Subscriber<M>): boolean {
    const set = this.#topics.get(topic);
    if (!set?.has(subscriber)) return false;
    this.#unlane(topic, set.get(subscriber));
    set.delete(subscriber);
    const topics = this.#bySubscriber.get(subscriber);
    topics?.delete(topic);
    if (topics?.size === 0) {
      this.#bySubscriber.delete(subscriber);
      this.#offClose.get(subscriber)?.();
      this.#offClose.delete(subscriber);
    }
    if (set.size === 0) {
      this.#topics.delete(topic);
      this.#swept.delete(topic);
      if (this.#backend && !this.#closed) {
        const backend = this.#backend;
        this.#started.then(() => this.#call(() => backend.unsubscribe(topic)));
      }
    }
    return true;
  }

  // A fastlane subscription; on a server with native topics, subscribed there too.
  #lane(topic: string, subscriber: Subscriber<M>, encode: Encode<M>): Lane<M> {
    const native = nativeTopicsOf(subscriber);
    if (native === undefined) return encode;
    const groups = this.#groups.get(topic) ?? [];
    this.#groups.set(topic, groups);
    let group = groups.find((g) => g.hub === native.hub && g.encode === encode);
    if (group === undefined) {
      let id = this.#encodeIds.get(encode);
      if (id === undefined) this.#encodeIds.set(encode, id = ++this.#encodes);
      const name = `websock/${this.#id}/${id}/${topic}`;
      groups.push(group = { hub: native.hub, encode, name, members: 0, ready: 0 });
    }
    group.members++;
    this.#guard(() => native.subscribe(group.name));
    return { encode, native, group };
  }

  #unlane(topic: string, lane: Lane<M>): void {
    if (lane === undefined || typeof lane === "function") return;
    const group = lane.group;
    this.#guard(() => lane.native.unsubscribe(group.name));
    if (--group.members > 0) return;
    const groups = this.#groups.get(topic)!;
    groups.splice(groups.indexOf(group), 1);
    if (groups.length === 0) this.#groups.delete(topic);
  }

  #guard(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#onError(error);
    }
  }

  #drop(subscriber: Subscriber<M>): void {
    const topics = this.#bySubscriber.get(subscriber);
    if (!topics) return;
    for (const topic of [...topics]) this.#remove(topic, subscriber);
  }

  #deliver(topic: string, message: M): PublishResult {
    const set = this.#topics.get(topic);
    if (!set) return NOBODY;
    let delivered = 0, dropped = 0;
    let frames: Frames<M> | undefined;
    let held: [Subscriber<M>, NativeLane<M>][] | undefined;
    const groups = this.#groups.get(topic);
    if (groups) { for (const group of groups) group.ready = 0; }
    for (const [subscriber, lane] of set) {
      let sent = false;
      try {
        if (lane === undefined) sent = subscriber.closed !== true && subscriber.send(message);
        else {
          const native = typeof lane === "function" ? undefined : lane;
          const data = (frames ??= new Frames(message, this.#onError)).of(
            native?.encode ?? lane as Encode<M>,
          );
          if (data === undefined) {
            dropped++; // encode failed (reported): the subscriber stays
            continue;
          }
          if (native !== undefined) {
            const state = native.native.state();
            if (state === "ready") {
              native.group.ready++, delivered++; // the hub publishes after the loop
              native.native.sent?.(data);
              continue;
            }
            if (state === "busy" || state === "full") {
              // Out of the hub's publish: the frame goes through the engine, behind the
              // connection's own events (busy) or to its slow-peer rule (full: 1008 if the
              // peer does not read, the frame if it only has one large message to take).
              native.native.unsubscribe(native.group.name);
              (held ??= []).push([subscriber, native]);
            }
          }
          sent = subscriber.sendFrame!(data);
        }
      } catch (error) {
        this.#onError(error);
      }
      if (sent) delivered++;
      else {
        dropped++;
        this.#drop(subscriber);
      }
    }
    if (groups) {
      for (const group of groups) {
        if (group.ready > 0) {
          this.#guard(() => group.hub.publish(group.name, frames!.of(group.encode)!));
        }
      }
    }
    if (held) {
      for (const [subscriber, lane] of held) {
        if (set.get(subscriber) === lane) {
          this.#guard(() => lane.native.subscribe(lane.group.name));
        }
      }
    }
    return { delivered, dropped };
  }

  #sweep(topic: string, set: Members<M>): void {
    const last = this.#swept.get(topic) ?? 0;
    if (set.size < SWEEP_MIN || set.size < last * SWEEP_GROWTH) return;
    for (const subscriber of set.keys()) if (subscriber.closed === true) this.#drop(subscriber);
    this.#swept.set(topic, set.size);
  }

  /**
   * Subscribe a connection's mailbox (or any {@linkcode Subscriber}) to a topic. Subscribing
   * twice is one subscription. Messages published on this node from now on reach it; those
   * of other nodes once the backend has the subscription, which the returned promise tells.
   *
   * Subscribing again with other options replaces the subscription's options.
   *
   * @param topic The topic.
   * @param subscriber The connection (its `send` is the mailbox).
   * @param options `encode`: the fastlane, frames without `handleInfo`.
   * @returns A promise that resolves once the backend receives the topic (at once without a
   *   backend). It never rejects: a backend failure goes to `onError`.
   * @throws {TypeError} When `encode` is not a function, or the subscriber has no `sendFrame`.
   *
   * @example Subscribe in init
   * ```ts
   * import assert from "node:assert/strict";
   * import { ok, push, type WebSock } from "@websock/websock";
   * import { PubSub } from "@websock/websock/pubsub";
   * import { TestConnection } from "@websock/websock/testing";
   *
   * const pubsub = new PubSub<string>();
   * const Reader = {
   *   async init(_arg: undefined, connection) {
   *     await pubsub.subscribe("news", connection); // remote publishes reach it from here on
   *     return ok(null);
   *   },
   *   handleIn: (_data, state) => ok(state),
   *   handleInfo: (news, state) => push(`news: ${news}`, state),
   * } satisfies WebSock<null, string>;
   *
   * const conn = await TestConnection.start(Reader, { arg: undefined });
   * pubsub.publish("news", "hello");
   * await conn.settle(); // the handler is idle again
   * assert.deepEqual(conn.texts(), ["news: hello"]);
   * ```
   *
   * @example The fastlane: frames encoded once per publish, no handleInfo
   * ```ts
   * import assert from "node:assert/strict";
   * import { ok, type WebSock } from "@websock/websock";
   * import { PubSub } from "@websock/websock/pubsub";
   * import { TestConnection } from "@websock/websock/testing";
   *
   * const prices = new PubSub<{ symbol: string; price: number }>();
   * const Ticker = {
   *   init(_arg: undefined, connection) {
   *     prices.subscribe("ticker", connection, { encode: JSON.stringify });
   *     return ok(null);
   *   },
   *   handleIn: (_data, state) => ok(state),
   * } satisfies WebSock<null>;
   *
   * const a = await TestConnection.start(Ticker, { arg: undefined });
   * const b = await TestConnection.start(Ticker, { arg: undefined });
   * prices.publish("ticker", { symbol: "ACME", price: 42 }); // one JSON.stringify for both
   * assert.deepEqual(a.texts(), ['{"symbol":"ACME","price":42}']);
   * assert.deepEqual(b.texts(), a.texts());
   * ```
   */
  subscribe(
    topic: string,
    subscriber: Subscriber<M>,
    options: SubscribeOptions<M> = {},
  ): Promise<void> {
    checkTopic(topic, "subscribe");
    checkSubscriber(subscriber, "subscribe");
    checkHubOptions(options, "PubSub.subscribe()", SUBSCRIBE_NAMES);
    const encode = options.encode;
    if (encode !== undefined) checkEncode(topic, encode, subscriber);
    if (this.#closed) throw new TypeError(`Cannot subscribe to ${topic}: the PubSub is closed`);
    if (subscriber.closed === true) return Promise.resolve();
    let set = this.#topics.get(topic);
    const first = set === undefined;
    if (!set) this.#topics.set(topic, set = new Map());
    else this.#sweep(topic, set);
    const lane = set.get(subscriber);
    if (!set.has(subscriber) || encodeOf(lane) !== encode) {
      this.#unlane(topic, lane);
      set.set(subscriber, encode && this.#lane(topic, subscriber, encode));
    }
    let topics = this.#bySubscriber.get(subscriber);
    if (!topics) {
      this.#bySubscriber.set(subscriber, topics = new Set());
      const off = subscriber.onClose?.(() => this.#drop(subscriber));
      if (off) this.#offClose.set(subscriber, off);
    }
    topics.add(topic);
    if (!first || !this.#backend) return this.#started;
    const backend = this.#backend;
    return this.#started.then(() => this.#call(() => backend.subscribe(topic)));
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
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new PubSub<string>();
   * const inbox = { send: (_m: string) => true };
   * pubsub.subscribe("news", inbox);
   * assert.equal(pubsub.unsubscribe("news", inbox), true);
   * ```
   */
  unsubscribe(topic: string, subscriber: Subscriber<M>): boolean {
    checkTopic(topic, "unsubscribe");
    return this.#remove(topic, subscriber);
  }

  /**
   * Unsubscribe a subscriber from every topic, as from `terminate`.
   *
   * @param subscriber The connection.
   * @returns How many topics it was subscribed to.
   *
   * @example In terminate
   * ```ts
   * import assert from "node:assert/strict";
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new PubSub<string>();
   * const inbox = { send: (_m: string) => true };
   * pubsub.subscribe("a", inbox);
   * pubsub.subscribe("b", inbox);
   * assert.equal(pubsub.unsubscribeAll(inbox), 2);
   * assert.deepEqual(pubsub.topics(), []);
   * ```
   */
  unsubscribeAll(subscriber: Subscriber<M>): number {
    const count = this.#bySubscriber.get(subscriber)?.size ?? 0;
    this.#drop(subscriber);
    return count;
  }

  /**
   * Publish a message to a topic: every subscriber on this node gets it in its mailbox now
   * (in `handleInfo`, after the events it already has queued) or, when it subscribed with
   * `encode`, as a frame (sent now when the connection is idle, else after its queued events),
   * and the backend carries it to the other nodes (not with `options.local`: this node only).
   * Messages of one publisher keep their order.
   *
   * @param topic The topic.
   * @param message The message; with a backend it must survive the backend's encoding.
   * @returns How many subscribers on this node took it and how many did not (`PublishResult`).
   *
   * @example Publish
   * ```ts
   * import assert from "node:assert/strict";
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new PubSub<{ price: number }>();
   * // Nobody listens: nothing delivered, nothing dropped.
   * assert.deepEqual(pubsub.publish("ticker", { price: 42 }), { delivered: 0, dropped: 0 });
   * ```
   */
  publish(topic: string, message: M, options?: { readonly local?: boolean }): PublishResult {
    checkTopic(topic, "publish");
    if (options !== undefined) checkHubOptions(options, "PubSub.publish()", PUBLISH_NAMES);
    if (this.#closed) throw new TypeError(`Cannot publish to ${topic}: the PubSub is closed`);
    const delivered = this.#deliver(topic, message);
    if (this.#backend && options?.local !== true) {
      const backend = this.#backend;
      // Not behind #started: publish calls reach the backend in the order they were made.
      this.#call(() => backend.publish(topic, message));
    }
    return delivered;
  }

  /**
   * How many subscribers a topic has on this node (closed ones not yet dropped included).
   *
   * @param topic The topic.
   * @returns The count.
   *
   * @example Count
   * ```ts
   * import assert from "node:assert/strict";
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new PubSub<string>();
   * pubsub.subscribe("news", { send: () => true });
   * assert.equal(pubsub.subscribers("news"), 1);
   * ```
   */
  subscribers(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /**
   * The topics with at least one subscriber on this node.
   *
   * @returns The topics.
   *
   * @example List topics
   * ```ts
   * import assert from "node:assert/strict";
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new PubSub<string>();
   * pubsub.subscribe("news", { send: () => true });
   * assert.deepEqual(pubsub.topics(), ["news"]);
   * ```
   */
  topics(): string[] {
    return [...this.#topics.keys()];
  }

  /**
   * Drop every subscription and close the backend. Publishing or subscribing afterwards
   * throws.
   *
   * @returns A promise that resolves once the backend is closed.
   *
   * @example Close
   * ```ts
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * import assert from "node:assert/strict";
   *
   * const pubsub = new PubSub();
   * await pubsub.close();
   * assert.throws(() => pubsub.publish("news", "late"), TypeError);
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [topic, set] of this.#topics) {
      for (const lane of set.values()) this.#unlane(topic, lane);
    }
    this.#topics.clear();
    this.#swept.clear();
    this.#bySubscriber.clear();
    await this.#started;
    if (this.#backend) {
      const backend = this.#backend;
      await this.#call(() => backend.close());
    }
  }
}
