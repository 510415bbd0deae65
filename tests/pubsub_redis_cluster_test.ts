import assert from "node:assert/strict";
import { PubSub } from "../pubsub/mod.ts";
import { RedisBackend, RedisBackendError } from "../pubsub/redis.ts";
import { inbox, lonelyOutage } from "./_backend_contract.ts";
import { delay, until } from "./_helpers.ts";
import { HAS_REDIS_CLUSTER, type RedisCluster, startRedisCluster } from "./_redis_cluster.ts";
import { freePort } from "./_redis.ts";

if (!HAS_REDIS_CLUSTER) {
  console.warn(
    "Skipping the Redis Cluster tests of pubsub_redis_cluster_test.ts: no redis-server/redis-cli",
  );
}

// The masters now, and the number of SPUBLISH / PUBLISH each has served.
async function masters(cluster: RedisCluster): Promise<number[]> {
  const out: number[] = [];
  for (const node of cluster.nodes) {
    if (node.dead) continue;
    if ((await cluster.cli(node.port, "ROLE")).startsWith("master")) out.push(node.port);
  }
  return out;
}
async function calls(cluster: RedisCluster, port: number, command: string): Promise<number> {
  const stats = await cluster.cli(port, "INFO", "commandstats");
  return Number(stats.match(new RegExp(`cmdstat_${command}:calls=(\\d+)`))?.[1] ?? 0);
}

Deno.test("RedisBackend rejects a cluster option that is not a list of redis:// URLs", () => {
  for (const cluster of [[], ["http://127.0.0.1:7000"], "redis://127.0.0.1:7000", [7000]]) {
    assert.throws(
      () => new RedisBackend({ cluster: cluster as string[] }),
      (error: Error) =>
        error instanceof TypeError &&
        error.message.startsWith("Invalid option cluster: ") &&
        error.message.endsWith(" is not a non-empty list of redis:// URLs"),
    );
  }
});

Deno.test({
  name:
    "RedisBackend on a Redis Cluster carries each topic over sharded pub/sub on the master of its slot only",
  ignore: !HAS_REDIS_CLUSTER,
  async fn() {
    await using cluster = await startRedisCluster();
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    // One startup node each is enough: the client finds the others.
    const one = new PubSub({
      backend: new RedisBackend({ cluster: [cluster.urls[0]] }),
      onError,
    });
    const two = new PubSub({
      backend: new RedisBackend({ cluster: cluster.urls.slice(3) }),
      onError,
    });
    // Topics whose channels hash to different slots (and so, here, to all three masters).
    const topics = ["a", "b", "c", "d", "e", "f"];
    const boxes = new Map(topics.map((topic) => [topic, inbox()]));
    for (const [topic, box] of boxes) await two.subscribe(topic, box);
    const before = new Map<number, number>();
    for (const port of await masters(cluster)) {
      before.set(port, await calls(cluster, port, "spublish"));
    }
    for (let i = 0; i < 20; i++) for (const topic of topics) one.publish(topic, { topic, i });
    await until(
      () => [...boxes.values()].every((box) => box.got.length === 20),
      () => JSON.stringify([...boxes].map(([t, b]) => [t, b.got.length])),
    );
    for (const [topic, box] of boxes) {
      assert.deepEqual(box.got, Array.from({ length: 20 }, (_, i) => ({ topic, i })));
    }
    // Each channel is subscribed on its slot's master, and only there; each master served
    // the SPUBLISHes of its own topics only; nothing went through classic pub/sub.
    const owners = new Map<string, number>();
    for (const topic of topics) owners.set(topic, await cluster.masterOf(`websock:${topic}`));
    assert.ok(new Set(owners.values()).size >= 2, `topics on several shards: ${[...owners]}`);
    for (const port of await masters(cluster)) {
      const mine = topics.filter((topic) => owners.get(topic) === port);
      const channels = (await cluster.cli(port, "PUBSUB", "SHARDCHANNELS")).split("\n")
        .filter(Boolean).sort();
      assert.deepEqual(channels, mine.map((topic) => `websock:${topic}`).sort(), `on ${port}`);
      const spublished = (await calls(cluster, port, "spublish")) - before.get(port)!;
      assert.equal(spublished, mine.length * 20, `SPUBLISH calls on ${port}`);
      assert.equal(await calls(cluster, port, "publish"), 0, `PUBLISH calls on ${port}`);
    }
    // Unsubscribing leaves the shard.
    await two.unsubscribe("a", boxes.get("a")!);
    const owner = owners.get("a")!;
    for (let i = 0; i < 100; i++) {
      const left = await cluster.cli(owner, "PUBSUB", "SHARDCHANNELS", "websock:a");
      if (left === "") break;
      await delay(20);
    }
    assert.equal(await cluster.cli(owner, "PUBSUB", "SHARDCHANNELS", "websock:a"), "");
    await one.close();
    await two.close();
    assert.deepEqual(errors, []);
  },
});

Deno.test({
  name:
    "RedisBackend on a Redis Cluster survives a master killed: its replica takes over, publishes resume, the outage is reported with the drops",
  ignore: !HAS_REDIS_CLUSTER,
  async fn() {
    await using cluster = await startRedisCluster();
    const errorsOne: RedisBackendError[] = [], errorsTwo: RedisBackendError[] = [];
    const backend = () => new RedisBackend({ cluster: cluster.urls, maxRetryDelay: 100 });
    const one = new PubSub({
      backend: backend(),
      onError: (e) => errorsOne.push(e as RedisBackendError),
    });
    const two = new PubSub({
      backend: backend(),
      onError: (e) => errorsTwo.push(e as RedisBackendError),
    });
    const room = inbox(), other = inbox();
    await two.subscribe("room", room);
    const victim = await cluster.masterOf("websock:room");
    // A topic on another shard, which stays up.
    let otherTopic = "";
    for (let i = 0; i < 100 && otherTopic === ""; i++) {
      if ((await cluster.masterOf(`websock:other${i}`)) !== victim) otherTopic = `other${i}`;
    }
    await two.subscribe(otherTopic, other);
    one.publish("room", "before");
    one.publish(otherTopic, "before");
    await until(() => room.got.length === 1 && other.got.length === 1, "the first messages");

    await cluster.kill(victim);
    // Publish to both shards until the room's messages come through again (bounded: 30 s).
    let n = 0;
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      one.publish("room", `room ${n}`);
      one.publish(otherTopic, `other ${n}`);
      n++;
      await delay(50);
      const back = errorsOne.some((e) => e.event === "up") &&
        errorsTwo.some((e) => e.event === "up");
      if (back && room.got.length >= 3) break;
    }
    await cluster.settled("websock:room");
    assert.notEqual(await cluster.masterOf("websock:room"), victim, "a replica took over");
    // After the outage every publish arrives.
    const mark = room.got.length;
    for (let i = 0; i < 5; i++) one.publish("room", `after ${i}`);
    await until(
      () => room.got.length === mark + 5,
      () => `the room after the failover: ${JSON.stringify(room.got)}`,
    );
    assert.deepEqual(room.got.slice(mark), [0, 1, 2, 3, 4].map((i) => `after ${i}`));

    const where = `Redis pub/sub backend ${cluster.urls.join(",")}`;
    for (const e of [...errorsOne, ...errorsTwo]) {
      assert.ok(e instanceof RedisBackendError, `not wrapped: ${e}`);
      assert.ok(e.message.startsWith(`${where}: `), e.message);
    }
    const events = (errors: RedisBackendError[]) => errors.map((e) => e.event);
    assert.deepEqual(events(errorsOne), ["down", "up"], errorsOne.map((e) => e.message).join());
    assert.deepEqual(events(errorsTwo), ["down", "up"], errorsTwo.map((e) => e.message).join());
    // The publisher counted the room's publishes that failed; the room lost at least those
    // (others may have been published to the old master before it died, or before the
    // subscription moved: at most once).
    const dropped = errorsOne[1].dropped!;
    assert.ok((dropped.room ?? 0) >= 1, `dropped: ${JSON.stringify(dropped)}`);
    const roomReceived = room.got.slice(1, mark).length;
    assert.ok(roomReceived + dropped.room <= n, `${roomReceived} + ${dropped.room} <= ${n}`);
    assert.match(
      errorsOne[1].message,
      /: connection back after \d+\.\d s; \d+ publish(es)? dropped meanwhile \(.*room: \d+.*\)$/,
    );
    // The shard that stayed up kept carrying its topic during the failover.
    assert.equal(dropped[otherTopic] ?? 0, 0, `dropped: ${JSON.stringify(dropped)}`);
    assert.ok(other.got.length >= n * 0.5, `other: ${other.got.length} of ${n + 1}`);
    await one.close();
    await two.close();
    assert.equal(errorsOne.length + errorsTwo.length, 4, "nothing more, closing included");
  },
});

Deno.test({
  name:
    "RedisBackend on an unreachable cluster reports one outage, names the nodes with the password redacted, and closes",
  ignore: !HAS_REDIS_CLUSTER,
  async fn() {
    const urls = [
      `redis://user:hunter2@127.0.0.1:${freePort()}`,
      `redis://127.0.0.1:${freePort()}`,
    ];
    const backend = new RedisBackend({ cluster: urls, maxRetryDelay: 50 });
    const error = await lonelyOutage(backend, 300) as RedisBackendError;
    assert.ok(error instanceof RedisBackendError);
    assert.equal(error.event, "down");
    const where = `redis://user:***@127.0.0.1:${new URL(urls[0]).port},${urls[1]}`;
    assert.equal(error.url, where);
    assert.ok(error.message.startsWith(`Redis pub/sub backend ${where}: connection lost`));
    assert.doesNotMatch(error.message, /hunter2/);
  },
});
