/**
 * Pub/sub for WebSock connections: topics that connections' mailboxes subscribe to, and a
 * {@linkcode PubSub.publish} that delivers a message to every subscriber's `handleInfo`.
 *
 * A {@linkcode PubSub} delivers in-process by default (zero setup). To reach the connections
 * of other processes or workers, give it a {@linkcode Backend}: the
 * {@linkcode BroadcastChannelBackend} here (the workers of `deno serve --parallel`), or the
 * Redis backend in `@websock/websock/pubsub-redis` (several hosts).
 *
 * Delivery is **at most once**. Messages of one publisher reach each subscriber in the order
 * they were published (within one node, and from one node to another through one backend);
 * messages of different publishers may interleave differently on different nodes. A message
 * published while a backend is down, or before a remote subscription is confirmed, may be
 * lost. Messages that cross a backend must survive its encoding: structured clone for
 * `BroadcastChannel`, JSON for Redis.
 *
 * This module is runtime-neutral and has no dependencies.
 *
 * @example A chat room
 * ```ts
 * import { ok, push, type Connection, type WebSock } from "@websock/websock";
 * import { PubSub } from "@websock/websock/pubsub";
 *
 * type Said = { from: string; text: string };
 * const room = new PubSub<Said>();
 *
 * export const Chat = {
 *   init(name, connection) {
 *     room.subscribe("lobby", connection); // unsubscribed by itself once the connection closes
 *     return ok({ name, connection });
 *   },
 *   handleIn(data, state) {
 *     if (typeof data === "string") room.publish("lobby", { from: state.name, text: data });
 *     return ok(state);
 *   },
 *   handleInfo: (said, state) => push(`${said.from}: ${said.text}`, state),
 *   terminate(_reason, state) {
 *     room.unsubscribe("lobby", state.connection); // optional: frees the slot at once
 *   },
 * } satisfies WebSock<{ name: string; connection: Connection<Said> }, Said, string>;
 * ```
 *
 * @module
 */

/**
 * What can subscribe to a topic: a connection's mailbox (any `Connection<M>`), or anything
 * with the same `send`. A subscriber whose `send` returns `false`, or whose `closed` is
 * `true`, is dropped from every topic.
 */
export interface Subscriber<M> {
  /** Deliver one message; `false` means the subscriber is gone and is dropped. */
  send(message: M): boolean;
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
 * await pubsub.close();
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

// Sweep a topic for closed subscribers when it has grown this much since the last sweep.
const SWEEP_GROWTH = 2;
const SWEEP_MIN = 64;

function checkTopic(topic: unknown, what: string): asserts topic is string {
  if (typeof topic !== "string") {
    throw new TypeError(`Cannot ${what}: topic ${String(topic)} is not a string`);
  }
}

function checkSubscriber(subscriber: unknown, what: string): void {
  if (
    subscriber === null || typeof subscriber !== "object" ||
    typeof (subscriber as { send?: unknown }).send !== "function"
  ) {
    throw new TypeError(
      `Cannot ${what}: subscriber ${String(subscriber)} has no send() (pass a connection)`,
    );
  }
}

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
 * import { PubSub } from "@websock/websock/pubsub";
 *
 * const pubsub = new PubSub<string>();
 * const seen: string[] = [];
 * const a = { send: (m: string) => seen.push(`a:${m}`) > 0 };
 * const b = { send: (m: string) => seen.push(`b:${m}`) > 0 };
 * pubsub.subscribe("news", a);
 * pubsub.subscribe("news", b);
 * pubsub.publish("news", "hello"); // 2
 * // seen: ["a:hello", "b:hello"]
 * await pubsub.close();
 * ```
 */
export class PubSub<M = unknown> {
  readonly #topics = new Map<string, Set<Subscriber<M>>>();
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
    if (options === null || typeof options !== "object") {
      throw new TypeError(`Invalid PubSub options: ${String(options)} is not an object`);
    }
    const { backend, onError = console.error } = options;
    if (typeof onError !== "function") {
      throw new TypeError(`Invalid option onError: ${String(onError)} is not a function`);
    }
    if (backend !== undefined) {
      for (const method of ["start", "subscribe", "unsubscribe", "publish", "close"] as const) {
        if (typeof backend?.[method] !== "function") {
          throw new TypeError(
            `Invalid option backend: ${String(backend)} has no ${method}() method`,
          );
        }
      }
    }
    this.#backend = backend;
    this.#onError = (error) => {
      try {
        onError(error);
      } catch {
        // The error hook must not break delivery.
      }
    };
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
      if (result && typeof (result as Promise<void>).then === "function") {
        return (result as Promise<void>).then(undefined, this.#onError);
      }
    } catch (error) {
      this.#onError(error);
    }
    return Promise.resolve();
  }

  #remove(topic: string, subscriber: Subscriber<M>): boolean {
    const set = this.#topics.get(topic);
    if (!set?.delete(subscriber)) return false;
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

  #drop(subscriber: Subscriber<M>): void {
    const topics = this.#bySubscriber.get(subscriber);
    if (!topics) return;
    for (const topic of [...topics]) this.#remove(topic, subscriber);
  }

  #deliver(topic: string, message: M): number {
    const set = this.#topics.get(topic);
    if (!set) return 0;
    let delivered = 0;
    for (const subscriber of set) {
      let sent = false;
      try {
        sent = subscriber.closed !== true && subscriber.send(message);
      } catch (error) {
        this.#onError(error);
      }
      if (sent) delivered++;
      else this.#drop(subscriber);
    }
    return delivered;
  }

  #sweep(topic: string, set: Set<Subscriber<M>>): void {
    const last = this.#swept.get(topic) ?? 0;
    if (set.size < SWEEP_MIN || set.size < last * SWEEP_GROWTH) return;
    for (const subscriber of set) if (subscriber.closed === true) this.#drop(subscriber);
    this.#swept.set(topic, set.size);
  }

  /**
   * Subscribe a connection's mailbox (or any {@linkcode Subscriber}) to a topic. Subscribing
   * twice is one subscription. Messages published on this node from now on reach it; those
   * of other nodes once the backend has the subscription, which the returned promise tells.
   *
   * @param topic The topic.
   * @param subscriber The connection (its `send` is the mailbox).
   * @returns A promise that resolves once the backend receives the topic (at once without a
   *   backend). It never rejects: a backend failure goes to `onError`.
   *
   * @example Subscribe in init
   * ```ts
   * import { ok, type Connection } from "@websock/websock";
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new PubSub<string>();
   * async function init(_arg: undefined, connection: Connection<string>) {
   *   await pubsub.subscribe("news", connection); // remote publishes reach it from here on
   *   return ok(null);
   * }
   * ```
   */
  subscribe(topic: string, subscriber: Subscriber<M>): Promise<void> {
    checkTopic(topic, "subscribe");
    checkSubscriber(subscriber, "subscribe");
    if (this.#closed) throw new TypeError(`Cannot subscribe to ${topic}: the PubSub is closed`);
    if (subscriber.closed === true) return Promise.resolve();
    let set = this.#topics.get(topic);
    const first = set === undefined;
    if (!set) this.#topics.set(topic, set = new Set());
    else this.#sweep(topic, set);
    set.add(subscriber);
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
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new PubSub<string>();
   * const inbox = { send: (_m: string) => true };
   * pubsub.subscribe("news", inbox);
   * pubsub.unsubscribe("news", inbox); // true
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
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new PubSub<string>();
   * const inbox = { send: (_m: string) => true };
   * pubsub.subscribe("a", inbox);
   * pubsub.subscribe("b", inbox);
   * pubsub.unsubscribeAll(inbox); // 2
   * ```
   */
  unsubscribeAll(subscriber: Subscriber<M>): number {
    const count = this.#bySubscriber.get(subscriber)?.size ?? 0;
    this.#drop(subscriber);
    return count;
  }

  /**
   * Publish a message to a topic: every subscriber on this node gets it in its mailbox now
   * (in `handleInfo`, after the events it already has queued), and the backend carries it to
   * the other nodes. Messages of one publisher keep their order.
   *
   * @param topic The topic.
   * @param message The message; with a backend it must survive the backend's encoding.
   * @returns How many subscribers on this node took it.
   *
   * @example Publish
   * ```ts
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * const pubsub = new PubSub<{ price: number }>();
   * pubsub.publish("ticker", { price: 42 }); // 0: nobody listens yet
   * ```
   */
  publish(topic: string, message: M): number {
    checkTopic(topic, "publish");
    if (this.#closed) throw new TypeError(`Cannot publish to ${topic}: the PubSub is closed`);
    const delivered = this.#deliver(topic, message);
    if (this.#backend) {
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
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * new PubSub().subscribers("news"); // 0
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
   * import { PubSub } from "@websock/websock/pubsub";
   *
   * new PubSub().topics(); // []
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
   * const pubsub = new PubSub();
   * await pubsub.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
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

/** Options of {@linkcode BroadcastChannelBackend}. */
export interface BroadcastChannelBackendOptions {
  /**
   * The channel's name: every node with the same name shares the topics.
   * @default {"websock-pubsub"}
   */
  name?: string;
}

/**
 * A {@linkcode Backend} over a `BroadcastChannel`: joins the workers of
 * `deno serve --parallel` (and the workers of one process in general). Messages must be
 * structured-cloneable. Every node receives every message and keeps those of its topics.
 *
 * @example Share topics between the workers of `deno serve --parallel`
 * ```ts ignore
 * import { BroadcastChannelBackend, PubSub } from "@websock/websock/pubsub";
 *
 * const pubsub = new PubSub({ backend: new BroadcastChannelBackend({ name: "chat" }) });
 * ```
 */
export class BroadcastChannelBackend implements Backend {
  readonly #name: string;
  #channel: BroadcastChannel | undefined;

  /**
   * Make the backend; the channel opens when the `PubSub` starts it.
   *
   * @param options The channel name.
   */
  constructor(options: BroadcastChannelBackendOptions = {}) {
    const { name = "websock-pubsub" } = options;
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`Invalid option name: ${JSON.stringify(name)} is not a channel name`);
    }
    this.#name = name;
  }

  /**
   * Open the channel.
   *
   * @param deliver Where received messages go.
   * @param onError Where undecodable messages are reported.
   */
  start(
    deliver: (topic: string, message: unknown) => void,
    onError: (error: unknown) => void,
  ): void {
    const channel = new BroadcastChannel(this.#name);
    channel.onmessage = (event: MessageEvent) => {
      const data = event.data as { topic?: unknown; message?: unknown } | null;
      if (data === null || typeof data !== "object" || typeof data.topic !== "string") return;
      deliver(data.topic, data.message);
    };
    channel.onmessageerror = () => {
      onError(new TypeError(`Cannot receive on BroadcastChannel ${this.#name}: bad message`));
    };
    this.#channel = channel;
  }

  /** Nothing to do: every node receives every topic. */
  subscribe(): void {}

  /** Nothing to do: every node receives every topic. */
  unsubscribe(): void {}

  /**
   * Post a message to the other nodes.
   *
   * @param topic The topic.
   * @param message The message (structured-cloneable).
   */
  publish(topic: string, message: unknown): void {
    if (!this.#channel) throw new TypeError(`Cannot publish to ${topic}: backend not started`);
    this.#channel.postMessage({ topic, message });
  }

  /** Close the channel. */
  close(): void {
    this.#channel?.close();
    this.#channel = undefined;
  }
}
