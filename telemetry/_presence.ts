// The presence part of Metrics: the counts of the trackers watched, summed, and their
// Prometheus families.

import type { Exposition, Sample } from "./_prometheus.ts";
import type { PresenceCounts, PresenceSource } from "./presence_counts.ts";

const KEYS = [
  "entries",
  "localEntries",
  "nodes",
  "diffs",
  "joins",
  "leaves",
  "nodesDown",
] as const;

/** The counts of every source, summed; undefined without a source. */
export function sumPresence(sources: ReadonlySet<PresenceSource>): PresenceCounts | undefined {
  if (sources.size === 0) return undefined;
  const sum = Object.fromEntries(KEYS.map((k) => [k, 0])) as Record<keyof PresenceCounts, number>;
  for (const source of sources) {
    const stats = source.stats;
    for (const key of KEYS) sum[key] += stats[key];
  }
  return sum;
}

/** Write the presence gauges; add the presence counters to `counters`. */
export function presenceFamilies(
  out: Exposition,
  prefix: string,
  presence: PresenceCounts,
  counters: [name: string, help: string, samples: Sample[]][],
): void {
  out.family(
    `${prefix}_presence_entries`,
    "gauge",
    "Presences known: every node's, this node's own.",
    [
      [[["scope", "all"]], presence.entries],
      [[["scope", "local"]], presence.localEntries],
    ],
  );
  out.family(`${prefix}_presence_nodes`, "gauge", "Presence nodes known, this one included.", [
    [[], presence.nodes],
  ]);
  const one = (value: number): Sample[] => [[[], value]];
  counters.push(
    [
      "presence_diffs_total",
      "Presence diffs emitted (one per topic per change).",
      one(presence.diffs),
    ],
    ["presence_joins_total", "Presence metas that joined.", one(presence.joins)],
    ["presence_leaves_total", "Presence metas that left.", one(presence.leaves)],
    [
      "presence_nodes_down_total",
      "Presence nodes declared down for their silence.",
      one(presence.nodesDown),
    ],
  );
}
