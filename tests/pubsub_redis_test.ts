import assert from "node:assert/strict";
import { PubSub, type Subscriber } from "../pubsub/mod.ts";
import { RedisBackend, RedisBackendError } from "../pubsub/redis.ts";
import { delay, until } from "./_helpers.ts";
import { freePort, HAS_REDIS, loadingRedis, startRedis, warnWithoutRedis } from "./_redis.ts";

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
  name:
    "RedisBackend reports an outage once when it starts and once when it ends, with the publishes dropped meanwhile",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const errorsOne: Error[] = [], errorsTwo: Error[] = [];
    const backend = () => new RedisBackend({ url: redis.url, maxRetryDelay: 50 });
    const one = new PubSub({ backend: backend(), onError: (e) => errorsOne.push(e as Error) });
    const two = new PubSub({ backend: backend(), onError: (e) => errorsTwo.push(e as Error) });
    const b = inbox();
    await two.subscribe("room", b);
    await one.subscribe("other", inbox());
    one.publish("room", "before");
    await until(() => b.got.length === 1, "the first message");

    await redis.kill();
    // Published before the backend noticed (they wait in ioredis, then fail) and after.
    const published = { room: 0, lobby: 0 };
    for (let i = 0; i < 30; i++) {
      one.publish("room", `down ${i}`);
      published.room++;
      if (i % 3 === 0) {
        one.publish("lobby", `down ${i}`);
        published.lobby++;
      }
      await delay(10);
    }
    await until(() => errorsOne.length >= 1 && errorsTwo.length >= 1, "the outage reports");
    await delay(300); // several reconnection attempts: ioredis gives up on what it held
    await redis.restart();
    const ended = (errors: Error[]) => errors.some((e) => /connection back/.test(e.message));
    await until(
      () => ended(errorsOne) && ended(errorsTwo),
      () =>
        `the end reports; got ${
          JSON.stringify([...errorsOne, ...errorsTwo].map((e) => e.message))
        }`,
      10_000,
    );
    for (let i = 0; i < 100 && !b.got.includes("after"); i++) {
      one.publish("room", "after");
      await delay(50);
    }
    assert.ok(b.got.includes("after"), `got ${JSON.stringify(b.got)}`);
    assert.ok(
      !b.got.some((m) => String(m).startsWith("down")),
      "nothing of the outage came through",
    );

    const where = `Redis pub/sub backend ${redis.url}`;
    for (const e of [...errorsOne, ...errorsTwo]) {
      assert.ok(e instanceof RedisBackendError, `not wrapped: ${e}`);
      assert.ok(e.message.startsWith(`${where}: `), e.message);
    }
    assert.deepEqual(errorsOne.map((e) => (e as RedisBackendError).event), ["down", "up"]);
    assert.deepEqual(errorsTwo.map((e) => (e as RedisBackendError).event), ["down", "up"]);
    assert.match(
      errorsOne[0].message,
      /: connection lost \(.+\); publishes are dropped until it is back$/,
    );
    const total = published.room + published.lobby;
    assert.match(
      errorsOne[1].message,
      new RegExp(
        `: connection back after \\d+\\.\\d s; ${total} publishes dropped meanwhile \\(room: ${published.room}, lobby: ${published.lobby}\\)$`,
      ),
    );
    assert.deepEqual((errorsOne[1] as RedisBackendError).dropped, published);
    assert.match(errorsTwo[1].message, /: connection back after \d+\.\d s; no publish dropped$/);
    await one.close();
    await two.close();
    assert.equal(errorsOne.length + errorsTwo.length, 4, "nothing more, closing included");
  },
});

Deno.test({
  name: "RedisBackend names the backend and the URL, password redacted, in every report",
  ignore: !HAS_REDIS,
  async fn() {
    const url = `redis://user:hunter2@127.0.0.1:${freePort()}`; // nobody listens
    const errors: Error[] = [];
    const pubsub = new PubSub({
      backend: new RedisBackend({ url, maxRetryDelay: 50 }),
      onError: (e) => errors.push(e as Error),
    });
    pubsub.publish("room", "lost");
    await until(() => errors.length >= 1, "the outage report");
    pubsub.publish("room", "lost too");
    await delay(200);
    await pubsub.close();
    assert.equal(errors.length, 1, errors.map((e) => e.message).join("\n"));
    assert.ok(errors[0] instanceof RedisBackendError);
    assert.ok(
      errors[0].message.startsWith(`Redis pub/sub backend redis://user:***@127.0.0.1:`),
      errors[0].message,
    );
    assert.equal((errors[0] as RedisBackendError).url, url.replace("hunter2", "***"));
    assert.doesNotMatch(errors[0].message, /hunter2/);
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

Deno.test("RedisBackend.close() while Redis is still loading its data leaves no timer running", async () => {
  // As RedisStreamsBackend's: ioredis's ready check retries on a timer disconnect() leaves.
  await using redis = loadingRedis();
  const backend = new RedisBackend({ url: redis.url });
  const started = backend.start(() => {}, () => {});
  await until(() => redis.infos >= 4, () => `each client's ready check twice, got ${redis.infos}`);
  await backend.close();
  await started;
});
