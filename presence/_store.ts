// The presence index every node keeps: topic → key → metas, and the diffs its changes make.

import type { PresenceDiff, PresenceMeta, PresenceState } from "./types.ts";

/** One tracked presence, as every node stores it (its ref is `meta.phx_ref`). */
export interface Entry {
  readonly topic: string;
  readonly key: string;
  readonly meta: PresenceMeta;
}

type Metas = { metas: PresenceMeta[] };

const isEmpty = (record: Record<string, unknown>) => {
  for (const _ in record) return false;
  return true;
};

/**
 * The joins and leaves of one change (or of the changes of one batch), per topic, in the
 * phoenix client's shape. A meta that joins and leaves within it is in neither.
 */
export class Diffs {
  /** How many metas joined and left, all topics together. */
  joins = 0;
  leaves = 0;
  readonly #topics = new Map<
    string,
    { joins: Record<string, Metas>; leaves: Record<string, Metas> }
  >();

  #of(topic: string) {
    let diff = this.#topics.get(topic);
    if (diff === undefined) this.#topics.set(topic, diff = { joins: {}, leaves: {} });
    return diff;
  }

  join(entry: Entry): void {
    this.joins++;
    const joins = this.#of(entry.topic).joins;
    (Object.hasOwn(joins, entry.key) ? joins[entry.key] : joins[entry.key] = { metas: [] })
      .metas.push(entry.meta);
  }

  leave(entry: Entry): void {
    const diff = this.#of(entry.topic);
    const joined = Object.hasOwn(diff.joins, entry.key) ? diff.joins[entry.key].metas : undefined;
    const at = joined?.indexOf(entry.meta) ?? -1;
    if (at >= 0) {
      // It joined within this diff: it was never told, so it is not told to leave.
      this.joins--;
      joined!.splice(at, 1);
      if (joined!.length === 0) delete diff.joins[entry.key];
      return;
    }
    this.leaves++;
    const leaves = diff.leaves;
    (Object.hasOwn(leaves, entry.key) ? leaves[entry.key] : leaves[entry.key] = { metas: [] })
      .metas.push(entry.meta);
  }

  /**
   * Hand each topic's diff (those not empty) to `emit`; a throw is reported and the others
   * still go.
   *
   * @returns How many diffs were emitted.
   */
  emit(
    emit: (topic: string, diff: PresenceDiff) => void,
    onError: (error: unknown) => void,
  ): number {
    let emitted = 0;
    for (const [topic, diff] of this.#topics) {
      if (isEmpty(diff.joins) && isEmpty(diff.leaves)) continue;
      emitted++;
      try {
        emit(topic, diff);
      } catch (error) {
        onError(error);
      }
    }
    this.#topics.clear();
    return emitted;
  }
}

/**
 * Every node's entries (this node's and the replicas'), by topic and key. A key has one meta
 * (most keys: one user, one tab) or an array of them.
 */
export class Store {
  readonly #topics = new Map<string, Map<string, PresenceMeta | PresenceMeta[]>>();
  #size = 0;

  /** How many entries, all nodes together. */
  get size(): number {
    return this.#size;
  }

  /** How many topics have at least one entry. */
  get topics(): number {
    return this.#topics.size;
  }

  add(entry: Entry, diffs: Diffs): void {
    let keys = this.#topics.get(entry.topic);
    if (keys === undefined) this.#topics.set(entry.topic, keys = new Map());
    const metas = keys.get(entry.key);
    if (metas === undefined) keys.set(entry.key, entry.meta);
    else if (Array.isArray(metas)) metas.push(entry.meta);
    else keys.set(entry.key, [metas, entry.meta]);
    this.#size++;
    diffs.join(entry);
  }

  remove(entry: Entry, diffs: Diffs): void {
    const keys = this.#topics.get(entry.topic);
    const metas = keys?.get(entry.key);
    if (metas === entry.meta) keys!.delete(entry.key);
    else if (Array.isArray(metas) && metas.includes(entry.meta)) {
      metas.splice(metas.indexOf(entry.meta), 1);
      if (metas.length === 1) keys!.set(entry.key, metas[0]);
    } else return;
    if (keys!.size === 0) this.#topics.delete(entry.topic);
    this.#size--;
    diffs.leave(entry);
  }

  list(topic: string): PresenceState {
    const state: Record<string, Metas> = {};
    const keys = this.#topics.get(topic);
    if (keys) {
      for (const [key, metas] of keys) {
        state[key] = { metas: Array.isArray(metas) ? [...metas] : [metas] };
      }
    }
    return state;
  }

  get(topic: string, key: string): PresenceMeta[] {
    const metas = this.#topics.get(topic)?.get(key);
    return metas === undefined ? [] : Array.isArray(metas) ? [...metas] : [metas];
  }
}
