// A throwaway Redis Cluster for the tests that need one: `masters` masters with one replica
// each, every node a redis-server on 127.0.0.1 with a free port (and a free cluster-bus port,
// set with `cluster-port`), no persistence, a short `cluster-node-timeout` so that a killed
// master's replica takes over within a few seconds. Ignored like the other Redis tests when
// redis-server (or redis-cli) is not installed.

import { freePort, HAS_REDIS, run } from "./_redis.ts";

/** Whether `redis-server` and `redis-cli` are on the PATH. */
export const HAS_REDIS_CLUSTER: boolean = HAS_REDIS && (() => {
  try {
    return new Deno.Command("redis-cli", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

export interface ClusterNode {
  readonly port: number;
  readonly url: string;
  /** Whether it was killed. */
  readonly dead: boolean;
}

export interface RedisCluster extends AsyncDisposable {
  readonly nodes: readonly ClusterNode[];
  /** The startup URLs (every node). */
  readonly urls: string[];
  /** Run a redis-cli command against a node, and return its output. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The port of the master that serves the slot of `key` now. */
  masterOf(key: string): Promise<number>;
  /** SIGKILL a node and wait for it to exit. */
  kill(port: number): Promise<void>;
  /** Wait until every live node says `cluster_state:ok` and `key`'s slot has a live master. */
  settled(key?: string, timeoutMs?: number): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Start a cluster; `await using` stops every node and removes its files. */
export async function startRedisCluster(
  { masters = 3, replicas = 1, nodeTimeout = 1000 } = {},
): Promise<RedisCluster> {
  // Made and removed by child processes: the test task runs without --allow-write.
  const dir = await run("mktemp", "-d", "-t", "websock-cluster-XXXXXX");
  const children = new Map<number, Deno.ChildProcess>();
  const dead = new Set<number>();
  const ports: number[] = [];
  const cli = (port: number, ...args: string[]) =>
    run("redis-cli", "-h", "127.0.0.1", "-p", String(port), ...args);
  const stop = async () => {
    for (const child of children.values()) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
    children.clear();
    await run("rm", "-rf", dir);
  };
  try {
    const total = masters * (1 + replicas);
    const taken = new Set<number>();
    const pick = () => {
      for (let i = 0; i < 100; i++) {
        const port = freePort();
        if (!taken.has(port)) return taken.add(port), port;
      }
      throw new Error("No free port");
    };
    for (let i = 0; i < total; i++) {
      const port = pick(), bus = pick();
      ports.push(port);
      const child = new Deno.Command("redis-server", {
        args: [
          "--bind",
          "127.0.0.1",
          "--port",
          String(port),
          "--cluster-enabled",
          "yes",
          "--cluster-port",
          String(bus),
          "--cluster-config-file",
          `${dir}/nodes-${port}.conf`,
          "--cluster-node-timeout",
          String(nodeTimeout),
          // A replica takes over however long ago it last heard from its master.
          "--cluster-replica-validity-factor",
          "0",
          "--dir",
          dir,
          "--save",
          "",
          "--appendonly",
          "no",
          "--protected-mode",
          "no",
        ],
        stdout: "null",
        stderr: "null",
        stdin: "null",
      }).spawn();
      children.set(port, child);
    }
    // Every node up (bounded: 100 × 50 ms each).
    for (const port of ports) {
      for (let i = 0;; i++) {
        if ((await cli(port, "PING").catch(() => "")) === "PONG") break;
        if (i === 100) throw new Error(`redis-server did not start on port ${port}`);
        await sleep(50);
      }
    }
    await run(
      "redis-cli",
      "--cluster",
      "create",
      ...ports.map((port) => `127.0.0.1:${port}`),
      "--cluster-replicas",
      String(replicas),
      "--cluster-yes",
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const masterOf = async (key: string): Promise<number> => {
    const slot = Number(await cli(ports.find((p) => !dead.has(p))!, "CLUSTER", "KEYSLOT", key));
    for (const port of ports) {
      if (dead.has(port)) continue;
      const role = await cli(port, "ROLE").catch(() => "");
      if (!role.startsWith("master")) continue;
      // The slots this master serves: the 9th field on of its own line of CLUSTER NODES.
      const nodes = await cli(port, "CLUSTER", "NODES");
      const myself = nodes.split("\n").find((line) => line.includes("myself"))!;
      const ranges = myself.split(" ").slice(8);
      for (const range of ranges) {
        const [low, high = low] = range.split("-").map(Number);
        if (slot >= low && slot <= high) return port;
      }
    }
    throw new Error(`No live master serves the slot of ${key}`);
  };
  const settled = async (key?: string, timeoutMs = 30_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      let ok = true;
      for (const port of ports) {
        if (dead.has(port)) continue;
        const info = await cli(port, "CLUSTER", "INFO").catch(() => "");
        if (!info.includes("cluster_state:ok")) ok = false;
        // A replica is in sync with its master.
        const replication = await cli(port, "INFO", "replication").catch(() => "");
        if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) {
          ok = false;
        }
      }
      if (ok && key !== undefined) ok = await masterOf(key).then(() => true, () => false);
      if (ok) return;
      if (Date.now() > end) throw new Error(`The cluster did not settle in ${timeoutMs} ms`);
      await sleep(100);
    }
  };
  await settled();
  return {
    nodes: ports.map((port) => ({
      port,
      url: `redis://127.0.0.1:${port}`,
      get dead() {
        return dead.has(port);
      },
    })),
    urls: ports.map((port) => `redis://127.0.0.1:${port}`),
    cli,
    masterOf,
    async kill(port) {
      const child = children.get(port);
      if (!child) return;
      dead.add(port);
      children.delete(port);
      child.kill("SIGKILL");
      await child.status;
    },
    settled,
    [Symbol.asyncDispose]: stop,
  };
}
