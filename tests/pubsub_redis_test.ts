import assert from "node:assert/strict";
import { PubSub, type Subscriber } from "../pubsub/mod.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import { delay, until } from "./_helpers.ts";
import { HAS_REDIS, startRedis, warnWithoutRedis } from "./_redis.ts";

warnWithoutRedis("pubsub_redis_test.ts");

function inbox(): Subscriber<unknown> & { got: unknown[] } {
  const got: unknown[] = [];
  return { got, send: (m: unknown) => got.push(m) > 0 };
}

Deno.test({
  name: "RedisBackend carries messages between two PubSubs in publish order, without echo",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const one = new PubSub({ backend: new RedisBackend({ url: redis.url }) });
    const two = new PubSub({ backend: new RedisBackend({ url: redis.url, prefix: "websock:" }) });
    const a = inbox(), b = inbox();
    await one.subscribe("room", a);
    await two.subscribe("room", b);
    for (let i = 0; i < 200; i++) one.publish("room", { n: i });
    two.publish("room", "from two");
    await until(
      () => b.got.length === 201 && a.got.length === 201,
      () => `a=${a.got.length} b=${b.got.length}`,
    );
    // b has "from two" (its own node's, delivered at once) and one's 200, in order.
    assert.deepEqual(
      b.got.filter((m) => m !== "from two"),
      Array.from({ length: 200 }, (_, i) => ({ n: i })),
    );
    assert.equal(a.got.at(-1), "from two");
    assert.equal(a.got.length, 201, "no echo of one's own messages");
    await one.close();
    await two.close();
  },
});

Deno.test({
  name: "RedisBackend reports a lost connection once, reconnects and resubscribes",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const errors: Error[] = [];
    const onError = (e: unknown) => errors.push(e as Error);
    const backend = (prefix = "websock:") =>
      new RedisBackend({ url: redis.url, prefix, maxRetryDelay: 50 });
    const one = new PubSub({ backend: backend(), onError });
    const two = new PubSub({ backend: backend(), onError });
    const b = inbox();
    await two.subscribe("room", b);
    await one.subscribe("other", inbox());
    one.publish("room", "before");
    await until(() => b.got.length === 1, "the first message");

    await redis.kill();
    await until(() => errors.length >= 2, "the error reports");
    assert.match(
      errors[0].message,
      /^Redis pub\/sub connection to redis:\/\/127\.0\.0\.1:\d+ failed: .*; reconnecting$/,
    );
    one.publish("room", "while down"); // dropped: at most once, and no crash
    await delay(200);
    assert.ok(errors.length <= 4, `one report per client per outage, got ${errors.length}`);

    await redis.restart();
    // Resubscribed by itself: publish until a message comes through (bounded).
    for (let i = 0; i < 100 && !b.got.includes("after"); i++) {
      one.publish("room", "after");
      await delay(50);
    }
    assert.ok(b.got.includes("after"), `got ${JSON.stringify(b.got)}`);
    assert.ok(!b.got.includes("while down"));
    await one.close();
    await two.close();
  },
});

Deno.test({
  name: "RedisBackend.close() returns while Redis is down instead of waiting for a reconnect",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const errors: unknown[] = [];
    const pubsub = new PubSub({
      backend: new RedisBackend({ url: redis.url }),
      onError: (e) => errors.push(e),
    });
    await pubsub.subscribe("room", inbox());
    await redis.kill();
    await until(() => errors.length > 0, "the error report");
    await delay(300); // both clients now wait to reconnect
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      pubsub.close().then(() => "closed"),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("still waiting"), 3000)),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "closed");
  },
});
