// The shapes presence hands out: metas, a topic's state and its diffs, as the phoenix client's
// `Presence` consumes them; the options of a tracker.

import type { Clock } from "../engine/options.ts";
import type { PresenceCounts } from "../telemetry/presence_counts.ts";

/**
 * One presence of a key (one tab, one device): the meta given to `track`, plus its
 * `phx_ref` (unique) and, after an `update`, the `phx_ref_prev` it replaced. Frozen.
 */
export type PresenceMeta = Readonly<Record<string, unknown>> & {
  /** This presence's ref, unique among every node's presences. */
  readonly phx_ref: string;
  /** After an `update`: the ref of the presence it replaced. */
  readonly phx_ref_prev?: string;
};

/**
 * A topic's presences by key, the payload of `presence_state`:
 * `{alice: {metas: [{phx_ref: "…", device: "phone"}, …]}, …}`.
 */
export type PresenceState = Record<string, { metas: PresenceMeta[] }>;

/**
 * What changed in a topic, the payload of `presence_diff`: the presences that joined and
 * those that left, each in the shape of {@linkcode PresenceState}. An `update` is a leave of
 * the old meta and a join of the new one in the same diff.
 */
export interface PresenceDiff {
  /** The presences that joined, by key. */
  joins: PresenceState;
  /** The presences that left, by key. */
  leaves: PresenceState;
}

/**
 * What a {@linkcode Tracker} needs of a pub/sub hub: a `PubSub` from
 * `@websock/websock/pubsub` (with any backend) fits. The tracker subscribes to one topic of
 * it and publishes there.
 */
export interface PresencePubSub {
  /** Subscribe to a topic (a promise, if any, resolves once remote messages arrive). */
  subscribe(topic: string, subscriber: { send(message: unknown): boolean }): unknown;
  /** Unsubscribe from a topic. */
  unsubscribe(topic: string, subscriber: { send(message: unknown): boolean }): unknown;
  /**
   * Publish to a topic: this node's subscribers and the other nodes' (with `local`, this
   * node's only).
   */
  publish(topic: string, message: unknown, options?: { local?: boolean }): unknown;
}

/** What a {@linkcode Tracker} knows of a node, from {@linkcode Tracker.nodes}. */
export interface NodeInfo {
  /** The node's name. */
  readonly name: string;
  /** Its incarnation. */
  readonly epoch: number;
  /** How many entries it has (as far as this node knows). */
  readonly entries: number;
  /** Whether this node has its state (`false` while waiting for it). */
  readonly synced: boolean;
  /** Whether it is this node. */
  readonly self: boolean;
}

/** Options of {@linkcode Tracker}. */
export interface TrackerOptions {
  /**
   * The pub/sub hub that joins the nodes (a `PubSub` with a Redis or `BroadcastChannel`
   * backend, or one `PubSub` shared by several trackers of one process). Without it the
   * tracker is one node on its own: no timers, no traffic.
   * @default {undefined}
   */
  pubsub?: PresencePubSub;
  /**
   * This node's name, unique among the nodes. Give a restarted process the same name (a
   * host and port, a worker number) and the other nodes replace its previous entries as soon
   * as they hear the new incarnation, instead of after `downAfter`.
   * @default {A random name}
   */
  name?: string;
  /**
   * The pub/sub topic the trackers talk on; trackers on different topics ignore each other.
   * @default {"websock.presence"}
   */
  topic?: string;
  /**
   * How often, in ms, a node says it is alive (a small message with its delta count) when it
   * sent nothing else meanwhile.
   * @default {1000}
   */
  heartbeatInterval?: number;
  /**
   * A node not heard of for this long, in ms, is down: its entries leave on every other node.
   * At least twice `heartbeatInterval`. The check runs every `heartbeatInterval`, so a node
   * that stops leaves everywhere within `downAfter + heartbeatInterval` (plus transport).
   * @default {5000}
   */
  downAfter?: number;
  /**
   * How long, in ms, this node gathers its changes before sending them as one delta. `0`
   * sends each change in a delta of its own (in the next macrotask).
   * @default {20}
   */
  batchDelay?: number;
  /**
   * The most entries one node may have: `track` beyond it throws a `RangeError`; a replica
   * beyond it keeps its first ones (and `onError` hears of it).
   * @default {100000}
   */
  maxEntries?: number;
  /** The largest meta, in bytes of JSON, `track` and `update` take. @default {4096} */
  maxMetaBytes?: number;
  /** The most other nodes this node keeps a replica of. @default {1000} */
  maxNodes?: number;
  /**
   * Called with the joins and leaves of every change, per topic, on this node: the other
   * nodes' changes as they arrive (one diff per topic per delta; a node that went down: its
   * leaves), and this node's own, gathered for `batchDelay` and emitted with the delta that
   * sends them (so that N joins at once are one diff, not N; at once without `pubsub`). The
   * diff has the shape of the phoenix client's `presence_diff`.
   * @default {None}
   */
  onDiff?: (topic: string, diff: PresenceDiff) => void;
  /**
   * Told of a malformed message, a replica over `maxEntries`, another node using this
   * node's name, a throwing `onDiff` or a failing publish. The tracker keeps going.
   * @default {console.error}
   */
  onError?: (error: unknown) => void;
  /** Time and timers (a `FakeClock` in tests). @default {The system clock} */
  clock?: Clock;
  /**
   * This incarnation's number: each start of a node must have a larger one than the last.
   * @default {Date.now() * 1000 plus a random 0-999}
   */
  epoch?: number;
}

/**
 * What a {@linkcode Tracker} counted, from {@linkcode Tracker.stats}: what `Metrics` reports
 * (`watchPresence`), and the messages this node sent to the other nodes.
 */
export interface TrackerStats extends PresenceCounts {
  /** Messages this node sent to the other nodes (deltas, heartbeats, states, asks). */
  readonly messagesSent: number;
}
