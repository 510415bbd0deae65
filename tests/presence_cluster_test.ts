// Presence across server processes on one real redis-server: each node a Deno process of its
// own (tests/fixtures/presence_server.ts), each client the real `phoenix` client's Socket and
// Presence connected to one node. Two nodes: joins and leaves seen by every client. Three
// nodes: one SIGKILLed → its users leave on the other nodes' clients, within downAfter + one
// heartbeat (measured, printed); restarted on its port → its clients reconnect and rejoin,
// listed once; Redis killed and restarted → every client converges to everyone again.
//
// Short timings (heartbeat 100 ms, downAfter 500 ms); PRESENCE_DEFAULTS=1 runs the nodes with
// the tracker's defaults (1 s, 5 s) to measure the default bound.

import assert from "node:assert/strict";
import { disconnect, outcome } from "./_phoenix.ts";
import { until } from "./_helpers.ts";
import { client, tabs } from "./_presence_client.ts";
import { HAS_REDIS, type RedisServer, startRedis, warnWithoutRedis } from "./_redis.ts";
import { awaitStderr } from "./_stderr.ts";

warnWithoutRedis("presence_cluster_test.ts");

const SERVER = new URL("./fixtures/presence_server.ts", import.meta.url).pathname;
const DEFAULTS = Deno.env.get("PRESENCE_DEFAULTS") === "1";
const HEARTBEAT = DEFAULTS ? 1000 : 100, DOWN = DEFAULTS ? 5000 : 500;
const TIMINGS = DEFAULTS ? [] : ["--heartbeat", `${HEARTBEAT}`, "--down", `${DOWN}`];
const WAIT = 30_000; // generous: the machine is shared

interface Node {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  kill(signal?: Deno.Signal): Promise<void>;
}

async function startNode(redis: RedisServer, name: string, port = 0): Promise<Node> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      SERVER,
      "--redis",
      redis.url,
      "--node",
      name,
      "--port",
      `${port}`,
      ...TIMINGS,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const { match, drained } = await awaitStderr(child, /listening on (\d+)/, 20_000, name);
  let gone = false;
  const bound = Number(match[1]);
  return {
    name,
    port: bound,
    url: `ws://127.0.0.1:${bound}/socket`,
    async kill(signal: Deno.Signal = "SIGTERM") {
      if (gone) return;
      gone = true;
      child.kill(signal);
      await child.status;
      await drained;
    },
  };
}

type Client = Awaited<ReturnType<typeof client>>;

const listed = (clients: Client[]) => clients.map((c) => JSON.stringify(tabs(c.seen.list)));

function allSee(clients: Client[], want: Record<string, string[]>, what: string) {
  const text = JSON.stringify(want);
  return until(
    () => clients.every((c) => JSON.stringify(tabs(c.seen.list)) === text),
    () => `${what}: ${listed(clients).join(" | ")}`,
    WAIT,
  );
}

Deno.test({
  name: "Presence across two processes on Redis: joins and leaves reach the clients of both",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const nodes = [await startNode(redis, "n1"), await startNode(redis, "n2")];
    try {
      const ann = await client(nodes[0].url, "ann", "a");
      const ben = await client(nodes[1].url, "ben", "b");
      const ann2 = await client(nodes[1].url, "ann", "a2"); // ann's second tab, on the other node
      await allSee([ann, ben, ann2], { ann: ["a", "a2"], ben: ["b"] }, "everyone");
      assert.equal((await outcome(ann2.channel.leave())).status, "ok");
      await allSee([ann, ben], { ann: ["a"], ben: ["b"] }, "one tab of ann left");
      await disconnect(ben.socket);
      await allSee([ann], { ann: ["a"] }, "ben left");
      assert.deepEqual(ann.seen.leaves, ["ben"]);
      await disconnect(ann.socket);
      await disconnect(ann2.socket);
    } finally {
      for (const node of nodes) await node.kill();
    }
  },
});

Deno.test({
  name:
    "Presence across three processes on Redis: a SIGKILLed node's users leave everywhere within the bound; its restart rejoins them once; a Redis restart converges",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const nodes = [
      await startNode(redis, "n1"),
      await startNode(redis, "n2"),
      await startNode(redis, "n3"),
    ];
    const clients: Client[] = [];
    try {
      for (const [i, node] of nodes.entries()) {
        clients.push(await client(node.url, `u${i + 1}`, `t${i + 1}`));
      }
      const everyone = { u1: ["t1"], u2: ["t2"], u3: ["t3"] };
      await allSee(clients, everyone, "everyone");

      // n3 is killed: nothing said, only silence tells.
      const killedAt = performance.now();
      await nodes[2].kill("SIGKILL");
      await allSee(clients.slice(0, 2), { u1: ["t1"], u2: ["t2"] }, "u3 left");
      const took = performance.now() - killedAt;
      console.log(
        `presence: a SIGKILLed node's users left everywhere after ${took.toFixed(0)} ms ` +
          `(heartbeat ${HEARTBEAT} ms, downAfter ${DOWN} ms: bound ${
            DOWN + HEARTBEAT
          } ms + transport)`,
      );
      assert.ok(took >= DOWN - HEARTBEAT, `left after ${took} ms, before downAfter`);
      assert.ok(took < DOWN + HEARTBEAT + WAIT, `left after ${took} ms`);

      // n3 comes back on its port, a new incarnation with the same name: u3's client
      // reconnects and rejoins by itself, and is listed once everywhere.
      nodes[2] = await startNode(redis, "n3", nodes[2].port);
      await allSee(clients, everyone, "u3 back, once");
      const sawU3 = clients[0].seen.joins.filter((k) => k === "u3").length;
      assert.equal(sawU3, 2, "u1 saw u3 join twice: first, then after its node's restart");

      // n2 is killed and restarted at once (often within downAfter): the new incarnation
      // replaces the old one's entries when it is heard, so u2 never shows twice.
      await nodes[1].kill("SIGKILL");
      nodes[1] = await startNode(redis, "n2", nodes[1].port);
      await until(() => clients[1].socket.isConnected(), "u2 reconnected", WAIT);
      await allSee(clients, everyone, "u2 back");
      for (const c of clients) assert.equal(c.seen.most.u2, 1, "u2 was never listed twice");

      // Redis goes away: every node hears nobody, and its clients see only their own.
      await redis.kill();
      for (const [i, c] of clients.entries()) {
        await allSee([c], { [`u${i + 1}`]: [`t${i + 1}`] }, `u${i + 1} alone`);
      }
      await redis.restart();
      await allSee(clients, everyone, "converged after the Redis restart");
    } finally {
      for (const c of clients) await disconnect(c.socket);
      for (const node of nodes) await node.kill();
    }
  },
});
