/**
 * A Redis {@linkcode Backend} for `@websock/websock/pubsub`: the `PubSub`s of several
 * processes or hosts share their topics through Redis `PUBLISH`/`SUBSCRIBE` (client:
 * `npm:ioredis`, the only dependency of this entry).
 *
 * Messages are JSON-encoded. Delivery is at most once: a message published while Redis is
 * unreachable (past a short retry), or before a node's `SUBSCRIBE` is confirmed, is lost.
 * One node's messages reach the other nodes in the order they were published. An outage is
 * reported to the `PubSub`'s `onError` twice, as {@linkcode RedisBackendError}s: once when it
 * starts, once when it ends with the publishes dropped meanwhile, per topic. The clients
 * reconnect with backoff and subscribe again; nothing crashes.
 *
 * With the `cluster` option it runs on a Redis Cluster (Redis 7): topics go through sharded
 * pub/sub (`SSUBSCRIBE`/`SPUBLISH`), so a topic's messages stay on the shard that owns its
 * channel's slot instead of being broadcast over the whole cluster bus; the channel name is
 * the prefix and the topic, so a `{tag}` in a topic picks its slot as with keys. When a master
 * fails, its replica takes over: publishes to that shard fail (and are counted as dropped)
 * until the client has the new slot map, then resume; the subscriptions move to the new
 * master. The outage is reported as `down` then `up` like a lost single Redis; publishes to
 * the shards still up go through meanwhile.
 *
 * @example On a Redis Cluster
 * ```ts ignore
 * import { PubSub } from "@websock/websock/pubsub";
 * import { RedisBackend } from "@websock/websock/pubsub-redis";
 *
 * const backend = new RedisBackend({
 *   cluster: ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000", "redis://10.0.0.3:7000"],
 * });
 * const pubsub = new PubSub({ backend });
 * ```
 *
 * @example Share topics between processes
 * ```ts ignore
 * import { PubSub } from "@websock/websock/pubsub";
 * import { RedisBackend } from "@websock/websock/pubsub-redis";
 *
 * const pubsub = new PubSub({ backend: new RedisBackend({ url: "redis://127.0.0.1:6379" }) });
 * ```
 *
 * @module
 */

import { type Cluster, Redis } from "npm:ioredis@^5.4.1";
import type { Backend } from "./pubsub.ts";
import {
  checkRedisOptions,
  closeClient,
  DISCONNECT_TIMEOUT,
  followReadyCheck,
  LOADING_RETRY,
} from "./_redis_client.ts";
import { messageOf, Outage, redactUrl } from "./_outage.ts";
import { checkClusterOption, closeCluster, openCluster, probeCluster } from "./_redis_cluster.ts";
import { checkHubOptions } from "./_checks.ts";

export type { Backend } from "./pubsub.ts";

/** Options of {@linkcode RedisBackend}. */
export interface RedisBackendOptions {
  /**
   * The server: `redis://[user:password@]host:port[/db]`.
   * @default {"redis://127.0.0.1:6379"}
   */
  url?: string;
  /**
   * Prepended to every topic to make the Redis channel name, so that several applications
   * can share one Redis.
   * @default {"websock:"}
   */
  prefix?: string;
  /**
   * Longest wait between reconnection attempts, in ms (the wait grows by 100 ms per attempt
   * up to this).
   * @default {2000}
   */
  maxRetryDelay?: number;
  /**
   * The startup nodes of a Redis Cluster (`redis://[user:password@]host:port` each; one is
   * enough, more survive one being down; the user and password of the first are used). With
   * it, `url` is not used and topics go through sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`,
   * Redis 7).
   * @default {undefined}
   */
  cluster?: readonly string[];
}

// Every name of RedisBackendOptions, for checkHubOptions (the compiler says if one is missing).
const OPTION_NAMES = Object.keys(
  {
    url: 0,
    prefix: 0,
    maxRetryDelay: 0,
    cluster: 0,
  } satisfies Record<keyof RedisBackendOptions, 0>,
);

/** What happened, in a {@linkcode RedisBackendError}. */
export type RedisBackendEvent = "down" | "up" | "error";

/**
 * What a {@linkcode RedisBackend} reports to the `PubSub`'s `onError`. Its message names the
 * backend and its URL (password redacted); an error of the Redis client is its `cause`.
 *
 * - `down`: the connection was lost (or never made); publishes are dropped until it is back.
 * - `up`: it is back; `dropped` counts the publishes dropped meanwhile, per topic.
 * - `error`: one operation failed (a subscribe, a publish, a message that is not JSON).
 *
 * @example Count what an outage cost
 * ```ts
 * import assert from "node:assert/strict";
 * import { RedisBackendError } from "@websock/websock/pubsub-redis";
 *
 * // The PubSub's onError: new PubSub({ backend: new RedisBackend(...), onError })
 * const lost: Record<string, number> = {};
 * function onError(error: unknown): void {
 *   if (error instanceof RedisBackendError && error.event === "up") {
 *     for (const [topic, n] of Object.entries(error.dropped ?? {})) lost[topic] = n;
 *   } else console.error(error);
 * }
 * const report = new RedisBackendError(
 *   "up",
 *   "redis://127.0.0.1:6379",
 *   "connection back after 1.2 s; 24 publishes dropped meanwhile (room: 24)",
 *   { dropped: { room: 24 } },
 * );
 * onError(report);
 * assert.deepEqual(lost, { room: 24 });
 * assert.match(report.message, /^Redis pub\/sub backend redis:\/\/127\.0\.0\.1:6379: connection back/);
 * ```
 */
export class RedisBackendError extends Error {
  /** What happened. */
  readonly event: RedisBackendEvent;
  /** The backend's URL, password redacted (on a cluster: its startup nodes, comma-separated). */
  readonly url: string;
  /** On `up`: the publishes dropped during the outage, per topic. */
  readonly dropped: Readonly<Record<string, number>> | undefined;

  /**
   * Make a report.
   *
   * @param event What happened.
   * @param url The backend's URL, password redacted.
   * @param what What to say after the backend and URL.
   * @param options The Redis client's error as `cause`; `dropped` for `up`.
   */
  constructor(
    event: RedisBackendEvent,
    url: string,
    what: string,
    options: { cause?: unknown; dropped?: Record<string, number> } = {},
  ) {
    super(`Redis pub/sub backend ${url}: ${what}`, { cause: options.cause });
    this.name = "RedisBackendError";
    this.event = event;
    this.url = url;
    this.dropped = options.dropped;
  }
}

// Redis refused this one command (a reply error that is not about the cluster's state).
const isCommandError = (error: unknown) =>
  (error as Error)?.name === "ReplyError" &&
  !/^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|MASTERDOWN|READONLY)\b/.test(messageOf(error));

/**
 * A {@linkcode Backend} over Redis pub/sub. Uses two connections (Redis wants one of them
 * for subscriptions only), opened when the `PubSub` starts it; on a cluster (the `cluster`
 * option), two per master (one for `SPUBLISH`, one for `SSUBSCRIBE`).
 *
 * @example Two processes, one room
 * ```ts
 * import assert from "node:assert/strict";
 * import { PubSub } from "@websock/websock/pubsub";
 * import { RedisBackend } from "@websock/websock/pubsub-redis";
 *
 * const url = Deno.env.get("REDIS_URL"); // such as redis://127.0.0.1:6379
 * if (url !== undefined) {
 *   const pubsub = new PubSub<string>({
 *     backend: new RedisBackend({ url }),
 *     onError: (error) => console.warn("pub/sub:", error),
 *   });
 *   // Local subscribers now (none here), every other process's "lobby" through Redis.
 *   assert.deepEqual(pubsub.publish("lobby", "hello"), { delivered: 0, dropped: 0 });
 *   await pubsub.close();
 * }
 * ```
 */
export class RedisBackend implements Backend {
  readonly #url: string;
  readonly #prefix: string;
  readonly #maxRetryDelay: number;
  readonly #node = crypto.randomUUID();
  readonly #where: string;
  #pub: Redis | undefined;
  #sub: Redis | undefined;
  readonly #seeds: readonly string[] | undefined;
  #cluster: Cluster | undefined;
  // Cluster: the channels subscribed (to subscribe again after a failover), the probe's timer.
  readonly #channels = new Set<string>();
  #probe: ReturnType<typeof setTimeout> | undefined;
  // Cluster: the publishes in flight, by sequence number (a Set keeps the oldest first).
  #sent = 0;
  readonly #inflight = new Set<number>();
  #onError: (error: unknown) => void = () => {};
  // The outage in progress, if any: the publishes dropped so far, per topic.
  readonly #outage = new Outage((event, what, options) => {
    if (!this.#closing) this.#onError(new RedisBackendError(event, this.#where, what, options));
  });
  #closing = false;

  /**
   * Make the backend; it connects when the `PubSub` starts it.
   *
   * @param options The server URL (or the cluster's nodes), the channel prefix and the
   *   reconnection backoff.
   */
  constructor(options: RedisBackendOptions = {}) {
    checkHubOptions(options, "RedisBackend", OPTION_NAMES);
    const { url = "redis://127.0.0.1:6379", prefix = "websock:", maxRetryDelay = 2000 } = options;
    checkRedisOptions(url, prefix, maxRetryDelay);
    if (options.cluster !== undefined) {
      checkClusterOption(options.cluster);
      this.#seeds = [...options.cluster];
    }
    this.#url = url;
    this.#where = this.#seeds ? this.#seeds.map(redactUrl).join(",") : redactUrl(url);
    this.#prefix = prefix;
    this.#maxRetryDelay = maxRetryDelay;
  }

  /**
   * Connect both clients; resolves once the subscriber connection is ready (or has failed,
   * which is reported and retried).
   *
   * @param deliver Where messages of other nodes go.
   * @param onError Where connection losses and failed publishes are reported.
   */
  async start(
    deliver: (topic: string, message: unknown) => void,
    onError: (error: unknown) => void,
  ): Promise<void> {
    this.#onError = onError;
    if (this.#seeds) return this.#startCluster(this.#seeds, deliver);
    const make = (role: "publish" | "subscribe") => {
      const client = new Redis(this.#url, {
        lazyConnect: true,
        connectionName: `websock-${role}`,
        retryStrategy: (times) => Math.min(times * 100, this.#maxRetryDelay),
        // A publish waits through one retry, then fails (at most once); subscribes wait.
        maxRetriesPerRequest: role === "publish" ? 1 : null,
        autoResubscribe: true,
        disconnectTimeout: DISCONNECT_TIMEOUT,
        maxLoadingRetryTime: LOADING_RETRY,
      });
      followReadyCheck(client);
      // ioredis repeats a connection error on every attempt: one report per outage.
      client.on("error", (error: unknown) => {
        if (client.status === "ready") this.#report("error", `${messageOf(error)}`, error);
        else this.#down(error);
      });
      client.on("ready", () => this.#up());
      return client;
    };
    this.#pub = make("publish");
    this.#sub = make("subscribe");
    this.#sub.on("message", this.#receiver(deliver));
    const connect = (client: Redis) => client.connect().catch((error) => this.#down(error));
    await Promise.all([connect(this.#pub), connect(this.#sub)]);
  }

  // What the subscriber connection(s) do with a message: decode, skip this node's own.
  #receiver(deliver: (topic: string, message: unknown) => void) {
    const prefix = this.#prefix;
    return (channel: string, raw: string) => {
      if (!channel.startsWith(prefix)) return;
      let node: unknown, message: unknown;
      try {
        [node, message] = JSON.parse(raw);
      } catch (error) {
        this.#report("error", `cannot decode a message on ${channel}`, error);
        return;
      }
      if (node !== this.#node) deliver(channel.slice(prefix.length), message);
    };
  }

  // Cluster mode: one ioredis Cluster (commands and sharded subscribers). Any node or
  // subscriber error starts an outage; the probe ends it.
  async #startCluster(
    seeds: readonly string[],
    deliver: (topic: string, message: unknown) => void,
  ): Promise<void> {
    const cluster = this.#cluster = openCluster(seeds, this.#maxRetryDelay);
    cluster.on("error", (error: unknown) => this.#down(error));
    cluster.on("node error", (error: unknown) => this.#down(error));
    cluster.on("smessage", this.#receiver(deliver));
    await cluster.connect().catch((error) => this.#down(error));
  }

  // Cluster mode, during an outage: check the cluster every so often until it serves again.
  #scheduleProbe(): void {
    if (this.#probe !== undefined || this.#closing || this.#cluster === undefined) return;
    const every = Math.min(Math.max(this.#maxRetryDelay, 100), 1000);
    this.#probe = setTimeout(async () => {
      const cluster = this.#cluster;
      if (cluster === undefined || this.#closing) return;
      const before = this.#sent;
      let healthy = await probeCluster(cluster, this.#channels, 2000).then(
        () => true,
        () => false,
      );
      // Over only once the publishes sent before the probe have succeeded or been counted.
      const oldest = this.#inflight.values().next().value;
      if (oldest !== undefined && oldest <= before) healthy = false;
      this.#probe = undefined;
      if (this.#closing) return;
      if (healthy) this.#up();
      else this.#scheduleProbe();
    }, every);
  }

  #report(event: RedisBackendEvent, what: string, cause?: unknown): void {
    if (!this.#closing) this.#onError(new RedisBackendError(event, this.#where, what, { cause }));
  }

  // The connection is lost (or was never made): report once, drop publishes until it is back.
  #down(cause: unknown): void {
    if (this.#outage.active || this.#closing) return;
    this.#scheduleProbe();
    this.#outage.begin(cause);
  }

  // A client is ready: once both are, the outage is over; say what it cost.
  #up(): void {
    // Cluster mode: only the probe calls this, once the cluster serves again.
    if (!this.#cluster && (this.#pub?.status !== "ready" || this.#sub?.status !== "ready")) {
      return;
    }
    this.#outage.end();
  }

  /**
   * `SUBSCRIBE` to the topic's channel; resolves once Redis confirms.
   *
   * @param topic The topic.
   */
  async subscribe(topic: string): Promise<void> {
    try {
      if (this.#cluster) return await this.#subscribeSharded(this.#cluster, topic);
      await this.#sub?.subscribe(this.#prefix + topic);
    } catch (error) {
      if (!this.#closing) {
        this.#report("error", `subscribe to ${topic} failed: ${messageOf(error)}`, error);
      }
    }
  }

  async #subscribeSharded(cluster: Cluster, topic: string): Promise<void> {
    const channel = this.#prefix + topic;
    this.#channels.add(channel);
    try {
      await cluster.ssubscribe(channel);
    } catch (error) {
      // A lost shard: the probe subscribes again once the cluster serves.
      if (!isCommandError(error)) return this.#down(error);
      throw error;
    }
  }

  /**
   * `UNSUBSCRIBE` from the topic's channel.
   *
   * @param topic The topic.
   */
  async unsubscribe(topic: string): Promise<void> {
    if (this.#closing) return;
    try {
      if (this.#cluster) {
        this.#channels.delete(this.#prefix + topic);
        await this.#cluster.sunsubscribe(this.#prefix + topic);
        return;
      }
      await this.#sub?.unsubscribe(this.#prefix + topic);
    } catch (error) {
      this.#report("error", `unsubscribe from ${topic} failed: ${messageOf(error)}`, error);
    }
  }

  /**
   * `PUBLISH` a message, JSON-encoded with this node's id (so this node skips it).
   *
   * @param topic The topic.
   * @param message The message (JSON-serializable).
   */
  async publish(topic: string, message: unknown): Promise<void> {
    if (this.#cluster) return await this.#publishSharded(this.#cluster, topic, message);
    const pub = this.#pub;
    if (!pub) throw new TypeError(`Cannot publish to ${topic}: backend not started`);
    const raw = JSON.stringify([this.#node, message]);
    if (this.#outage.active) return this.#outage.drop(topic); // at most once; counted
    try {
      await pub.publish(this.#prefix + topic, raw);
    } catch (error) {
      if (this.#closing) return;
      // A reply error (Redis refused this one command) is one failure; anything else means
      // the connection went: the outage starts here if the clients have not said so yet.
      if ((error as Error)?.name === "ReplyError" || pub.status === "ready") {
        this.#report("error", `publish to ${topic} failed: ${messageOf(error)}`, error);
        return;
      }
      this.#down(error);
      this.#outage.drop(topic);
    }
  }

  // Cluster mode: `SPUBLISH`, tried even during an outage (the other shards may be up); one
  // that fails for the connection (a lost master, a failover in progress) is counted.
  async #publishSharded(cluster: Cluster, topic: string, message: unknown): Promise<void> {
    const raw = JSON.stringify([this.#node, message]);
    const seq = ++this.#sent;
    this.#inflight.add(seq);
    try {
      await cluster.spublish(this.#prefix + topic, raw);
    } catch (error) {
      if (this.#closing) return;
      if (isCommandError(error)) {
        this.#report("error", `publish to ${topic} failed: ${messageOf(error)}`, error);
        return;
      }
      this.#down(error);
      this.#outage.drop(topic);
    } finally {
      this.#inflight.delete(seq);
    }
  }

  /** Close both connections. */
  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#probe);
    if (this.#cluster) {
      await closeCluster(this.#cluster);
      this.#cluster = undefined;
      return;
    }
    // Not waiting for "end" on a client that is reconnecting: it never comes (Redis down).
    await Promise.all([this.#pub, this.#sub].map((client) => client && closeClient(client)));
    this.#pub = this.#sub = undefined;
  }
}
