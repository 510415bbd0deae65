/**
 * A NATS JetStream {@linkcode HistoryBackend} for `HistoryPubSub` (in
 * `@websock/websock/pubsub`): every topic is one JetStream stream, shared by the processes on
 * one NATS (server or cluster), so each topic has one order on every node and a history that
 * a reconnecting client resumes from (clients: `npm:@nats-io/transport-node` and
 * `npm:@nats-io/jetstream`, the only dependencies of this entry; `nats-server -js` 2.9 or
 * later).
 *
 * It keeps the contract of `@websock/websock/pubsub-redis-streams`, so the two are
 * interchangeable:
 *
 * - **Positions**: a message's offset is its stream sequence (1, 2, 3, ... per topic); the
 *   epoch is the stream's creation time, so a stream that was lost and made again (a server
 *   that lost its store, a stream deleted by hand) starts a new epoch.
 * - **Stored first**: a publish is stored (a JetStream publish, acknowledged) before anyone
 *   receives it; a publish that cannot be stored (NATS down) rejects and `onError` is told.
 * - **Delivery**: the stream republishes every stored message with its sequence to a core
 *   subject that each node subscribes to, for the topics it has subscribers for. A node that
 *   missed some (it was disconnected, the server restarted) reads them from the stream, so its
 *   subscribers get each message once, in order.
 * - **Trimming**: by length (`max_msgs`, exact) and age (`max_age`, by the server's clock). A
 *   subscriber resuming from before the oldest message kept gets one gap notice, then the
 *   rest.
 *
 * Names: topic `room:1` is stream `<prefix>_room_3A1`, stored on subject
 * `<prefix>.h.room_3A1` and republished on `<prefix>.hl.room_3A1` (letters, digits and `-` as
 * they are, any other byte as `_` and two hex digits). A topic's stream is made by the first
 * publish or subscribe that needs it and stays (empty once `maxAge` has passed) until it is
 * deleted: `nats stream rm`.
 *
 * Where it differs from Redis Streams: trimming by length is exact (Redis keeps up to ~100
 * more); an idle topic keeps its stream and epoch (Redis lets the keys expire, so a resume
 * after a long idle gets a gap notice there and an exact count here); the first node to make
 * a topic's stream sets its limits (a node with other limits uses it as it is); a catch-up
 * reads one message per request (nats-server 2.9 has no batched read): 10,000 in about
 * 0.8 s here, against 0.1 s from Redis (bench/RESULTS.md).
 *
 * @example A history shared by several processes
 * ```ts
 * import { type Delivery, HistoryPubSub, isPosition } from "@websock/websock/pubsub";
 * import { JetStreamBackend } from "@websock/websock/pubsub-nats-jetstream";
 *
 * const url = Deno.env.get("NATS_URL"); // such as nats://127.0.0.1:4222, a nats-server -js
 * if (url !== undefined) {
 *   const pubsub = new HistoryPubSub<string>({
 *     backend: new JetStreamBackend({ url, maxLength: 1000, maxAge: 600_000 }),
 *     onError: (error) => console.warn("pub/sub:", error),
 *   });
 *   const position = await pubsub.publish("lobby", "hello"); // stored: every process sees it
 *   // A client that comes back with the last position it had gets what it missed:
 *   const since: unknown = JSON.parse(JSON.stringify(position));
 *   const inbox = { send: (d: Delivery<string>) => (console.log(d), true) };
 *   await pubsub.subscribe("lobby", inbox, isPosition(since) ? { since } : {});
 *   await pubsub.close();
 * }
 * ```
 *
 * @module
 */

import type { NatsConnection, Subscription } from "npm:@nats-io/transport-node@^3.4.0";
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type PubAck,
  type StreamInfo,
} from "npm:@nats-io/jetstream@^3.4.0";
import type { HistoryBackend, HistoryMessage, HistoryPage, Position } from "./history_backend.ts";
import { NatsLink, type NatsTarget } from "./_nats.ts";
import { messageOf, Pauses } from "./_outage.ts";
import { showValue } from "../engine/show_value.ts";
import {
  checkJetStreamOptions,
  decodeEntry,
  ensureStream,
  epochOf,
  type Feed,
  type JetStreamBackendOptions,
  noStream,
  type Published,
  readRange,
  type StreamLimits,
  streamNames,
} from "./_jetstream.ts";

export type { HistoryBackend, HistoryMessage, HistoryPage, Position } from "./history_backend.ts";
export type { JetStreamBackendOptions } from "./_jetstream.ts";

// Quiet topics are checked (epoch and head) in case a message went missing: at most CHECKS
// of them every CHECK ms, those quiet for CHECK ms, in turn.
const CHECK = 5000;
const CHECKS = 20;
// Messages read from a stream per request batch.
const PAGE = 500;
// Live messages held per topic while it catches up; past that, it reads them from the stream.
const HOLD = 10_000;
// Topics whose epoch a publishing node remembers.
const PUBLISHING = 10_000;
// How long a JetStream request may take, in ms.
const TIMEOUT = 5000;

/**
 * A {@linkcode HistoryBackend} over NATS JetStream: one stream per topic, one connection per
 * node for publishing, reading and the live feed of the topics it subscribes to.
 *
 * @example Two processes, one room with history
 * ```ts
 * import { HistoryPubSub } from "@websock/websock/pubsub";
 * import { JetStreamBackend } from "@websock/websock/pubsub-nats-jetstream";
 *
 * const url = Deno.env.get("NATS_URL"); // such as nats://127.0.0.1:4222
 * if (url !== undefined) {
 *   const pubsub = new HistoryPubSub<string>({
 *     backend: new JetStreamBackend({ url, maxAge: 600_000 }),
 *     onError: (error) => console.warn("pub/sub:", error),
 *   });
 *   const position = await pubsub.publish("lobby", "hello"); // stored: every process sees it
 *   console.log(position.offset);
 *   await pubsub.close();
 * }
 * ```
 */
export class JetStreamBackend implements HistoryBackend {
  readonly #target: NatsTarget;
  readonly #prefix: string;
  readonly #limits: StreamLimits;
  readonly #maxRetryDelay: number;
  readonly #feeds = new Map<string, Feed>();
  /** The topics this node publishes to: their epoch and the last sequence seen. */
  readonly #publishing = new Map<string, Published>();
  readonly #tasks = new Set<Promise<void>>();
  /** The publishes waiting for their acknowledgement: rejected when the connection goes. */
  readonly #inflight = new Set<(error: Error) => void>();
  #link: NatsLink | undefined;
  #jsm: JetStreamManager | undefined;
  #js: JetStreamClient | undefined;
  #deliver: (entry: HistoryMessage<unknown>) => void = () => {};
  #onError: (error: unknown) => void = () => {};
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The waits between retries: cut short when the backend closes. */
  readonly #pauses = new Pauses();
  #unavailable = false;
  #closing = false;

  /**
   * Make the backend; it connects when the `HistoryPubSub` starts it.
   *
   * @param options The server URL, the name prefix, the history limits, storage and backoff.
   */
  constructor(options: JetStreamBackendOptions = {}) {
    const checked = checkJetStreamOptions(options);
    this.#target = checked.target;
    this.#prefix = checked.prefix;
    this.#limits = checked.limits;
    this.#maxRetryDelay = checked.maxRetryDelay;
  }

  /**
   * Connect; resolves once connected (or once the first attempt failed, which is reported
   * and retried).
   *
   * @param deliver Where the messages of subscribed topics go, in each topic's order.
   * @param onError Where connection losses and undecodable messages are reported.
   */
  async start(
    deliver: (entry: HistoryMessage<unknown>) => void,
    onError: (error: unknown) => void,
  ): Promise<void> {
    this.#deliver = deliver;
    this.#onError = onError;
    this.#link = new NatsLink(this.#target, {
      name: "websock-jetstream",
      noEcho: false,
      maxRetryDelay: this.#maxRetryDelay,
    }, {
      down: (cause) => {
        for (const reject of this.#inflight) reject(new Error("connection lost", { cause }));
        this.#inflight.clear();
        if (this.#closing) return;
        onError(
          new Error(
            `NATS JetStream connection to ${this.#target.where} failed: ${
              messageOf(cause)
            }; reconnecting`,
            { cause },
          ),
        );
      },
      up: () => {},
      connected: (nc, fresh) => {
        if (fresh) {
          this.#js = jetstream(nc, { timeout: TIMEOUT });
          this.#jsm = undefined;
          for (const feed of this.#feeds.values()) feed.sub = this.#listen(nc, feed);
        }
        // Back (or new): catch every topic up from where it was, checking its epoch.
        for (const feed of this.#feeds.values()) {
          if (feed.last !== undefined) this.#track(this.#sync(feed));
        }
      },
      error: (cause) => {
        if (this.#closing) return;
        onError(
          new Error(`NATS JetStream backend ${this.#target.where}: ${messageOf(cause)}`, { cause }),
        );
      },
    });
    await this.#link.start();
    this.#schedule();
  }

  #track(task: Promise<void>): void {
    const done = task.catch((error) => {
      if (!this.#closing) this.#onError(error);
    }).finally(() => this.#tasks.delete(done));
    this.#tasks.add(done);
  }

  #schedule(): void {
    if (this.#closing) return;
    this.#timer = setTimeout(() => {
      // A few quiet topics per turn, round robin (checked ones go to the end of the map).
      const now = Date.now(), due: Feed[] = [];
      for (const feed of this.#feeds.values()) {
        if (due.length === CHECKS) break;
        if (feed.last !== undefined && now - feed.heard >= CHECK) due.push(feed);
      }
      for (const feed of due) {
        this.#feeds.delete(feed.topic);
        this.#feeds.set(feed.topic, feed);
        feed.heard = now;
        this.#track(this.#sync(feed));
      }
      this.#schedule();
    }, CHECK);
  }

  /** The manager of the current connection (no request made to get it). */
  async #manager(nc: NatsConnection): Promise<JetStreamManager> {
    if (!this.#jsm) this.#jsm = await jetstreamManager(nc, { checkAPI: false, timeout: TIMEOUT });
    return this.#jsm;
  }

  /**
   * Run a JetStream call once connected; again after a reconnection when the connection
   * dropped under it, or after a pause while JetStream does not answer (a server starting).
   * Waits through an outage; rejects once closing.
   */
  async #retry<T>(call: (nc: NatsConnection) => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      const link = this.#link!;
      const nc = await link.ready();
      try {
        const result = await call(nc);
        this.#unavailable = false;
        return result;
      } catch (error) {
        if (this.#closing) throw error;
        if (
          link.connection === nc && !noStream(error) && (error as Error)?.name !== "TimeoutError"
        ) {
          throw error;
        }
        if (link.connection === nc && !this.#unavailable) {
          this.#unavailable = true;
          this.#onError(
            new Error(
              `NATS JetStream at ${this.#target.where} does not answer (${
                messageOf(error)
              }); retrying`,
              { cause: error },
            ),
          );
        }
        await this.#pauses.sleep(Math.min(attempt * 100, Math.max(100, this.#maxRetryDelay)));
      }
    }
  }

  /** The topic's stream, made when it has none. */
  async #ensure(nc: NatsConnection, topic: string): Promise<StreamInfo> {
    return ensureStream(await this.#manager(nc), streamNames(this.#prefix, topic), this.#limits);
  }

  #entry(topic: string, epoch: string, seq: number, data: Uint8Array) {
    const entry = decodeEntry(topic, epoch, seq, data);
    if (!(entry instanceof Error)) return entry;
    this.#onError(entry);
    return undefined;
  }

  #listen(nc: NatsConnection, feed: Feed): Subscription {
    return nc.subscribe(streamNames(this.#prefix, feed.topic).live, {
      callback: (error, msg) => {
        if (error) {
          this.#onError(
            new Error(`NATS JetStream subscription to ${feed.topic} failed: ${error.message}`, {
              cause: error,
            }),
          );
          return;
        }
        if (this.#feeds.get(feed.topic) !== feed) return;
        const seq = Number(msg.headers?.get("Nats-Sequence"));
        if (!Number.isSafeInteger(seq)) return;
        feed.heard = Date.now();
        if (feed.last === undefined || feed.syncing) {
          if (feed.held.length < HOLD) feed.held.push([seq, msg.data]);
          else feed.again = true;
          return;
        }
        if (seq === feed.last + 1) {
          this.#emit(feed, seq, msg.data);
          return;
        }
        if (seq <= feed.last) return void this.#track(this.#sync(feed)); // a new epoch?
        feed.held.push([seq, msg.data]); // some went missing: read them from the stream
        this.#track(this.#sync(feed));
      },
    });
  }

  #emit(feed: Feed, seq: number, data: Uint8Array): void {
    feed.last = seq;
    const entry = this.#entry(feed.topic, feed.epoch, seq, data);
    if (entry) this.#deliver(entry);
  }

  /** Deliver the held live messages that follow on; false if one does not (read again). */
  #release(feed: Feed): boolean {
    const held = feed.held;
    feed.held = [];
    held.sort((a, b) => a[0] - b[0]);
    for (let i = 0; i < held.length; i++) {
      const [seq, data] = held[i];
      if (seq <= feed.last!) continue;
      if (seq !== feed.last! + 1) {
        feed.held = held.slice(i);
        return false;
      }
      this.#emit(feed, seq, data);
    }
    return true;
  }

  /**
   * Bring a feed up to the stream's head: check the epoch (a new one: from its start), read
   * what it missed, then deliver what waited live.
   */
  async #sync(feed: Feed): Promise<void> {
    if (feed.syncing) {
      feed.again = true;
      return;
    }
    feed.syncing = true;
    const current = () => !this.#closing && this.#feeds.get(feed.topic) === feed;
    let failed = false;
    try {
      for (let round = 0; round < 100 && current(); round++) {
        feed.again = false;
        const info = await this.#retry((nc) => this.#ensure(nc, feed.topic));
        if (!current()) return;
        const epoch = epochOf(info);
        if (epoch !== feed.epoch) {
          // A new history: read it from its start (the hub sends one gap notice). What is
          // held came live meanwhile: of the new stream.
          feed.epoch = epoch;
          feed.last = 0;
        }
        const head = info.state.last_seq;
        while (feed.last! < head && current()) {
          const from = Math.max(feed.last! + 1, info.state.first_seq);
          const to = Math.min(head, from + PAGE - 1);
          const page = await this.#retry(async (nc) =>
            readRange(await this.#manager(nc), feed.stream, from, to)
          );
          if (!current()) return;
          for (const [seq, data] of page) if (seq > feed.last!) this.#emit(feed, seq, data);
          feed.last = Math.max(feed.last!, to);
        }
        if (this.#release(feed) && !feed.again) return;
      }
    } catch (error) {
      if (!current()) return;
      this.#onError(
        new Error(`Cannot catch ${feed.topic} up from NATS JetStream: ${messageOf(error)}`, {
          cause: error,
        }),
      );
      failed = true;
    } finally {
      feed.syncing = false;
    }
    if (!failed) return;
    await this.#pauses.sleep(Math.max(100, this.#maxRetryDelay)); // then again, until it works
    if (current()) await this.#sync(feed);
  }

  /**
   * Subscribe to the topic's live feed, then read its newest position (making its stream if
   * it has none). Waits through an outage.
   *
   * @param topic The topic.
   * @returns The newest position: later messages are delivered.
   */
  async subscribe(topic: string): Promise<Position> {
    const link = this.#link;
    if (!link) throw new TypeError(`Cannot subscribe to ${topic}: backend not started`);
    const feed: Feed = {
      topic,
      stream: streamNames(this.#prefix, topic).stream,
      sub: undefined,
      epoch: "",
      last: undefined,
      held: [],
      syncing: false,
      again: false,
      heard: Date.now(),
    };
    this.#feeds.set(topic, feed);
    const client = link.client;
    if (client) feed.sub = this.#listen(client, feed);
    const info = await this.#retry(async (nc) => {
      await nc.flush(); // the live feed is on before the head is read
      return this.#ensure(nc, topic);
    });
    const position = { epoch: epochOf(info), offset: info.state.last_seq };
    if (this.#feeds.get(topic) === feed) {
      feed.epoch = position.epoch;
      feed.last = position.offset;
      if (!this.#release(feed)) this.#track(this.#sync(feed));
    }
    return position;
  }

  /**
   * Stop the topic's live feed.
   *
   * @param topic The topic.
   */
  unsubscribe(topic: string): void {
    const feed = this.#feeds.get(topic);
    if (!feed) return;
    this.#feeds.delete(topic);
    try {
      feed.sub?.unsubscribe();
    } catch {
      // The connection is closing: nothing to stop.
    }
  }

  /**
   * Store a message (a JetStream publish, acknowledged) with the topic's next position,
   * making the topic's stream if it has none. Fails at once when NATS is unreachable.
   *
   * @param topic The topic.
   * @param message The message (JSON-serializable).
   * @returns Its position.
   */
  async publish(topic: string, message: unknown): Promise<Position> {
    const link = this.#link;
    if (!link || this.#closing) {
      throw new TypeError(`Cannot publish to ${topic}: the backend is not running`);
    }
    const data = JSON.stringify(message);
    if (data === undefined) {
      throw new TypeError(`Cannot publish to ${topic}: ${showValue(message)} is not JSON`);
    }
    const nc = link.connection, js = this.#js;
    if (!nc || !js) {
      throw new Error(`Cannot publish to ${topic}: NATS at ${this.#target.where} is unreachable`);
    }
    const { subject } = streamNames(this.#prefix, topic);
    // A request in flight when the connection goes is not answered: fail then, not later.
    const store = () =>
      new Promise<PubAck>((resolve, reject) => {
        this.#inflight.add(reject);
        js.publish(subject, data).then((ack) => {
          this.#inflight.delete(reject);
          resolve(ack);
        }, (error) => {
          this.#inflight.delete(reject);
          reject(error);
        });
      });
    try {
      // Every publish waits for its topic's stream to be known, so they are sent in the
      // order they were made (the first ones of a topic too).
      let known = this.#known(nc, topic);
      await known.ready;
      let ack;
      try {
        ack = await store();
      } catch (error) {
        // The stream is gone (the server lost its store): make it again, then retry once.
        if (!noStream(error) || link.connection !== nc) throw error;
        if (this.#publishing.get(topic) === known) this.#publishing.delete(topic);
        known = this.#known(nc, topic);
        await known.ready;
        ack = await store();
      }
      if (ack.seq <= known.seq) {
        // The sequence went back: a new stream, so a new epoch.
        const info = await this.#ensure(nc, topic);
        known.epoch = epochOf(info);
      }
      known.seq = Math.max(known.seq, ack.seq);
      return { epoch: known.epoch, offset: ack.seq };
    } catch (error) {
      const reason = link.connection === nc
        ? messageOf(error)
        : `the connection to NATS at ${this.#target.where} was lost (it may have been stored)`;
      throw new Error(`Cannot publish to ${topic}: ${reason}`, { cause: error });
    }
  }

  /** What this node knows of a topic it publishes to; made (stream looked up) once. */
  #known(nc: NatsConnection, topic: string): Published {
    const had = this.#publishing.get(topic);
    if (had) return had;
    const known: Published = { ready: Promise.resolve(), epoch: "", seq: 0 };
    known.ready = this.#ensure(nc, topic).then((info) => {
      known.epoch = epochOf(info);
      known.seq = info.state.last_seq;
    }, (error) => {
      if (this.#publishing.get(topic) === known) this.#publishing.delete(topic);
      throw error;
    });
    known.ready.catch(() => {}); // each publish that waits for it gets the error
    if (this.#publishing.size >= PUBLISHING) {
      this.#publishing.delete(this.#publishing.keys().next().value!);
    }
    this.#publishing.set(topic, known);
    return known;
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
    if (!this.#link) throw new TypeError(`Cannot read ${topic}: backend not started`);
    const { stream } = streamNames(this.#prefix, topic);
    return await this.#retry(async (nc) => {
      const info = await this.#ensure(nc, topic);
      const epoch = epochOf(info), head = info.state.last_seq;
      if (limit <= 0) return { epoch, head, entries: [] };
      const from = Math.max(after.epoch === epoch ? after.offset + 1 : 1, info.state.first_seq);
      const raw = await readRange(
        await this.#manager(nc),
        stream,
        from,
        Math.min(head, from + limit - 1),
      );
      const entries: HistoryMessage<unknown>[] = [];
      for (const [seq, data] of raw) {
        const entry = this.#entry(topic, epoch, seq, data);
        if (entry) entries.push(entry);
      }
      return { epoch, head, entries };
    });
  }

  /** Stop the live feeds and the checks, and close the connection. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearTimeout(this.#timer);
    this.#pauses.cut();
    await this.#link?.close();
    await Promise.all(this.#tasks);
    this.#feeds.clear();
  }
}
