// Presence for channels: a Tracker on the app's pub/sub whose diffs reach the channels
// joined to the topic on this node as `presence_diff` broadcasts, and whose entries leave as
// soon as the channel that tracked them ends.

import { checkCallback } from "../engine/check_callback.ts";
import { showValue } from "../engine/show_value.ts";
import { HistoryPubSub } from "../pubsub/history.ts";
import { Tracker } from "./tracker.ts";
import type {
  NodeInfo,
  PresenceDiff,
  PresenceMeta,
  PresencePubSub,
  PresenceState,
  TrackerOptions,
  TrackerStats,
} from "./types.ts";

/** A broadcast as a channels app publishes it: an event on a topic. */
export interface PresenceBroadcast {
  /** The topic. */
  readonly topic: string;
  /** The event name. */
  readonly event: string;
  /** The payload. */
  readonly payload: unknown;
}

/**
 * What {@linkcode Presence} needs of a channels app (a `channels()` app fits, or
 * `{ pubsub }` with the `PubSub` given to `channels()`): the pub/sub its broadcasts go
 * through, which must honour `publish(topic, message, { local: true })` (a `PubSub` does).
 */
export interface PresenceApp {
  /** The pub/sub the app's broadcasts go through. */
  readonly pubsub: PresencePubSub;
}

/**
 * What a presence belongs to: a channel's `socket` (a `ChannelSocket` fits), or any object.
 * With `onClose`, its presences leave as soon as it closes.
 */
export interface PresenceOwner {
  /** Call the listener once when the owner ends (a channel's leave, close, crash). */
  onClose?(listener: () => void): () => void;
}

/** Options of {@linkcode Presence}: the {@linkcode Tracker}'s, but `pubsub` is the app's. */
export interface PresenceOptions extends Omit<TrackerOptions, "pubsub" | "onDiff"> {
  /**
   * Where the trackers of the nodes talk.
   * @default {The app's pub/sub}
   */
  pubsub?: PresencePubSub;
  /**
   * The event name of the diffs the channels receive (the phoenix client's default).
   * @default {"presence_diff"}
   */
  diffEvent?: string;
  /**
   * Told of every diff after the channels got it.
   * @default {None}
   */
  onDiff?: (topic: string, diff: PresenceDiff) => void;
}

/**
 * Presence for a channels app, as the phoenix client's `Presence` consumes it: track a key
 * (a user id) with a meta for a channel's `socket`, push `list(topic)` as `presence_state`
 * to a joining client; every channel joined to the topic, on every node, then gets each
 * change as a `presence_diff` broadcast (each node sends the diffs of its own replica to its
 * own channels). A channel that ends (leave, close, crash) untracks at once.
 *
 * @example A room with an online list
 * ```ts
 * import { type Broadcast, type ChannelSocket, channels, joined } from "@websock/websock/channels";
 * import { PubSub } from "@websock/websock/pubsub";
 * import { Presence } from "@websock/websock/presence";
 *
 * type User = { name: string };
 * const pubsub = new PubSub<Broadcast>(); // with a backend: every node's presences
 * const presence = new Presence({ pubsub });
 * export const app = channels<User>({
 *   "room:*": {
 *     join(topic: string, _payload: unknown, socket: ChannelSocket<never, User>) {
 *       presence.track(socket, topic, socket.assigns.name, { online_at: Date.now() });
 *       socket.push("presence_state", presence.list(topic)); // sent right after the ok reply
 *       return joined({});
 *     },
 *   },
 * }, { pubsub, connect: (params) => ({ name: params.name ?? "anon" }) });
 * // In the browser: new Presence(channel).onSync(() => render(presence.list()))
 * await presence.close(); // when the server stops
 * ```
 */
export class Presence {
  /** The tracker underneath (its `nodes()`, `size`, `stats`). */
  readonly tracker: Tracker;
  readonly #watched = new WeakSet<object>();

  /**
   * Make the presence of an app; it starts its tracker on the app's pub/sub.
   *
   * @param app The channels app (its `pubsub`).
   * @param options The tracker's options (node name, timings, limits), the diff event.
   */
  constructor(app: PresenceApp, options: PresenceOptions = {}) {
    const pubsub = app?.pubsub;
    if (typeof pubsub?.publish !== "function") {
      throw new TypeError(`Invalid app: ${showValue(app)} has no pubsub`);
    }
    if (pubsub instanceof HistoryPubSub) {
      // Its publish has no `local`: the diffs would be stored and sent to every node, which
      // computes its own, so every client would get each diff once per node.
      throw new TypeError(
        "Invalid app: its pubsub is a HistoryPubSub, which cannot publish to this node only; " +
          "give Presence { pubsub } of a plain PubSub that the channels also subscribe to",
      );
    }
    const { diffEvent = "presence_diff", onDiff, ...rest } = options ?? {};
    if (typeof diffEvent !== "string" || diffEvent === "") {
      throw new TypeError(`Invalid option diffEvent: ${showValue(diffEvent)} is not an event`);
    }
    checkCallback("onDiff", onDiff);
    this.tracker = new Tracker({
      ...rest,
      pubsub: options.pubsub ?? pubsub,
      onDiff(topic, diff) {
        pubsub.publish(topic, { topic, event: diffEvent, payload: diff }, { local: true });
        onDiff?.(topic, diff);
      },
    });
  }

  #watch(socket: PresenceOwner): void {
    if (typeof socket?.onClose !== "function" || this.#watched.has(socket)) return;
    this.#watched.add(socket);
    socket.onClose(() => {
      this.#watched.delete(socket);
      this.tracker.untrackAll(socket);
    });
  }

  /**
   * Track `key` in `topic` for a channel's socket, with a meta: every channel joined to the
   * topic, on every node, gets it as a join; it leaves when the socket's channel ends.
   *
   * @param socket The channel's socket (or any owner).
   * @param topic The topic (usually the channel's own).
   * @param key The key (a user id): one entry of the client's list, its metas one per socket.
   * @param meta What to tell about this presence (JSON).
   * @returns The presence's `phx_ref`.
   * @throws {TypeError} When this socket already tracks this key in this topic.
   * @throws {RangeError} When this node has `maxEntries`, or the meta is over `maxMetaBytes`.
   *
   * @example In a channel's join
   * ```ts
   * import { PubSub } from "@websock/websock/pubsub";
   * import { Presence, type PresenceBroadcast } from "@websock/websock/presence";
   *
   * const presence = new Presence({ pubsub: new PubSub<PresenceBroadcast>() });
   * const socket = { onClose: (_listener: () => void) => () => {} }; // a ChannelSocket
   * presence.track(socket, "room:lobby", "alice", { device: "phone" });
   * await presence.close();
   * ```
   */
  track(
    socket: PresenceOwner,
    topic: string,
    key: string,
    meta: Record<string, unknown> = {},
  ): string {
    const ref = this.tracker.track(socket, topic, key, meta);
    this.#watch(socket);
    return ref;
  }

  /**
   * Replace the meta of a socket's presence (a new `phx_ref`): a leave and a join in one
   * diff.
   *
   * @param socket The socket that tracks it.
   * @param topic The topic.
   * @param key The key.
   * @param meta The new meta, or a function from the current one to the new one.
   * @returns The new `phx_ref`.
   * @throws {TypeError} When the socket does not track this key in this topic.
   *
   * @example Typing
   * ```ts
   * import { PubSub } from "@websock/websock/pubsub";
   * import { Presence, type PresenceBroadcast } from "@websock/websock/presence";
   *
   * const presence = new Presence({ pubsub: new PubSub<PresenceBroadcast>() });
   * const socket = {};
   * presence.track(socket, "room:lobby", "alice", { typing: false });
   * presence.update(socket, "room:lobby", "alice", (meta) => ({ ...meta, typing: true }));
   * await presence.close();
   * ```
   */
  update(
    socket: PresenceOwner,
    topic: string,
    key: string,
    meta: Record<string, unknown> | ((meta: PresenceMeta) => Record<string, unknown>),
  ): string {
    return this.tracker.update(socket, topic, key, meta);
  }

  /**
   * Stop tracking a socket's presence of `key` in `topic`.
   *
   * @param socket The socket that tracks it.
   * @param topic The topic.
   * @param key The key.
   * @returns Whether it was tracked.
   *
   * @example Untrack
   * ```ts
   * import assert from "node:assert/strict";
   * import { PubSub } from "@websock/websock/pubsub";
   * import { Presence, type PresenceBroadcast } from "@websock/websock/presence";
   *
   * const presence = new Presence({ pubsub: new PubSub<PresenceBroadcast>() });
   * const socket = {};
   * presence.track(socket, "room:lobby", "alice");
   * assert.equal(presence.untrack(socket, "room:lobby", "alice"), true);
   * await presence.close();
   * ```
   */
  untrack(socket: PresenceOwner, topic: string, key: string): boolean {
    return this.tracker.untrack(socket, topic, key);
  }

  /**
   * A topic's presences, every node's: the payload of `presence_state`.
   *
   * @param topic The topic.
   * @returns `{key: {metas: [...]}}`.
   *
   * @example The state to push on join
   * ```ts
   * import assert from "node:assert/strict";
   * import { PubSub } from "@websock/websock/pubsub";
   * import { Presence, type PresenceBroadcast } from "@websock/websock/presence";
   *
   * const presence = new Presence({ pubsub: new PubSub<PresenceBroadcast>() });
   * assert.deepEqual(presence.list("room:lobby"), {});
   * await presence.close();
   * ```
   */
  list(topic: string): PresenceState {
    return this.tracker.list(topic);
  }

  /** What the tracker counted (for `Metrics.watchPresence`). */
  get stats(): TrackerStats {
    return this.tracker.stats;
  }

  /**
   * The nodes this node knows (itself first).
   *
   * @returns Their names, incarnations, entry counts.
   *
   * @example One node
   * ```ts
   * import assert from "node:assert/strict";
   * import { PubSub } from "@websock/websock/pubsub";
   * import { Presence, type PresenceBroadcast } from "@websock/websock/presence";
   *
   * const presence = new Presence({ pubsub: new PubSub<PresenceBroadcast>() });
   * assert.equal(presence.nodes().length, 1); // itself
   * await presence.close();
   * ```
   */
  nodes(): NodeInfo[] {
    return this.tracker.nodes();
  }

  /**
   * Stop the tracker (the other nodes drop this node's presences at once).
   *
   * @returns A promise that resolves once it is stopped.
   *
   * @example Close
   * ```ts
   * import { PubSub } from "@websock/websock/pubsub";
   * import { Presence, type PresenceBroadcast } from "@websock/websock/presence";
   *
   * await new Presence({ pubsub: new PubSub<PresenceBroadcast>() }).close();
   * ```
   */
  close(): Promise<void> {
    return this.tracker.close();
  }
}
