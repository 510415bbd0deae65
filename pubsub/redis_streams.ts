/**
 * A Redis Streams {@linkcode HistoryBackend} for `HistoryPubSub` (in
 * `@websock/websock/pubsub`): every topic is one stream, shared by the processes on one
 * Redis, so each topic has one order on every node and a history that a reconnecting client
 * resumes from (client: `npm:ioredis`, the only dependency of this entry).
 *
 * Messages are JSON-encoded. A publish is stored (`XADD`, trimmed with `MAXLEN ~` and by age)
 * before anyone receives it, so a publish that cannot be stored (Redis down) rejects and
 * `onError` is told. Each node reads the topics it subscribes to with `XREAD BLOCK` on its
 * own connection; after an outage it reads on from where it was, so its subscribers catch
 * up on what other nodes published meanwhile. A Redis that lost its data starts new epochs:
 * subscribers get a gap notice.
 *
 * @example A history shared by several processes
 * ```ts ignore
 * import { HistoryPubSub } from "@websock/websock/pubsub";
 * import { RedisStreamsBackend } from "@websock/websock/pubsub-redis-streams";
 *
 * const pubsub = new HistoryPubSub({
 *   backend: new RedisStreamsBackend({ url: "redis://127.0.0.1:6379", maxLength: 1000 }),
 * });
 * ```
 *
 * @module
 */

import { Redis } from "npm:ioredis@^5.4.1";
import type { HistoryBackend, HistoryMessage, HistoryPage, Position } from "./history_backend.ts";
import {
  checkRedisOptions,
  closeClient,
  DISCONNECT_TIMEOUT,
  followReadyCheck,
  LOADING_RETRY,
} from "./_redis_client.ts";
import { messageOf, Pauses, redactUrl } from "./_outage.ts";
import { newEpoch } from "./_epoch.ts";
import { LUA_CHECK, LUA_PUBLISH, LUA_READ, type RawEntry, type Scripts } from "./_streams_lua.ts";
import { showValue } from "../engine/show_value.ts";
import { checkInteger } from "../engine/check_integer.ts";
import { checkHubOptions } from "./_checks.ts";

export type { HistoryBackend, HistoryMessage, HistoryPage, Position } from "./history_backend.ts";

/** Options of {@linkcode RedisStreamsBackend}. */
export interface RedisStreamsBackendOptions {
  /**
   * The server: `redis://[user:password@]host:port[/db]`. One Redis, not a Cluster.
   * @default {"redis://127.0.0.1:6379"}
   */
  url?: string;
  /**
   * Prepended to every key: a topic's stream is `<prefix>{<topic>}:s`, its epoch and
   * counter `<prefix>{<topic>}:m`.
   * @default {"websock:"}
   */
  prefix?: string;
  /**
   * How many messages each topic keeps, at least: trimming is approximate (`MAXLEN ~`), so
   * up to about 100 more are kept.
   * @default {1000}
   */
  maxLength?: number;
  /**
   * How long a message is kept, in ms (by Redis's clock); `0` keeps messages until
   * `maxLength` pushes them out. Older messages are never replayed (a catch-up trims them,
   * `XTRIM MINID`), and an idle topic's stream expires after this long.
   * @default {300000}
   */
  maxAge?: number;
  /**
   * Longest wait between reconnection attempts, in ms (the wait grows by 100 ms per attempt
   * up to this).
   * @default {2000}
   */
  maxRetryDelay?: number;
}

// Every name of RedisStreamsBackendOptions, for checkHubOptions (the compiler says if one is missing).
const OPTION_NAMES = Object.keys(
  { url: 0, prefix: 0, maxLength: 0, maxAge: 0, maxRetryDelay: 0 } satisfies Record<
    keyof RedisStreamsBackendOptions,
    0
  >,
);

// XREAD waits at most this long, then checks the epochs and reads again.
const BLOCK = 2000;
// Entries read per topic and XREAD.
const COUNT = 1000;

type Client = Redis & Scripts;

/** What the reader knows of one subscribed topic. */
interface Stream {
  readonly topic: string;
  readonly key: string;
  readonly meta: string;
  /** The epoch its last entry had ('' when Redis has none). */
  epoch: string;
  /** The offset read up to; undefined until the subscription knows the head. */
  last: number | undefined;
}

/** Whether a command failed for want of a connection (not with a reply from Redis). */
function lostLink(error: unknown): boolean {
  return (error as Error)?.name !== "ReplyError";
}

/** Whether a command failed before it was sent (so it was certainly not applied). */
function notSent(error: unknown): boolean {
  return /^Stream isn't writeable/.test((error as Error)?.message);
}

/**
 * A {@linkcode HistoryBackend} over Redis Streams. Uses two connections: one for publishing
 * and reading history, one that blocks in `XREAD` for the topics this node subscribes to.
 *
 * Keys: a stream and a small hash (epoch and counter) per topic, trimmed to `maxLength` and
 * `maxAge`; with `maxAge`, both expire when the topic is idle that long (the hash twice
 * that, and never while a node subscribes to the topic).
 *
 * @example Two processes, one room with history
 * ```ts
 * import assert from "node:assert/strict";
 * import { HistoryPubSub } from "@websock/websock/pubsub";
 * import { RedisStreamsBackend } from "@websock/websock/pubsub-redis-streams";
 *
 * const url = Deno.env.get("REDIS_URL"); // such as redis://127.0.0.1:6379
 * if (url !== undefined) {
 *   const pubsub = new HistoryPubSub<string>({
 *     backend: new RedisStreamsBackend({ url, maxAge: 600_000 }),
 *     onError: (error) => console.warn("pub/sub:", error),
 *   });
 *   const position = await pubsub.publish("lobby", "hello"); // stored: every process sees it
 *   assert.ok(position.offset >= 1); // the stream's count of "lobby" messages, this epoch
 *   await pubsub.close();
 * }
 * ```
 */
export class RedisStreamsBackend implements HistoryBackend {
  readonly #url: string;
  readonly #where: string;
  readonly #prefix: string;
  readonly #maxLength: number;
  readonly #maxAge: number;
  readonly #metaTtl: number;
  readonly #maxRetryDelay: number;
  readonly #streams = new Map<string, Stream>();
  readonly #byKey = new Map<string, Stream>();
  readonly #waiters = new Set<{ client: Client; resolve(): void; reject(e: Error): void }>();
  #writer: Client | undefined;
  #reader: Client | undefined;
  #deliver: (entry: HistoryMessage<unknown>) => void = () => {};
  #onError: (error: unknown) => void = () => {};
  #loop: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;
  /** The waits between retries: cut short when the backend closes. */
  readonly #pauses = new Pauses();
  #readerId = 0;
  #connections = 0;
  /** The XREAD in flight (a number per call), 0 when none. */
  #reading = 0;
  #calls = 0;
  #unblocking: Promise<void> = Promise.resolve();
  #down = false;
  #closing = false;
  readonly #node = newEpoch();
  #epochs = 0;

  /**
   * Make the backend; it connects when the `HistoryPubSub` starts it.
   *
   * @param options The server URL, the key prefix, the history limits and the backoff.
   */
  constructor(options: RedisStreamsBackendOptions = {}) {
    checkHubOptions(options, "RedisStreamsBackend", OPTION_NAMES);
    const {
      url = "redis://127.0.0.1:6379",
      prefix = "websock:",
      maxLength = 1000,
      maxAge = 300_000,
      maxRetryDelay = 2000,
    } = options;
    checkRedisOptions(url, prefix, maxRetryDelay);
    this.#url = url;
    this.#where = redactUrl(url);
    this.#prefix = prefix;
    this.#maxLength = checkInteger("maxLength", maxLength, 1);
    this.#maxAge = checkInteger("maxAge", maxAge, 0);
    this.#metaTtl = this.#maxAge > 0 ? Math.max(2 * this.#maxAge, 10 * BLOCK) : 0;
    this.#maxRetryDelay = maxRetryDelay;
  }

  /**
   * Connect both clients and start reading; resolves once they are ready (or have failed,
   * which is reported and retried).
   *
   * @param deliver Where the messages of subscribed topics go, in each topic's order.
   * @param onError Where connection losses and undecodable entries are reported.
   */
  async start(
    deliver: (entry: HistoryMessage<unknown>) => void,
    onError: (error: unknown) => void,
  ): Promise<void> {
    this.#deliver = deliver;
    this.#onError = onError;
    const report = (error: unknown) => {
      // One report per outage: ioredis repeats the error on every attempt.
      if (this.#down || this.#closing) return;
      this.#down = true;
      onError(
        new Error(
          `Redis streams connection to ${this.#where} failed: ${messageOf(error)}; reconnecting`,
          { cause: error },
        ),
      );
    };
    const make = (role: string) => {
      const client = new Redis(this.#url, {
        lazyConnect: true,
        connectionName: `websock-streams-${role}`,
        retryStrategy: (times) => Math.min(times * 100, this.#maxRetryDelay),
        // Fail fast, never resend: a publish that may not be stored says so at once, and
        // is never stored twice by a resend after a reconnect.
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        disconnectTimeout: DISCONNECT_TIMEOUT,
        maxLoadingRetryTime: LOADING_RETRY,
      }) as Client;
      client.defineCommand("websockPublish", { numberOfKeys: 2, lua: LUA_PUBLISH });
      client.defineCommand("websockRead", { numberOfKeys: 2, lua: LUA_READ });
      client.defineCommand("websockCheck", { lua: LUA_CHECK });
      followReadyCheck(client);
      client.on("error", report);
      client.on("ready", () => {
        this.#down = false;
        if (client === this.#reader) this.#connections++;
        for (const waiter of this.#waiters) {
          if (waiter.client !== client) continue;
          this.#waiters.delete(waiter);
          waiter.resolve();
        }
      });
      return client;
    };
    const writer = this.#writer = make("write");
    const reader = this.#reader = make("read");
    await Promise.all([writer.connect().catch(report), reader.connect().catch(report)]);
    if (!this.#closing) this.#loop = this.#read(reader);
  }

  /**
   * Resolve once the client is ready (with `next`, at its next connection: the current one
   * just failed); reject once the backend closes.
   */
  #ready(client: Client, next = false): Promise<void> {
    if (this.#closing) return Promise.reject(new Error("Cannot use Redis: the backend is closed"));
    if (client.status === "ready" && !next) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.add({ client, resolve, reject }));
  }

  /** Run a command now if the client is ready, else once it is; again if the link drops. */
  async #retry<T>(client: Client, command: () => Promise<T>): Promise<T> {
    let next = false;
    for (;;) {
      if (client.status !== "ready" || next) await this.#ready(client, next);
      try {
        return await command();
      } catch (error) {
        if (this.#closing || !lostLink(error)) throw error;
        next = true; // the connection dropped under it: wait for the next one
      }
    }
  }

  /** A name for a new epoch, used only if Redis has none: unique, and cheaper than a UUID. */
  #fresh(): string {
    return `${this.#node}${(this.#epochs++).toString(36)}`;
  }

  /** The read script (epoch, head, entries after `after`), waiting through an outage. */
  #readScript(
    writer: Client,
    stream: Stream,
    after: Position,
    limit: number,
  ): Promise<[string, number, RawEntry[]]> {
    return this.#retry(writer, () =>
      writer.websockRead(
        stream.key,
        stream.meta,
        this.#fresh(),
        this.#metaTtl,
        this.#maxAge,
        after.epoch,
        after.offset,
        limit,
      ));
  }

  #stream(topic: string): Stream {
    const tagged = `${this.#prefix}{${topic}}`;
    return { topic, key: `${tagged}:s`, meta: `${tagged}:m`, epoch: "", last: undefined };
  }

  #entry(topic: string, [id, fields]: RawEntry): HistoryMessage<unknown> | undefined {
    let epoch = "", data: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === "e") epoch = fields[i + 1];
      else if (fields[i] === "d") data = fields[i + 1];
    }
    try {
      const message = JSON.parse(data!);
      const offset = Number.parseInt(id, 10);
      return { type: "message", topic, position: { epoch, offset }, message };
    } catch (error) {
      this.#onError(
        new TypeError(`Cannot decode the Redis stream entry ${id} of ${topic}`, { cause: error }),
      );
      return undefined;
    }
  }

  /** Check every subscribed topic's epoch; start over (from 0) those that changed. */
  async #check(reader: Client): Promise<void> {
    const streams = [...this.#streams.values()].filter((s) => s.last !== undefined);
    if (streams.length === 0) return;
    const epochs = await reader.websockCheck(
      streams.length,
      ...streams.map((s) => s.meta),
      this.#metaTtl,
    );
    streams.forEach((stream, i) => {
      if (epochs[i] === stream.epoch || this.#streams.get(stream.topic) !== stream) return;
      // A new history (Redis lost its data, or the topic expired): read it from its start.
      stream.epoch = epochs[i];
      stream.last = 0;
    });
  }

  /** Deliver what an XREAD returned, in each topic's order, while the topic is subscribed. */
  #take(result: [string, RawEntry[]][]): void {
    for (const [key, entries] of result) {
      const stream = this.#byKey.get(key);
      if (!stream || stream.last === undefined) continue;
      for (const raw of entries) {
        if (this.#streams.get(stream.topic) !== stream) break;
        const entry = this.#entry(stream.topic, raw);
        stream.last = Number.parseInt(raw[0], 10);
        if (!entry) continue;
        stream.epoch = entry.position.epoch;
        this.#deliver(entry);
      }
    }
  }

  /** The reader: XREAD BLOCK over the subscribed topics, for as long as the backend is open. */
  async #read(reader: Client): Promise<void> {
    let seen = -1; // the connection whose reader id and epochs are known
    let lost = false; // the connection failed: wait for the next one
    let checked = 0; // when the epochs were last checked
    while (!this.#closing) {
      if (reader.status !== "ready" || lost) {
        await this.#ready(reader, lost).catch(() => {});
        lost = false;
        continue;
      }
      try {
        if (seen !== this.#connections) {
          seen = this.#connections;
          this.#readerId = Number(await reader.client("ID"));
          await this.#check(reader);
          checked = Date.now();
        }
        const streams = [...this.#streams.values()].filter((s) => s.last !== undefined);
        if (streams.length === 0) {
          if (this.#closing) return;
          await new Promise<void>((resolve) => this.#wake = resolve);
          this.#wake = undefined;
          continue;
        }
        const args: (string | number)[] = ["COUNT", COUNT, "BLOCK", BLOCK, "STREAMS"];
        for (const s of streams) args.push(s.key);
        for (const s of streams) args.push(`${s.last}-0`);
        this.#reading = ++this.#calls;
        const result = await reader.call("XREAD", args) as [string, RawEntry[]][] | null;
        this.#reading = 0;
        if (result === null) {
          // Timed out or unblocked (a new topic): check the epochs, then read again.
          await this.#check(reader);
          checked = Date.now();
          continue;
        }
        this.#take(result);
        // Busy topics keep XREAD from timing out: check the quiet ones' epochs all the same.
        if (Date.now() - checked >= BLOCK) {
          await this.#check(reader);
          checked = Date.now();
        }
      } catch (error) {
        this.#reading = 0;
        if (this.#closing) return;
        if (lostLink(error)) {
          lost = true; // the next turn waits for the next connection
          continue;
        }
        // Not an outage (a key of another type, say): report, and do not spin.
        this.#onError(
          new Error(`Cannot read the Redis streams: ${(error as Error)?.message}`, {
            cause: error,
          }),
        );
        await this.#pauses.sleep(this.#maxRetryDelay);
      }
    }
  }

  /** The reader must take a new topic into its XREAD: wake or unblock it. */
  #kick(): void {
    this.#wake?.();
    const reading = this.#reading, writer = this.#writer;
    if (reading === 0 || !writer) return;
    // CLIENT UNBLOCK may reach Redis before the XREAD does: try again while it is the same.
    this.#unblocking = this.#unblocking.then(async () => {
      for (let i = 0; i < 20 && this.#reading === reading && !this.#closing; i++) {
        const done = await writer.client("UNBLOCK", this.#readerId).catch(() => 1);
        if (done === 1) return;
        await this.#pauses.sleep(5);
      }
    });
  }

  /**
   * Read the topic's newest position (making its epoch if it has none) and start reading
   * it. Waits through an outage.
   *
   * @param topic The topic.
   * @returns The newest position: later messages are delivered.
   */
  async subscribe(topic: string): Promise<Position> {
    const writer = this.#writer;
    if (!writer) throw new TypeError(`Cannot subscribe to ${topic}: backend not started`);
    const stream = this.#stream(topic);
    this.#streams.set(topic, stream);
    this.#byKey.set(stream.key, stream);
    const [epoch, head] = await this.#readScript(writer, stream, { epoch: "", offset: 0 }, 0);
    if (this.#streams.get(topic) === stream) {
      stream.epoch = epoch;
      stream.last = head;
      this.#kick();
    }
    return { epoch, offset: head };
  }

  /**
   * Stop reading the topic.
   *
   * @param topic The topic.
   */
  unsubscribe(topic: string): void {
    const stream = this.#streams.get(topic);
    if (!stream) return;
    this.#streams.delete(topic);
    this.#byKey.delete(stream.key);
  }

  /**
   * Store a message (`XADD`, trimmed) with the topic's next position. Fails at once when
   * Redis is unreachable.
   *
   * @param topic The topic.
   * @param message The message (JSON-serializable).
   * @returns Its position.
   */
  async publish(topic: string, message: unknown): Promise<Position> {
    const writer = this.#writer;
    if (!writer || this.#closing) {
      throw new TypeError(`Cannot publish to ${topic}: the backend is not running`);
    }
    const data = JSON.stringify(message);
    if (data === undefined) {
      throw new TypeError(`Cannot publish to ${topic}: ${showValue(message)} is not JSON`);
    }
    if (writer.status !== "ready") {
      throw new Error(`Cannot publish to ${topic}: Redis at ${this.#where} is unreachable`);
    }
    const stream = this.#stream(topic);
    try {
      const [epoch, offset] = await writer.websockPublish(
        stream.key,
        stream.meta,
        this.#fresh(),
        this.#metaTtl,
        this.#maxAge,
        this.#maxLength,
        data,
      );
      return { epoch, offset };
    } catch (error) {
      const reason = !lostLink(error)
        ? (error as Error)?.message
        : notSent(error)
        ? `Redis at ${this.#where} is unreachable`
        : `the connection to Redis at ${this.#where} was lost (it may have been stored)`;
      throw new Error(`Cannot publish to ${topic}: ${reason}`, { cause: error });
    }
  }

  /**
   * Read the history after a position. Waits through an outage.
   *
   * @param topic The topic.
   * @param after The last position the reader has.
   * @param limit The most messages to return.
   * @returns A page of the history.
   */
  async read(topic: string, after: Position, limit: number): Promise<HistoryPage> {
    const writer = this.#writer;
    if (!writer) throw new TypeError(`Cannot read ${topic}: backend not started`);
    const [epoch, head, raw] = await this.#readScript(writer, this.#stream(topic), after, limit);
    const entries: HistoryMessage<unknown>[] = [];
    for (const item of raw) {
      const entry = this.#entry(topic, item);
      if (entry) entries.push(entry);
    }
    return { epoch, head, entries };
  }

  /** Stop reading and close both connections (the reader without waiting for its XREAD). */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const waiter of this.#waiters) waiter.reject(new Error("Redis backend closed"));
    this.#waiters.clear();
    this.#wake?.();
    this.#pauses.cut();
    const reader = this.#reader, writer = this.#writer;
    this.#reader = this.#writer = undefined;
    await Promise.all([
      reader && closeClient(reader, { quit: false }),
      writer && closeClient(writer),
    ]);
    await this.#loop;
    await this.#unblocking;
    this.#streams.clear();
    this.#byKey.clear();
  }
}
