// Tracker: who is present in which topic, replicated between nodes over pub/sub, without a
// coordinator: every node sends its own entries (deltas, heartbeats, its state on request)
// and keeps a replica of every other node's.

import {
  checkOwner,
  checkWhere,
  frozenMeta,
  randomId,
  type Resolved,
  resolveOptions,
} from "./_options.ts";
import { isThenable } from "../engine/is_thenable.ts";
import { Owners } from "./_owners.ts";
import { Replicas } from "./_replicas.ts";
import { Diffs, type Entry, Store } from "./_store.ts";
import { joinsOf, parseWire, type Wire } from "./_wire.ts";
import type {
  NodeInfo,
  PresenceMeta,
  PresenceState,
  TrackerOptions,
  TrackerStats,
} from "./types.ts";

// One of this node's own presences (its owner is known from Owners).
type Local = Entry;

// The most joins plus leaves in one delta message; more go in several.
const MAX_BATCH = 5000;

/**
 * Presence: who is in which topic, on every node. `track` a key (a user id) with a meta for
 * an owner (a socket), in a topic; several owners may track one key (a user's tabs), each
 * with a meta of its own and its own `phx_ref`. `list(topic)` is the state as the phoenix
 * client's `presence_state` wants it, and `onDiff` hears every change as `presence_diff`.
 *
 * Across nodes (with `pubsub`): every node sends its own changes to the others as deltas
 * (gathered for `batchDelay`), a small heartbeat when it has nothing to say, and its whole
 * state to a node that asks (a new node, a node that missed a delta). A node not heard of for
 * `downAfter` is down: its entries leave everywhere. A node that comes back is asked for its
 * state, which replaces what was known of it: no duplicate joins. There is no coordinator.
 *
 * @example One node: track, update, list
 * ```ts
 * import assert from "node:assert/strict";
 * import { Tracker } from "@websock/websock/presence";
 *
 * const tracker = new Tracker({ onDiff: (topic, diff) => console.log(topic, diff) });
 * const tab1 = {}, tab2 = {}; // owners: sockets, connections
 * tracker.track(tab1, "room:lobby", "alice", { device: "phone" });
 * tracker.track(tab2, "room:lobby", "alice", { device: "laptop" });
 * tracker.update(tab1, "room:lobby", "alice", { device: "phone", typing: true });
 * assert.equal(tracker.list("room:lobby").alice.metas.length, 2); // one key, two metas
 * tracker.untrackAll(tab1); // when the socket closes
 * await tracker.close();
 * ```
 *
 * @example Several nodes over one PubSub backend
 * ```ts
 * import { BroadcastChannelBackend, PubSub } from "@websock/websock/pubsub";
 * import { Tracker } from "@websock/websock/presence";
 *
 * const pubsub = new PubSub({ backend: new BroadcastChannelBackend({ name: "app" }) });
 * const tracker = new Tracker({ pubsub, downAfter: 3000 });
 * // ... the workers of `deno serve --parallel` now share their presences
 * await tracker.close();
 * await pubsub.close();
 * ```
 */
export class Tracker {
  /** This node's name. */
  readonly name: string;
  /** This node's incarnation. */
  readonly epoch: number;
  readonly #o: Resolved;
  readonly #store = new Store();
  readonly #replicas: Replicas;
  readonly #local = new Map<string, Local>();
  readonly #owners = new Owners((ref) => this.#local.get(ref));
  readonly #inbox = { send: (message: unknown) => this.#receive(message) };
  readonly #refPrefix = randomId(6);
  #refs = 0;
  readonly #metaLimit: number; // maxMetaBytes; Infinity when nothing crosses a backend
  #seq = 0;
  #joins = new Map<string, Local>();
  #leaves: string[] = [];
  #flushTimer: unknown;
  #beatTimer: unknown;
  #stateTimer: unknown;
  #stateAt = -Infinity;
  #tickAt: number;
  #sent = false;
  #ownDiffs: Diffs | undefined;
  #messages = 0;
  #diffs = 0;
  #joined = 0;
  #left = 0;
  #closed = false;
  #namesakes = 0;

  /**
   * Make a tracker; with `pubsub`, it subscribes, asks the other nodes for their state and
   * starts its heartbeat.
   *
   * @param options The pub/sub hub, the node's name, the timings and limits, the diff hook.
   */
  constructor(options: TrackerOptions = {}) {
    const o = this.#o = resolveOptions(options);
    this.name = o.name;
    this.epoch = o.epoch;
    this.#metaLimit = o.pubsub === undefined ? Infinity : o.maxMetaBytes;
    this.#tickAt = o.clock.now();
    this.#replicas = new Replicas(this.#store, {
      self: o.name,
      maxEntries: o.maxEntries,
      maxNodes: o.maxNodes,
      heartbeatInterval: o.heartbeatInterval,
      downAfter: o.downAfter,
      now: () => o.clock.now(),
      ask: (to) => this.#send({ t: "q", n: o.name, e: o.epoch, to }),
      onError: o.onError,
    });
    const pubsub = o.pubsub;
    if (pubsub === undefined) return;
    let subscribed: unknown;
    try {
      subscribed = pubsub.subscribe(o.topic, this.#inbox);
    } catch (error) {
      o.onError(error);
    }
    // Once remote messages arrive: ask every node for its state (they learn of this node).
    Promise.resolve(subscribed).then(() => {
      if (!this.#closed) this.#send({ t: "q", n: o.name, e: o.epoch, to: null });
    }, o.onError);
    this.#beatTimer = o.clock.setTimeout(() => this.#tick(), o.heartbeatInterval);
  }

  // --- this node's entries ---------------------------------------------------------------

  #ref(): string {
    return `${this.#refPrefix}${(++this.#refs).toString(36)}`;
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new TypeError(`Cannot ${what}: the tracker is closed`);
  }

  /**
   * Track `key` in `topic` for `owner` (a socket: what `untrackAll` is later called with),
   * with a meta. Every node sees it join.
   *
   * @param owner What the presence belongs to (a socket, a connection): one presence per
   *   owner, topic and key.
   * @param topic The topic.
   * @param key The key (a user id): the presences of one key are listed together.
   * @param meta What to tell about this presence (JSON: it crosses the backend).
   * @returns The presence's `phx_ref`.
   * @throws {TypeError} When the owner already tracks this key in this topic (use `update`).
   * @throws {RangeError} When this node has `maxEntries`, or the meta is over `maxMetaBytes`.
   *
   * @example Track a user in a room
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tracker } from "@websock/websock/presence";
   *
   * const tracker = new Tracker();
   * const socket = {};
   * const ref = tracker.track(socket, "room:lobby", "alice", { online_at: Date.now() });
   * assert.equal(tracker.get("room:lobby", "alice")[0].phx_ref, ref);
   * ```
   */
  track(owner: object, topic: string, key: string, meta: Record<string, unknown> = {}): string {
    checkOwner("track", owner);
    checkWhere("track", topic, key);
    this.#checkOpen(`track ${key} in ${topic}`);
    if (this.#owners.get(owner, topic, key) !== undefined) {
      throw new TypeError(
        `Cannot track ${key} in ${topic}: this owner already tracks it (use update)`,
      );
    }
    if (this.#local.size >= this.#o.maxEntries) {
      throw new RangeError(
        `Cannot track ${key} in ${topic}: this node has maxEntries (${this.#o.maxEntries}) entries`,
      );
    }
    const ref = this.#ref();
    const entry: Local = {
      topic,
      key,
      meta: frozenMeta(`track ${key} in ${topic}`, meta, ref, undefined, this.#metaLimit),
    };
    this.#owners.set(owner, topic, key, ref);
    const diffs = this.#own();
    this.#add(entry, diffs);
    this.#emitOwn(diffs);
    return ref;
  }

  /**
   * Replace the meta of a tracked presence: it gets a new `phx_ref` (and `phx_ref_prev`, the
   * old one); every node sees the old meta leave and the new one join, in one diff.
   *
   * @param owner The owner that tracks it.
   * @param topic The topic.
   * @param key The key.
   * @param meta The new meta, or a function from the current meta to the new one.
   * @returns The new `phx_ref`.
   * @throws {TypeError} When the owner does not track this key in this topic.
   *
   * @example Mark a user as typing
   * ```ts
   * import { Tracker } from "@websock/websock/presence";
   *
   * const tracker = new Tracker();
   * const socket = {};
   * tracker.track(socket, "room:lobby", "alice", { typing: false });
   * tracker.update(socket, "room:lobby", "alice", (meta) => ({ ...meta, typing: true }));
   * ```
   */
  update(
    owner: object,
    topic: string,
    key: string,
    meta: Record<string, unknown> | ((meta: PresenceMeta) => Record<string, unknown>),
  ): string {
    checkOwner("update", owner);
    checkWhere("update", topic, key);
    this.#checkOpen(`update ${key} in ${topic}`);
    const old = this.#local.get(this.#owners.get(owner, topic, key) ?? "");
    if (old === undefined) {
      throw new TypeError(`Cannot update ${key} in ${topic}: this owner does not track it`);
    }
    const next = typeof meta === "function" ? meta(old.meta) : meta;
    const ref = this.#ref();
    const entry: Local = {
      topic,
      key,
      meta: frozenMeta(`update ${key} in ${topic}`, next, ref, old.meta.phx_ref, this.#metaLimit),
    };
    this.#owners.set(owner, topic, key, ref);
    const diffs = this.#own();
    this.#remove(old, diffs);
    this.#add(entry, diffs);
    this.#emitOwn(diffs);
    return ref;
  }

  /**
   * Stop tracking `key` in `topic` for `owner`: every node sees it leave.
   *
   * @param owner The owner that tracks it.
   * @param topic The topic.
   * @param key The key.
   * @returns Whether it was tracked.
   *
   * @example Leave a room
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tracker } from "@websock/websock/presence";
   *
   * const tracker = new Tracker();
   * const socket = {};
   * tracker.track(socket, "room:lobby", "alice");
   * assert.equal(tracker.untrack(socket, "room:lobby", "alice"), true);
   * ```
   */
  untrack(owner: object, topic: string, key: string): boolean {
    checkOwner("untrack", owner);
    checkWhere("untrack", topic, key);
    const entry = this.#local.get(this.#owners.get(owner, topic, key) ?? "");
    if (entry === undefined || this.#closed) return false;
    this.#owners.delete(owner, topic, key);
    const diffs = this.#own();
    this.#remove(entry, diffs);
    this.#emitOwn(diffs);
    return true;
  }

  /**
   * Stop tracking everything `owner` tracks, in every topic (when its socket closes).
   *
   * @param owner The owner.
   * @returns How many presences it had.
   *
   * @example When a socket closes
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tracker } from "@websock/websock/presence";
   *
   * const tracker = new Tracker();
   * const socket = {};
   * tracker.track(socket, "room:a", "alice");
   * tracker.track(socket, "room:b", "alice");
   * assert.equal(tracker.untrackAll(socket), 2);
   * ```
   */
  untrackAll(owner: object): number {
    if (this.#closed) return 0;
    const refs = this.#owners.take(owner);
    if (refs.length === 0) return 0;
    const diffs = this.#own();
    for (const ref of refs) this.#remove(this.#local.get(ref)!, diffs);
    this.#emitOwn(diffs);
    return refs.length;
  }

  #add(entry: Local, diffs: Diffs): void {
    this.#local.set(entry.meta.phx_ref, entry);
    this.#store.add(entry, diffs);
    if (this.#o.pubsub === undefined) return;
    this.#joins.set(entry.meta.phx_ref, entry);
    this.#schedule();
  }

  #remove(entry: Local, diffs: Diffs): void {
    const ref = entry.meta.phx_ref;
    this.#local.delete(ref);
    this.#store.remove(entry, diffs);
    if (this.#o.pubsub === undefined) return;
    // A join not sent yet is simply not sent.
    if (!this.#joins.delete(ref)) this.#leaves.push(ref);
    this.#schedule();
  }

  #emit(diffs: Diffs): void {
    this.#joined += diffs.joins;
    this.#left += diffs.leaves;
    this.#diffs += diffs.emit(this.#o.onDiff, this.#o.onError);
  }

  // The diffs of this node's own changes: with other nodes, gathered and emitted with the
  // delta that sends them (one diff per topic per batch, not one per change: a reconnect
  // storm of N users is not N diffs to N channels); alone, at once.
  #own(): Diffs {
    return this.#o.pubsub === undefined ? new Diffs() : (this.#ownDiffs ??= new Diffs());
  }

  #emitOwn(diffs: Diffs): void {
    if (this.#o.pubsub === undefined) this.#emit(diffs);
  }

  // --- reading ---------------------------------------------------------------------------

  /**
   * The presences of a topic, every node's, by key: the payload of `presence_state`.
   *
   * @param topic The topic.
   * @returns `{key: {metas: [...]}}` (a new object; the metas are frozen).
   *
   * @example Who is in the room
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tracker } from "@websock/websock/presence";
   *
   * const tracker = new Tracker();
   * tracker.track({}, "room:lobby", "alice");
   * assert.deepEqual(Object.keys(tracker.list("room:lobby")), ["alice"]);
   * ```
   */
  list(topic: string): PresenceState {
    return this.#store.list(topic);
  }

  /**
   * The metas of one key in a topic, every node's.
   *
   * @param topic The topic.
   * @param key The key.
   * @returns The metas (empty when the key is not present).
   *
   * @example How many tabs alice has open
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tracker } from "@websock/websock/presence";
   *
   * const tracker = new Tracker();
   * tracker.track({}, "room:lobby", "alice");
   * assert.equal(tracker.get("room:lobby", "alice").length, 1);
   * ```
   */
  get(topic: string, key: string): PresenceMeta[] {
    return this.#store.get(topic, key);
  }

  /** How many presences this node knows of, every node's. */
  get size(): number {
    return this.#store.size;
  }

  /** How many presences this node tracks itself. */
  get localSize(): number {
    return this.#local.size;
  }

  /**
   * The nodes this node knows: itself first, then the others it has heard of and not
   * declared down.
   *
   * @returns Name, incarnation, entry count, and whether their state is known.
   *
   * @example Count the nodes
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tracker } from "@websock/websock/presence";
   *
   * const [self] = new Tracker({ name: "a" }).nodes();
   * assert.equal(self.name, "a");
   * assert.equal(self.self, true);
   * ```
   */
  nodes(): NodeInfo[] {
    return [
      { name: this.name, epoch: this.epoch, entries: this.#local.size, synced: true, self: true },
      ...this.#replicas.nodes(),
    ];
  }

  /**
   * What this tracker counted: entries and nodes now, diffs, joins, leaves, nodes down and
   * messages sent so far (what `Metrics.watchPresence` reports).
   *
   * @example Entries and diffs
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tracker } from "@websock/websock/presence";
   *
   * const tracker = new Tracker();
   * tracker.track({}, "room:lobby", "alice");
   * assert.equal(tracker.stats.entries, 1);
   * assert.equal(tracker.stats.diffs, 1);
   * ```
   */
  get stats(): TrackerStats {
    return {
      entries: this.#store.size,
      localEntries: this.#local.size,
      nodes: 1 + this.#replicas.size,
      diffs: this.#diffs,
      joins: this.#joined,
      leaves: this.#left,
      nodesDown: this.#replicas.downs,
      messagesSent: this.#messages,
    };
  }

  // --- sending ---------------------------------------------------------------------------

  #send(message: Wire): void {
    this.#sent = true;
    this.#messages++;
    try {
      const result = this.#o.pubsub!.publish(this.#o.topic, message);
      if (isThenable(result)) result.then(undefined, this.#o.onError);
    } catch (error) {
      this.#o.onError(error);
    }
  }

  #schedule(): void {
    if (this.#flushTimer !== undefined || this.#closed) return;
    this.#flushTimer = this.#o.clock.setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flush();
    }, this.#o.batchDelay);
  }

  // Send the changes gathered since the last delta, as one delta (several past MAX_BATCH).
  #flush(): void {
    if (this.#flushTimer !== undefined) {
      this.#o.clock.clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    const own = this.#ownDiffs;
    this.#ownDiffs = undefined;
    if (this.#joins.size > 0 || this.#leaves.length > 0) this.#sendDeltas();
    if (own !== undefined) this.#emit(own);
  }

  #sendDeltas(): void {
    const joins = [...this.#joins.values()];
    const leaves = this.#leaves;
    this.#joins = new Map();
    this.#leaves = [];
    for (let j = 0, l = 0; j < joins.length || l < leaves.length;) {
      const leaveCount = Math.min(leaves.length - l, MAX_BATCH);
      const joinCount = Math.min(joins.length - j, MAX_BATCH - leaveCount);
      this.#send({
        t: "d",
        n: this.name,
        e: this.epoch,
        s: ++this.#seq,
        j: joinsOf(joins.slice(j, j + joinCount)),
        l: leaves.slice(l, l + leaveCount),
      });
      j += joinCount;
      l += leaveCount;
    }
  }

  // Someone asked for this node's state: send it soon, at most once per heartbeat interval
  // (one state serves every node that asked meanwhile: it reaches them all).
  #wantState(): void {
    if (this.#stateTimer !== undefined || this.#closed) return;
    const now = this.#o.clock.now();
    const at = Math.max(now + this.#o.batchDelay, this.#stateAt + this.#o.heartbeatInterval);
    this.#stateTimer = this.#o.clock.setTimeout(() => {
      this.#stateTimer = undefined;
      this.#flush();
      this.#stateAt = this.#o.clock.now();
      this.#send({
        t: "s",
        n: this.name,
        e: this.epoch,
        s: this.#seq,
        j: joinsOf(this.#local.values()),
      });
    }, at - now);
  }

  #tick(): void {
    const o = this.#o;
    this.#beatTimer = o.clock.setTimeout(() => this.#tick(), o.heartbeatInterval);
    this.#flush();
    if (!this.#sent) this.#send({ t: "h", n: this.name, e: this.epoch, s: this.#seq });
    this.#sent = false;
    // After a stall of this node (a long task, a paused process), the messages that arrived
    // meanwhile are heard before anyone is declared down.
    const now = o.clock.now();
    const stalled = now - this.#tickAt > 2 * o.heartbeatInterval;
    this.#tickAt = now;
    const diffs = new Diffs();
    this.#replicas.tick(stalled, diffs);
    this.#emit(diffs);
  }

  // --- receiving -------------------------------------------------------------------------

  #receive(raw: unknown): boolean {
    if (this.#closed) return false;
    const message = parseWire(raw);
    if (message === undefined) {
      this.#o.onError(new TypeError(`Presence ${this.name}: ignored a malformed message`));
      return true;
    }
    if (message.n === this.name) {
      if (message.e !== this.epoch && this.#namesakes++ % 100 === 0) {
        this.#o.onError(
          new Error(
            `Presence ${this.name}: another node uses this node's name (give each its own)`,
          ),
        );
      }
      return true;
    }
    if (message.t === "q" && (message.to === null || message.to === this.name)) {
      this.#wantState();
    }
    const diffs = new Diffs();
    this.#replicas.receive(message, diffs);
    this.#emit(diffs);
    return true;
  }

  /**
   * Stop: tell the other nodes (they drop this node's entries at once), stop the timers and
   * unsubscribe. Tracking afterwards throws. No diff is emitted for this node's own entries.
   *
   * @returns A promise that resolves once the tracker is stopped.
   *
   * @example Close
   * ```ts
   * import { Tracker } from "@websock/websock/presence";
   *
   * const tracker = new Tracker();
   * await tracker.close();
   * ```
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#o.pubsub !== undefined) {
      this.#joins.clear();
      this.#leaves = [];
      this.#ownDiffs = undefined;
      this.#send({ t: "b", n: this.name, e: this.epoch });
    }
    this.#closed = true;
    for (const timer of [this.#flushTimer, this.#beatTimer, this.#stateTimer]) {
      if (timer !== undefined) this.#o.clock.clearTimeout(timer);
    }
    this.#flushTimer = this.#beatTimer = this.#stateTimer = undefined;
    try {
      this.#o.pubsub?.unsubscribe(this.#o.topic, this.#inbox);
    } catch (error) {
      this.#o.onError(error);
    }
    return Promise.resolve();
  }
}
