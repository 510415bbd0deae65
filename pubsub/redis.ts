/**
 * A Redis {@linkcode Backend} for `@websock/websock/pubsub`: the `PubSub`s of several
 * processes or hosts share their topics through Redis `PUBLISH`/`SUBSCRIBE` (client:
 * `npm:ioredis`, the only dependency of this entry).
 *
 * Messages are JSON-encoded. Delivery is at most once: a message published while Redis is
 * unreachable (past a short retry), or before a node's `SUBSCRIBE` is confirmed, is lost.
 * One node's messages reach the other nodes in the order they were published. When the
 * connection drops, the error is reported once to the `PubSub`'s `onError`, the clients
 * reconnect with backoff and subscribe again; nothing crashes.
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

import { Redis } from "npm:ioredis@^5.4.1";
import type { Backend } from "./pubsub.ts";
import { checkRedisOptions, closeClient, DISCONNECT_TIMEOUT } from "./_redis_client.ts";

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
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}

/**
 * A {@linkcode Backend} over Redis pub/sub. Uses two connections (Redis wants one of them
 * for subscriptions only), opened when the `PubSub` starts it.
 *
 * @example Two processes, one room
 * ```ts
 * import { PubSub } from "@websock/websock/pubsub";
 * import { RedisBackend } from "@websock/websock/pubsub-redis";
 *
 * const url = Deno.env.get("REDIS_URL"); // such as redis://127.0.0.1:6379
 * if (url !== undefined) {
 *   const pubsub = new PubSub<string>({
 *     backend: new RedisBackend({ url }),
 *     onError: (error) => console.warn("pub/sub:", error),
 *   });
 *   pubsub.publish("lobby", "hello"); // reaches the "lobby" subscribers of every process
 *   await pubsub.close();
 * }
 * ```
 */
export class RedisBackend implements Backend {
  readonly #url: string;
  readonly #prefix: string;
  readonly #maxRetryDelay: number;
  readonly #node = crypto.randomUUID();
  #pub: Redis | undefined;
  #sub: Redis | undefined;
  #down = false;
  #closing = false;

  /**
   * Make the backend; it connects when the `PubSub` starts it.
   *
   * @param options The server URL, the channel prefix and the reconnection backoff.
   */
  constructor(options: RedisBackendOptions = {}) {
    const { url = "redis://127.0.0.1:6379", prefix = "websock:", maxRetryDelay = 2000 } = options;
    checkRedisOptions(url, prefix, maxRetryDelay);
    this.#url = url;
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
    const where = redact(this.#url);
    const report = (error: unknown) => {
      // One report per outage: ioredis repeats the error on every attempt.
      if (this.#down || this.#closing) return;
      this.#down = true;
      const message = error instanceof Error ? error.message : String(error);
      onError(
        new Error(`Redis pub/sub connection to ${where} failed: ${message}; reconnecting`, {
          cause: error,
        }),
      );
    };
    const make = (role: "publish" | "subscribe") => {
      const client = new Redis(this.#url, {
        lazyConnect: true,
        connectionName: `websock-${role}`,
        retryStrategy: (times) => Math.min(times * 100, this.#maxRetryDelay),
        // A publish waits through one retry, then fails (at most once); subscribes wait.
        maxRetriesPerRequest: role === "publish" ? 1 : null,
        autoResubscribe: true,
        disconnectTimeout: DISCONNECT_TIMEOUT,
      });
      client.on("error", report);
      client.on("ready", () => this.#down = false);
      return client;
    };
    this.#pub = make("publish");
    this.#sub = make("subscribe");
    const prefix = this.#prefix;
    this.#sub.on("message", (channel: string, raw: string) => {
      if (!channel.startsWith(prefix)) return;
      let node: unknown, message: unknown;
      try {
        [node, message] = JSON.parse(raw);
      } catch (error) {
        onError(new TypeError(`Cannot decode Redis message on ${channel}`, { cause: error }));
        return;
      }
      if (node !== this.#node) deliver(channel.slice(prefix.length), message);
    });
    const connect = (client: Redis) => client.connect().catch(report);
    await Promise.all([connect(this.#pub), connect(this.#sub)]);
  }

  /**
   * `SUBSCRIBE` to the topic's channel; resolves once Redis confirms.
   *
   * @param topic The topic.
   */
  async subscribe(topic: string): Promise<void> {
    await this.#sub?.subscribe(this.#prefix + topic);
  }

  /**
   * `UNSUBSCRIBE` from the topic's channel.
   *
   * @param topic The topic.
   */
  async unsubscribe(topic: string): Promise<void> {
    if (this.#closing) return;
    await this.#sub?.unsubscribe(this.#prefix + topic);
  }

  /**
   * `PUBLISH` a message, JSON-encoded with this node's id (so this node skips it).
   *
   * @param topic The topic.
   * @param message The message (JSON-serializable).
   */
  async publish(topic: string, message: unknown): Promise<void> {
    const pub = this.#pub;
    if (!pub) throw new TypeError(`Cannot publish to ${topic}: backend not started`);
    const raw = JSON.stringify([this.#node, message]);
    if (this.#down) return; // Redis is away: drop (at most once), already reported.
    await pub.publish(this.#prefix + topic, raw);
  }

  /** Close both connections. */
  async close(): Promise<void> {
    this.#closing = true;
    // Not waiting for "end" on a client that is reconnecting: it never comes (Redis down).
    await Promise.all([this.#pub, this.#sub].map((client) => client && closeClient(client)));
    this.#pub = this.#sub = undefined;
  }
}
