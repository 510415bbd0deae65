/**
 * A NATS {@linkcode Backend} for `@websock/websock/pubsub`: the `PubSub`s of several
 * processes or hosts share their topics through core NATS subjects (client:
 * `npm:@nats-io/transport-node`, the only dependency of this entry; any `nats-server` 2.x).
 *
 * Messages are JSON-encoded, one subject per topic: `<prefix>.<topic>`, the topic written as
 * one subject token (letters, digits and `-` as they are, any other byte as `_` and two hex
 * digits: `room:1` is `websock.room_3A1`). Delivery is at most once, like
 * `@websock/websock/pubsub-redis`: a message published while NATS is unreachable, or before
 * a node's subscription is confirmed, is lost. One node's messages reach the other nodes in
 * the order they were published; a node does not receive its own (the connection is
 * `noEcho`).
 *
 * An outage is reported to the `PubSub`'s `onError` twice, as {@linkcode NatsBackendError}s:
 * once when it starts, once when it ends with the publishes dropped meanwhile, per topic.
 * A publish counts as delivered to NATS only once the server has confirmed it (the backend
 * sends one `PING` after each batch of publishes and counts what the `PONG` covers), so the
 * few publishes sent in the instant before a connection broke are counted as dropped too,
 * though the server may have passed some on. The client reconnects with backoff and
 * subscribes again; nothing crashes.
 *
 * ## Which NATS backend
 *
 * - This one: live fan-out between processes, the lightest (no storage on the server).
 * - `@websock/websock/pubsub-nats-jetstream`: `HistoryPubSub` with a history per topic in
 *   JetStream (positions, resume after a reconnect, gap notices), at the cost of a stored
 *   write per publish.
 *
 * @example Share topics between processes
 * ```ts
 * import { PubSub } from "@websock/websock/pubsub";
 * import { NatsBackend, NatsBackendError } from "@websock/websock/pubsub-nats";
 *
 * const url = Deno.env.get("NATS_URL"); // such as nats://127.0.0.1:4222
 * if (url !== undefined) {
 *   const room = new PubSub<{ text: string }>({
 *     backend: new NatsBackend({ url, prefix: "chat" }),
 *     onError(error) {
 *       if (error instanceof NatsBackendError && error.event === "up") {
 *         console.warn(error.message, error.dropped); // what the outage cost, per topic
 *       } else console.error(error);
 *     },
 *   });
 *   const print = { send: (m: { text: string }) => (console.log(m.text), true) };
 *   await room.subscribe("lobby", print);
 *   room.publish("lobby", { text: "hello" }); // reaches the "lobby" subscribers of every process
 *   await room.close();
 * }
 * ```
 *
 * @module
 */

import type { NatsConnection, Subscription } from "npm:@nats-io/transport-node@^3.4.0";
import type { Backend } from "./pubsub.ts";
import { checkNatsPrefix, NatsLink, type NatsTarget, parseNatsUrl, topicToken } from "./_nats.ts";
import { addCounts, messageOf, Outage, showCounts } from "./_outage.ts";
import { checkHubOptions } from "./_checks.ts";
import { showValue } from "../engine/show_value.ts";

export type { Backend } from "./pubsub.ts";

/** Options of {@linkcode NatsBackend}. */
export interface NatsBackendOptions {
  /**
   * The server: `nats://[user:password@|token@]host:port` (`tls://` for TLS), or a list of
   * them for a cluster (the first one with credentials gives them).
   * @default {"nats://127.0.0.1:4222"}
   */
  url?: string | readonly string[];
  /**
   * The first token of every subject (`<prefix>.<topic>`), so that several applications can
   * share one NATS: letters, digits, `-` and `_`.
   * @default {"websock"}
   */
  prefix?: string;
  /**
   * Longest wait between reconnection attempts, in ms (the first connection's wait grows by
   * 100 ms per attempt up to this; once connected, the client waits this long between
   * attempts).
   * @default {2000}
   */
  maxRetryDelay?: number;
}

// Every name of NatsBackendOptions, for checkHubOptions (the compiler says if one is missing).
const OPTION_NAMES = Object.keys(
  { url: 0, prefix: 0, maxRetryDelay: 0 } satisfies Record<keyof NatsBackendOptions, 0>,
);

/** What happened, in a {@linkcode NatsBackendError}. */
export type NatsBackendEvent = "down" | "up" | "error";

/**
 * What a {@linkcode NatsBackend} reports to the `PubSub`'s `onError`. Its message names the
 * backend and its URL (password or token redacted); an error of the NATS client is its
 * `cause`.
 *
 * - `down`: the connection was lost (or never made); publishes are dropped until it is back.
 * - `up`: it is back; `dropped` counts the publishes dropped meanwhile, per topic.
 * - `error`: one operation failed (a publish, a message that is not JSON, a permission the
 *   server refused, a slow consumer).
 *
 * @example Count what an outage cost
 * ```ts
 * import { NatsBackendError } from "@websock/websock/pubsub-nats";
 *
 * // The PubSub's onError: new PubSub({ backend: new NatsBackend(...), onError })
 * function onError(error: unknown): void {
 *   if (error instanceof NatsBackendError && error.event === "up") {
 *     console.warn(error.message, error.dropped); // ...; { room: 24 }
 *   } else console.error(error);
 * }
 * onError(new NatsBackendError("up", "nats://127.0.0.1:4222", "connection back", {}));
 * ```
 */
export class NatsBackendError extends Error {
  /** What happened. */
  readonly event: NatsBackendEvent;
  /** The backend's URL, password or token redacted. */
  readonly url: string;
  /** On `up`: the publishes dropped during the outage, per topic. */
  readonly dropped: Readonly<Record<string, number>> | undefined;

  /**
   * Make a report.
   *
   * @param event What happened.
   * @param url The backend's URL, password redacted.
   * @param what What to say after the backend and URL.
   * @param options The NATS client's error as `cause`; `dropped` for `up`.
   */
  constructor(
    event: NatsBackendEvent,
    url: string,
    what: string,
    options: { cause?: unknown; dropped?: Record<string, number> } = {},
  ) {
    super(`NATS pub/sub backend ${url}: ${what}`, { cause: options.cause });
    this.name = "NatsBackendError";
    this.event = event;
    this.url = url;
    this.dropped = options.dropped;
  }
}

// Publishes held before the first connection attempt ends, at most.
const EARLY = 10_000;

/**
 * A {@linkcode Backend} over core NATS: one connection for publishing and subscribing,
 * opened when the `PubSub` starts it.
 *
 * @example Two processes, one room
 * ```ts
 * import { PubSub } from "@websock/websock/pubsub";
 * import { NatsBackend } from "@websock/websock/pubsub-nats";
 *
 * const url = Deno.env.get("NATS_URL"); // such as nats://127.0.0.1:4222
 * if (url !== undefined) {
 *   const pubsub = new PubSub<string>({
 *     backend: new NatsBackend({ url }),
 *     onError: (error) => console.warn("pub/sub:", error),
 *   });
 *   pubsub.publish("lobby", "hello"); // reaches the "lobby" subscribers of every process
 *   await pubsub.close();
 * }
 * ```
 */
export class NatsBackend implements Backend {
  readonly #target: NatsTarget;
  readonly #prefix: string;
  readonly #maxRetryDelay: number;
  readonly #subs = new Map<string, Subscription | undefined>();
  #link: NatsLink | undefined;
  #deliver: (topic: string, message: unknown) => void = () => {};
  #onError: (error: unknown) => void = () => {};
  // The outage in progress, if any: the publishes dropped so far, per topic.
  readonly #outage = new Outage((event, what, options) => {
    if (!this.#closing) {
      this.#onError(new NatsBackendError(event, this.#target.where, what, options));
    }
  });
  // Publishes the server has not confirmed: since the last PING (`#sent`), and the ones the
  // PING in flight covers (`#inFlight`).
  #sent = new Map<string, number>();
  #inFlight: Map<string, number> | undefined;
  #confirming = false;
  // Publishes made before the first connection attempt ended (sent or counted then).
  #early: [string, unknown][] | undefined = [];
  #overflow = new Map<string, number>();
  #closing = false;

  /**
   * Make the backend; it connects when the `PubSub` starts it.
   *
   * @param options The server URL, the subject prefix and the reconnection backoff.
   */
  constructor(options: NatsBackendOptions = {}) {
    checkHubOptions(options, "NatsBackend", OPTION_NAMES);
    const { url = "nats://127.0.0.1:4222", prefix = "websock", maxRetryDelay = 2000 } = options;
    this.#target = parseNatsUrl(url);
    this.#prefix = checkNatsPrefix(prefix);
    if (typeof maxRetryDelay !== "number" || !Number.isFinite(maxRetryDelay) || maxRetryDelay < 0) {
      throw new RangeError(
        `Invalid option maxRetryDelay: ${showValue(maxRetryDelay)} is not a number of ms >= 0`,
      );
    }
    this.#maxRetryDelay = maxRetryDelay;
  }

  /**
   * Connect; resolves once connected (or once the first attempt failed, which is reported
   * and retried).
   *
   * @param deliver Where messages of other nodes go.
   * @param onError Where connection losses and failed publishes are reported.
   */
  async start(
    deliver: (topic: string, message: unknown) => void,
    onError: (error: unknown) => void,
  ): Promise<void> {
    this.#deliver = deliver;
    this.#onError = onError;
    this.#link = new NatsLink(this.#target, {
      name: "websock-pubsub",
      noEcho: true,
      maxRetryDelay: this.#maxRetryDelay,
    }, {
      down: (cause) => this.#down(cause),
      up: () => this.#outage.end(),
      connected: (nc, fresh) => {
        if (!fresh) return; // the client subscribes again by itself
        for (const topic of this.#subs.keys()) this.#subs.set(topic, this.#listen(nc, topic));
      },
      error: (cause) => this.#report("error", messageOf(cause), cause),
    });
    await this.#link.start();
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const [topic, message] of early) this.publish(topic, message);
    if (this.#overflow.size === 0) return;
    if (this.#outage.active) {
      for (const [topic, n] of this.#overflow) this.#outage.drop(topic, n);
    } else {
      const counts = showCounts(this.#overflow);
      this.#report("error", `publishes dropped while connecting, past ${EARLY} (${counts})`);
    }
    this.#overflow.clear();
  }

  #report(event: NatsBackendEvent, what: string, cause?: unknown): void {
    if (!this.#closing) {
      this.#onError(new NatsBackendError(event, this.#target.where, what, { cause }));
    }
  }

  // The connection is lost (or was never made): report once; what the server did not
  // confirm counts as dropped, and so does every publish until it is back.
  #down(cause: unknown): void {
    if (this.#outage.active || this.#closing) return;
    const dropped = new Map<string, number>();
    if (this.#inFlight) addCounts(dropped, this.#inFlight);
    addCounts(dropped, this.#sent);
    this.#inFlight = undefined;
    this.#sent = new Map();
    this.#outage.begin(cause, dropped);
  }

  #subject(topic: string): string {
    return `${this.#prefix}.${topicToken(topic)}`;
  }

  #listen(nc: NatsConnection, topic: string): Subscription {
    return nc.subscribe(this.#subject(topic), {
      callback: (error, msg) => {
        if (error) {
          this.#report("error", `subscription to ${topic} failed: ${error.message}`, error);
          return;
        }
        let message: unknown;
        try {
          message = msg.json();
        } catch (error) {
          this.#report("error", `cannot decode a message on ${msg.subject}`, error);
          return;
        }
        this.#deliver(topic, message);
      },
    });
  }

  /**
   * Subscribe to the topic's subject; resolves once the server has it (waits through an
   * outage).
   *
   * @param topic The topic.
   */
  async subscribe(topic: string): Promise<void> {
    const link = this.#link;
    if (!link) throw new TypeError(`Cannot subscribe to ${topic}: backend not started`);
    if (this.#subs.has(topic)) return;
    const client = link.client;
    this.#subs.set(topic, client && this.#listen(client, topic));
    try {
      const nc = await link.ready();
      await nc.flush();
    } catch (error) {
      // Closing, or the connection went: the client subscribes again when it is back.
      if (!this.#closing && link.connection) {
        this.#report("error", `subscribe to ${topic} failed: ${messageOf(error)}`, error);
      }
    }
  }

  /**
   * Unsubscribe from the topic's subject.
   *
   * @param topic The topic.
   */
  unsubscribe(topic: string): void {
    const sub = this.#subs.get(topic);
    this.#subs.delete(topic);
    if (this.#closing || !sub) return;
    try {
      sub.unsubscribe();
    } catch (error) {
      this.#report("error", `unsubscribe from ${topic} failed: ${messageOf(error)}`, error);
    }
  }

  /** Send a PING covering the publishes since the last one, unless one is in flight. */
  #confirm(): void {
    this.#confirming = false;
    const nc = this.#link?.connection;
    if (this.#inFlight || this.#sent.size === 0 || !nc) return;
    const window = this.#inFlight = this.#sent;
    this.#sent = new Map();
    nc.flush().then(() => {
      if (this.#inFlight !== window) return; // an outage counted it
      this.#inFlight = undefined;
      this.#confirm();
    }, () => {
      // Rejected when the connection goes: #down has counted the window.
    });
  }

  /**
   * Publish a message, JSON-encoded (this node's connection does not receive it).
   *
   * @param topic The topic.
   * @param message The message (JSON-serializable).
   */
  publish(topic: string, message: unknown): void {
    const link = this.#link;
    if (!link) throw new TypeError(`Cannot publish to ${topic}: backend not started`);
    if (this.#early) {
      if (this.#early.length < EARLY) this.#early.push([topic, message]);
      else this.#overflow.set(topic, (this.#overflow.get(topic) ?? 0) + 1);
      return;
    }
    const nc = link.connection;
    if (this.#outage.active || !nc) {
      if (this.#closing) return;
      // Not a new Error per dropped publish: only the first one of an outage reports it.
      if (!this.#outage.active) this.#down(new Error("not connected"));
      this.#outage.drop(topic); // at most once; counted
      return;
    }
    try {
      nc.publish(this.#subject(topic), JSON.stringify(message) ?? "null");
    } catch (error) {
      this.#report("error", `publish to ${topic} failed: ${messageOf(error)}`, error);
      return;
    }
    this.#sent.set(topic, (this.#sent.get(topic) ?? 0) + 1);
    if (!this.#confirming && !this.#inFlight) {
      this.#confirming = true;
      queueMicrotask(() => this.#confirm());
    }
  }

  /** Close the connection (after flushing what it holds, when connected). */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#link?.close();
    this.#subs.clear();
  }
}
