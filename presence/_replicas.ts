// What one node knows of the others: a replica of each one's entries, kept up to date from
// its messages (deltas in order, its state when a delta is missing), and dropped when it is
// down or says bye.

import type { Diffs, Entry, Store } from "./_store.ts";
import type { Wire, WireJoins } from "./_wire.ts";
import type { NodeInfo, PresenceMeta } from "./types.ts";

type Delta = Extract<Wire, { t: "d" }>;

interface Replica {
  readonly epoch: number;
  seq: number; // the deltas applied; -1: the state is unknown (asked for)
  readonly entries: Map<string, Entry>;
  heard: number;
  asked: number;
  readonly early: Map<number, Delta>; // deltas past a gap, by number
}

/** What the replicas need of their tracker. */
export interface ReplicaHooks {
  readonly self: string;
  readonly maxEntries: number;
  readonly maxNodes: number;
  readonly heartbeatInterval: number;
  readonly downAfter: number;
  now(): number;
  /** Ask node `name` for its state. */
  ask(name: string): void;
  onError(error: unknown): void;
}

// The most deltas held past a gap, per node, while waiting for the state.
const MAX_EARLY = 32;

/** The other nodes' entries, as this node knows them. */
export class Replicas {
  readonly #store: Store;
  readonly #hooks: ReplicaHooks;
  readonly #replicas = new Map<string, Replica>();
  // Nodes gone (down or said bye), so that their late messages are told from a return.
  readonly #graves = new Map<string, { epoch: number; at: number; bye: boolean }>();
  /** How many nodes were declared down for their silence. */
  downs = 0;

  constructor(store: Store, hooks: ReplicaHooks) {
    this.#store = store;
    this.#hooks = hooks;
  }

  /** Take a message of another node; the changes go to `diffs`. */
  receive(message: Wire, diffs: Diffs): void {
    const replica = this.#replicaOf(message, diffs);
    if (replica === undefined) return;
    switch (message.t) {
      case "h":
        if (replica.seq < 0 && message.s === 0) {
          replica.seq = 0;
          this.#catchUp(message.n, replica, diffs);
        } else if (message.s > replica.seq) this.#ask(message.n, replica);
        break;
      case "d":
        if (message.s <= replica.seq) break; // a duplicate
        if (replica.seq >= 0 && message.s === replica.seq + 1) {
          this.#apply(replica, message, diffs);
          this.#catchUp(message.n, replica, diffs);
        } else {
          if (replica.early.size < MAX_EARLY) replica.early.set(message.s, message);
          this.#ask(message.n, replica);
        }
        break;
      case "s":
        if (message.s < replica.seq) break; // older than what is known
        this.#replace(message.n, replica, message.j, diffs);
        replica.seq = message.s;
        this.#catchUp(message.n, replica, diffs);
        break;
      case "b":
        this.#down(message.n, replica, true, diffs);
        break;
      case "q":
        break; // the tracker answers; here it is only news of the node
    }
  }

  /** Every heartbeat: declare the silent nodes down, ask again for states not received. */
  tick(stalled: boolean, diffs: Diffs): void {
    const now = this.#hooks.now();
    for (const [name, replica] of this.#replicas) {
      if (now - replica.heard > this.#hooks.downAfter) {
        if (!stalled) this.#down(name, replica, false, diffs);
      } else if (replica.seq < 0 || replica.early.size > 0) this.#ask(name, replica);
    }
    const forget = Math.max(60_000, 10 * this.#hooks.downAfter);
    for (const [name, grave] of this.#graves) {
      if (now - grave.at > forget || this.#graves.size > this.#hooks.maxNodes) {
        this.#graves.delete(name);
      }
    }
  }

  get size(): number {
    return this.#replicas.size;
  }

  nodes(): NodeInfo[] {
    return [...this.#replicas].map(([name, replica]) => ({
      name,
      epoch: replica.epoch,
      entries: replica.entries.size,
      synced: replica.seq >= 0 && replica.early.size === 0,
      self: false,
    }));
  }

  #ask(name: string, replica: Replica): void {
    const now = this.#hooks.now();
    if (now - replica.asked < this.#hooks.heartbeatInterval) return;
    replica.asked = now;
    this.#hooks.ask(name);
  }

  // The replica a message is about, made when the node is new; undefined for a stale message.
  #replicaOf(message: Wire, diffs: Diffs): Replica | undefined {
    const { n: name, e: epoch } = message;
    const now = this.#hooks.now();
    const known = this.#replicas.get(name);
    if (known !== undefined) {
      if (epoch < known.epoch) return undefined;
      if (epoch === known.epoch) {
        known.heard = now;
        return known;
      }
      this.#down(name, known, false, diffs); // a new incarnation: the old one's entries leave
    }
    const grave = this.#graves.get(name);
    // An older incarnation is a late message, unless the newer one has been gone for
    // downAfter: then it is a restart whose clock went back (epochs come from Date.now()).
    const older = grave !== undefined && epoch < grave.epoch &&
      now - grave.at <= this.#hooks.downAfter;
    if (older || (grave?.epoch === epoch && grave.bye)) return undefined;
    if (message.t === "b") {
      this.#graves.set(name, { epoch, at: now, bye: true });
      return undefined;
    }
    if (this.#replicas.size >= this.#hooks.maxNodes) {
      this.#hooks.onError(
        new RangeError(
          `Presence ${this.#hooks.self}: ignored node ${name}: over maxNodes (${this.#hooks.maxNodes})`,
        ),
      );
      return undefined;
    }
    // A new incarnation starts empty; one that was declared down is asked for its state.
    const returning = grave !== undefined && epoch === grave.epoch;
    this.#graves.delete(name);
    const replica: Replica = {
      epoch,
      seq: returning ? -1 : 0,
      entries: new Map(),
      heard: now,
      asked: -Infinity,
      early: new Map(),
    };
    this.#replicas.set(name, replica);
    if (returning && message.t !== "s") this.#ask(name, replica);
    return replica;
  }

  #down(name: string, replica: Replica, bye: boolean, diffs: Diffs): void {
    if (!bye) this.downs++;
    for (const entry of replica.entries.values()) this.#store.remove(entry, diffs);
    this.#replicas.delete(name);
    this.#graves.set(name, { epoch: replica.epoch, at: this.#hooks.now(), bye });
  }

  #join(replica: Replica, topic: string, key: string, meta: PresenceMeta, diffs: Diffs): boolean {
    if (replica.entries.has(meta.phx_ref)) return true;
    if (replica.entries.size >= this.#hooks.maxEntries) return false;
    const entry: Entry = { topic, key, meta: Object.freeze(meta) };
    replica.entries.set(meta.phx_ref, entry);
    this.#store.add(entry, diffs);
    return true;
  }

  #joinAll(name: string, replica: Replica, joins: WireJoins, diffs: Diffs): void {
    let full = false;
    for (const [topic, entries] of joins) {
      for (const [key, meta] of entries) {
        if (!this.#join(replica, topic, key, meta, diffs)) full = true;
      }
    }
    if (!full) return;
    this.#hooks.onError(
      new RangeError(
        `Presence ${this.#hooks.self}: node ${name} has over maxEntries (${this.#hooks.maxEntries}) entries; ignored the rest`,
      ),
    );
  }

  #apply(replica: Replica, delta: Delta, diffs: Diffs): void {
    for (const ref of delta.l) {
      const entry = replica.entries.get(ref);
      if (entry === undefined) continue;
      replica.entries.delete(ref);
      this.#store.remove(entry, diffs);
    }
    this.#joinAll(delta.n, replica, delta.j, diffs);
    replica.seq = delta.s;
  }

  // Apply the deltas held past a gap that now follow on; drop those already covered.
  #catchUp(name: string, replica: Replica, diffs: Diffs): void {
    for (const s of replica.early.keys()) if (s <= replica.seq) replica.early.delete(s);
    for (let next = replica.early.get(replica.seq + 1); next !== undefined;) {
      replica.early.delete(next.s);
      this.#apply(replica, next, diffs);
      next = replica.early.get(replica.seq + 1);
    }
    if (replica.early.size > 0) this.#ask(name, replica);
  }

  // A node's whole state replaces what was known of it: only the differences are diffs.
  #replace(name: string, replica: Replica, joins: WireJoins, diffs: Diffs): void {
    const refs = new Set<string>();
    for (const [, entries] of joins) for (const [, meta] of entries) refs.add(meta.phx_ref);
    for (const [ref, entry] of replica.entries) {
      if (refs.has(ref)) continue;
      replica.entries.delete(ref);
      this.#store.remove(entry, diffs);
    }
    this.#joinAll(name, replica, joins, diffs);
  }
}
