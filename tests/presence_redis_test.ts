// Tracker over a real redis-server, in one process: two nodes, each its own PubSub and
// RedisBackend (own connections), real time with short configured timings; Redis killed and
// restarted: the nodes declare each other down, then converge again.

import assert from "node:assert/strict";
import { PubSub } from "../pubsub/mod.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import { Tracker } from "../presence/mod.ts";
import { until } from "./_helpers.ts";
import { HAS_REDIS, startRedis, warnWithoutRedis } from "./_redis.ts";

warnWithoutRedis("presence_redis_test.ts");

const keys = (tracker: Tracker, topic = "room") => Object.keys(tracker.list(topic)).sort();

Deno.test({
  name: "Tracker over Redis: joins and leaves reach the other node; a Redis restart converges",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const node = (name: string) => {
      const pubsub = new PubSub({
        backend: new RedisBackend({ url: redis.url, maxRetryDelay: 50 }),
        onError: () => {}, // the outage reports; counted by pubsub_redis_test
      });
      const tracker = new Tracker({
        pubsub,
        name,
        heartbeatInterval: 50,
        downAfter: 300,
        onError: (error) => console.error(error),
      });
      return { pubsub, tracker };
    };
    const a = node("a"), b = node("b");
    const alice = {};
    a.tracker.track(alice, "room", "alice", { device: "phone" });
    b.tracker.track({}, "room", "bob");
    await until(
      () => keys(b.tracker).join() === "alice,bob" && keys(a.tracker).join() === "alice,bob",
      () => `both see both: a ${keys(a.tracker)}, b ${keys(b.tracker)}`,
    );
    assert.deepEqual(b.tracker.get("room", "alice"), a.tracker.get("room", "alice"));
    a.tracker.untrack(alice, "room", "alice");
    await until(() => keys(b.tracker).join() === "bob", () => `alice left: ${keys(b.tracker)}`);

    await redis.kill();
    // Each declares the other down: it hears nothing.
    await until(
      () => keys(a.tracker).join() === "" && keys(b.tracker).join() === "bob",
      () => `downs: a ${keys(a.tracker)}, b ${keys(b.tracker)}`,
    );
    a.tracker.track({}, "room", "carol"); // during the outage: its delta is lost
    await redis.restart();
    await until(
      () => keys(a.tracker).join() === "bob,carol" && keys(b.tracker).join() === "bob,carol",
      () => `converged: a ${keys(a.tracker)}, b ${keys(b.tracker)}`,
      10_000,
    );
    for (const { tracker, pubsub } of [a, b]) {
      await tracker.close();
      await pubsub.close();
    }
  },
});
