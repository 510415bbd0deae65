// What Metrics reads of a presence tracker.

/** What a presence tracker counts (a `Tracker`'s `stats` of `@websock/websock/presence`). */
export interface PresenceCounts {
  /** Presences known now, every node's. */
  readonly entries: number;
  /** Presences this node tracks now. */
  readonly localEntries: number;
  /** Nodes known now, this one included. */
  readonly nodes: number;
  /** Diffs emitted (one per topic per change). */
  readonly diffs: number;
  /** Metas that joined, in those diffs. */
  readonly joins: number;
  /** Metas that left, in those diffs. */
  readonly leaves: number;
  /** Nodes declared down because they went silent. */
  readonly nodesDown: number;
}

/** What {@linkcode Metrics.watchPresence} reads: a presence `Tracker`, or a `Presence`. */
export interface PresenceSource {
  /** The counts, read at each snapshot. */
  readonly stats: PresenceCounts;
}
