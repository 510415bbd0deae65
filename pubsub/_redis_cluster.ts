// What RedisBackend needs from a Redis Cluster (ioredis `Cluster` with sharded subscribers):
// the client, a check of its startup URLs, and the probe that says an outage is over.

import { Cluster } from "npm:ioredis@^5.4.1";
import { DISCONNECT_TIMEOUT } from "./_redis_client.ts";
import { showUrl } from "./_outage.ts";

/** The startup nodes, checked: a non-empty list of redis:// URLs, one user and password. */
export function checkClusterOption(cluster: unknown): void {
  if (
    !Array.isArray(cluster) || cluster.length === 0 ||
    !cluster.every((url) => typeof url === "string" && /^rediss?:\/\/[^/]/.test(url))
  ) {
    throw new TypeError(
      `Invalid option cluster: ${showUrl(cluster)} is not a non-empty list of redis:// URLs`,
    );
  }
}

/**
 * A cluster client over the startup nodes: one connection per master for commands
 * (`SPUBLISH`, routed by the channel's slot) and one per master for `SSUBSCRIBE` (ioredis'
 * sharded subscribers, which move a slot's channels to its new master after a failover).
 */
export function openCluster(urls: readonly string[], maxRetryDelay: number): Cluster {
  const first = new URL(urls[0]);
  const nodes = urls.map((url) => {
    const { hostname, port } = new URL(url);
    return { host: hostname.replace(/^\[|\]$/g, ""), port: Number(port || 6379) };
  });
  const cluster = new Cluster(nodes, {
    lazyConnect: true,
    shardedSubscribers: true,
    clusterRetryStrategy: (times: number) => Math.min(times * 100, maxRetryDelay),
    // Follow a failover soon: the slot map is refreshed on MOVED and on errors, and every 2 s.
    slotsRefreshInterval: 2000,
    redisOptions: {
      connectionName: "websock",
      username: first.username ? decodeURIComponent(first.username) : undefined,
      password: first.password ? decodeURIComponent(first.password) : undefined,
      tls: first.protocol === "rediss:" ? {} : undefined,
      disconnectTimeout: DISCONNECT_TIMEOUT,
    },
  });
  // ioredis answers a sharded subscriber that failed to connect with a timer (a slot-map
  // refresh after a backoff of at most 2 s, plus a quarter of jitter) that disconnecting does
  // not clear. Its internal emitter says when: closeCluster waits until the last one is done.
  const group = (cluster as unknown as { subscriberGroupEmitter?: Cluster })
    .subscriberGroupEmitter;
  group?.on("subscriberConnectFailed", ({ delay }: { delay: number }) => {
    quietAt.set(cluster, Math.max(quietAt.get(cluster) ?? 0, Date.now() + delay));
  });
  return cluster;
}

// When the last of a cluster client's refresh timers (above) fires.
const quietAt = new WeakMap<Cluster, number>();

// A promise that rejects after `ms` (a command can wait in ioredis' queues for long).
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`No answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Resolves when the cluster serves again: it says `cluster_state:ok`, every slot range of
 * `CLUSTER SLOTS` has a master that the client routes that range to and that answers a PING,
 * and every channel is subscribed again on its slot's master (SSUBSCRIBE confirmed; subscribing
 * twice is harmless). Rejects on the first step that fails.
 */
export async function probeCluster(
  cluster: Cluster,
  channels: Iterable<string>,
  timeoutMs: number,
): Promise<void> {
  if (cluster.status !== "ready") throw new Error(`cluster client is ${cluster.status}`);
  const info = String(await within(cluster.cluster("INFO"), timeoutMs));
  if (!info.includes("cluster_state:ok")) throw new Error("cluster_state is not ok");
  // [[first, last, [host, port, id], ...replicas], ...]
  const ranges = await within(cluster.cluster("SLOTS"), timeoutMs);
  const nodes = new Map(
    cluster.nodes("all").map((node) => [`${node.options.host}:${node.options.port}`, node]),
  );
  for (const [first, , master] of ranges) {
    if (master === undefined) throw new Error(`slot ${first} has no master`);
    const [host, port] = master;
    const key = `${host}:${port}`;
    const node = nodes.get(key);
    if (node === undefined || cluster.slots[first]?.[0] !== key) {
      throw new Error(`the client does not route slot ${first} to its master ${key} yet`);
    }
    await within(node.ping(), timeoutMs);
  }
  // Reached once the slot map is right, so once or twice per outage: ioredis keeps each channel
  // once more in its own list per SSUBSCRIBE (harmless: it subscribes them again as one call).
  for (const channel of channels) await within(cluster.ssubscribe(channel), timeoutMs);
}

/** Close a cluster client and wait (bounded) until its sockets are gone. */
export async function closeCluster(cluster: Cluster): Promise<void> {
  if (cluster.status === "end") return;
  const ended = new Promise<void>((resolve) => cluster.once("end", () => resolve()));
  cluster.disconnect();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([ended, new Promise((resolve) => timer = setTimeout(resolve, 2000))]);
  clearTimeout(timer);
  // ioredis destroys a socket that did not close within `disconnectTimeout`; its refresh
  // timers fire within 2.5 s.
  const wait = Math.min(Math.max((quietAt.get(cluster) ?? 0) - Date.now(), 0), 2500);
  await new Promise((resolve) => setTimeout(resolve, Math.max(wait, DISCONNECT_TIMEOUT) + 20));
}
