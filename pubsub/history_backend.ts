// What a history-keeping pub/sub delivers, and the backend that stores and orders it.

/**
 * A message's place in its topic's history: an `offset` that counts the topic's messages
 * (1, 2, 3, ...) within an `epoch`, a random name that changes whenever the history is reset
 * (a restart of an in-process history, a Redis that lost its data). Positions of one epoch
 * compare by offset; positions of different epochs do not compare.
 *
 * Plain data: send it to the client as JSON and take it back when the client reconnects.
 */
export interface Position {
  /** The history's name; a new one means the old history is gone. */
  readonly epoch: string;
  /** The message's number in its topic within the epoch (from 1; `0` before the first). */
  readonly offset: number;
}

/**
 * A published message as a {@linkcode HistoryPubSub} delivers it: with its topic and its
 * position. One object is shared by every subscriber: do not change it.
 *
 * @typeParam M The messages published.
 */
export interface HistoryMessage<M> {
  /** Tells it from a {@linkcode HistoryGap}. */
  readonly type: "message";
  /** The topic it was published to. */
  readonly topic: string;
  /** Its position: keep the last one and resume from it. */
  readonly position: Position;
  /** The message. */
  readonly message: M;
}

/**
 * The history no longer reaches back to where a subscriber was (it was trimmed by length or
 * age, or it was reset: a new epoch): messages were missed, and the application should
 * reload its state. Delivery goes on after {@linkcode HistoryGap.position}.
 */
export interface HistoryGap {
  /** Tells it from a {@linkcode HistoryMessage}. */
  readonly type: "gap";
  /** The topic. */
  readonly topic: string;
  /** Where the subscriber was: the `since` it asked for, or the last position it received. */
  readonly after: Position;
  /** Where delivery goes on from: keep it as the last position, as for a message. */
  readonly position: Position;
  /** How many messages were missed, when it is known (same epoch); otherwise `undefined`. */
  readonly missed: number | undefined;
}

/**
 * What a subscriber of a {@linkcode HistoryPubSub} receives in its mailbox (`handleInfo`).
 *
 * @typeParam M The messages published.
 */
export type Delivery<M> = HistoryMessage<M> | HistoryGap;

/** One page of a topic's history, as {@linkcode HistoryBackend.read} returns it. */
export interface HistoryPage {
  /** The topic's current epoch. */
  readonly epoch: string;
  /** The offset of the topic's newest message (`0` when it has none in this epoch). */
  readonly head: number;
  /**
   * The messages still held after the position asked for, oldest first (all the messages
   * held, when that position is of another epoch).
   */
  readonly entries: readonly HistoryMessage<unknown>[];
}

/**
 * Stores each topic's history and carries new messages to the {@linkcode HistoryPubSub}s of
 * every node, in one order per topic. {@linkcode MemoryHistory} keeps it in-process; the
 * Redis Streams backend (`@websock/websock/pubsub-redis-streams`) shares it between processes.
 *
 * Methods may return their result directly or as a promise. Unlike the at-most-once
 * `Backend`, a history backend delivers a node's own messages back to it: a message reaches
 * the subscribers only once it has its position.
 *
 * @example An in-process history, driven by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryHistory } from "@websock/websock/pubsub";
 *
 * const history = new MemoryHistory({ maxLength: 100 });
 * history.start(() => {});
 * const first = history.publish("news", "hello");
 * assert.equal(first.offset, 1); // and a random epoch
 * const page = history.read("news", { epoch: first.epoch, offset: 0 }, 10);
 * assert.deepEqual(page.entries.map((entry) => entry.message), ["hello"]);
 * ```
 */
export interface HistoryBackend {
  /**
   * Called once, before anything else.
   *
   * @param deliver Hand it every new message of a topic this node subscribes to, in the
   *   topic's order, once it is stored (this node's own messages included).
   * @param onError Report a failure the backend recovers from (a lost connection).
   */
  start(
    deliver: (entry: HistoryMessage<unknown>) => void,
    onError: (error: unknown) => void,
  ): void | Promise<void>;
  /**
   * This node has its first subscriber to `topic`: deliver its new messages from now on.
   * Waits through an outage rather than failing.
   *
   * @returns The topic's newest position at that moment (creating its epoch when it has
   *   none): every later message is delivered.
   */
  subscribe(topic: string): Position | Promise<Position>;
  /** This node has no subscriber to `topic` any more. */
  unsubscribe(topic: string): void | Promise<void>;
  /**
   * Store a message and give it the next position of its topic.
   *
   * @returns Its position; fails (throws or rejects) when it could not be stored.
   */
  publish(topic: string, message: unknown): Position | Promise<Position>;
  /**
   * Read the history after a position. Waits through an outage rather than failing.
   *
   * @param after The last position the reader has (of any epoch).
   * @param limit The most messages to return.
   */
  read(topic: string, after: Position, limit: number): HistoryPage | Promise<HistoryPage>;
  /** Release the backend's resources. */
  close(): void | Promise<void>;
}

/**
 * Whether a value is a {@linkcode Position}: an object with a string `epoch` and an integer
 * `offset` of 0 or more. Check what a client sends before passing it as `since`.
 *
 * @param value Anything (such as a client's parsed JSON).
 * @returns Whether it is a position.
 *
 * @example Check a client's position
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPosition } from "@websock/websock/pubsub";
 *
 * assert.equal(isPosition({ epoch: "k3x9", offset: 12 }), true);
 * assert.equal(isPosition({ epoch: "k3x9", offset: -1 }), false);
 * assert.equal(isPosition(JSON.parse('{"epoch":"k3x9","offset":"12"}')), false); // a string
 * ```
 */
export function isPosition(value: unknown): value is Position {
  if (value === null || typeof value !== "object") return false;
  const { epoch, offset } = value as { epoch?: unknown; offset?: unknown };
  return typeof epoch === "string" && epoch.length <= 64 && Number.isSafeInteger(offset) &&
    (offset as number) >= 0;
}
