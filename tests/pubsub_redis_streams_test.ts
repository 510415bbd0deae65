import assert from "node:assert/strict";
import { Redis } from "npm:ioredis@^5.4.1";
import { HistoryPubSub } from "../pubsub/mod.ts";
import { RedisStreamsBackend, type RedisStreamsBackendOptions } from "../pubsub/redis_streams.ts";
import { historyContract, inbox } from "./_history_contract.ts";
import { until } from "./_helpers.ts";
import { HAS_REDIS, loadingRedis, startRedis, warnWithoutRedis } from "./_redis.ts";

warnWithoutRedis("pubsub_redis_streams_test.ts");

// The same suite as JetStreamBackend's (tests/_history_contract.ts), on a redis-server.
historyContract({
  backend: "RedisStreamsBackend",
  over: "Redis Streams",
  ignore: !HAS_REDIS,
  // Without persistence a restart loses everything; with it, an append-only file keeps it.
  start: ({ persist }) => startRedis({ persist }),
  url: (port) => `redis://127.0.0.1:${port}`,
  make: (url, options) => new RedisStreamsBackend({ url, ...options }),
  exactTrim: false, // MAXLEN ~
  downReport: /^Redis streams connection to redis:\/\/127\.0\.0\.1:\d+ failed: .+; reconnecting$/,
  unreachable: /^Cannot publish to room: Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable$/,
});

function node(url: string, options: RedisStreamsBackendOptions = {}) {
  return new HistoryPubSub<unknown>({ backend: new RedisStreamsBackend({ url, ...options }) });
}

// Only the reader's connection goes (the contract's relay cuts both).
Deno.test({
  name:
    "RedisStreamsBackend: a live subscriber whose reader fell behind a trim gets a gap notice, then the rest in order",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const admin = new Redis(redis.url);
    const one = node(redis.url, { maxLength: 10 }), two = node(redis.url, { maxLength: 10 });
    const b = inbox();
    await two.subscribe("room", b);
    let n = 0;
    await one.publish("room", ++n);
    await until(() => b.got.length === 1, "the first message");
    // Cut node two's reader off (the one client blocked in XREAD) and publish far more than
    // the stream keeps before it is back. Bounded retries: the gap must show in one round.
    for (let round = 0; round < 10 && !b.seen.includes("gap"); round++) {
      const list = String(await admin.client("LIST"));
      const reader = list.split("\n").find((line) => / cmd=xread /.test(line));
      if (reader) await admin.client("KILL", "ID", /id=(\d+)/.exec(reader)![1]);
      const burst = [];
      for (let i = 0; i < 300; i++) burst.push(one.publish("room", ++n));
      await Promise.all(burst);
      await until(() => b.seen.at(-1) === n, () => `message ${n}, got ${b.seen.at(-1)}`);
    }
    assert.ok(b.seen.includes("gap"), "a gap notice");
    // In order, each at most once, gaps where messages were trimmed away, none elsewhere.
    let last = 0;
    for (const d of b.got) {
      if (d.type === "gap") {
        assert.equal(d.missed, d.position.offset - last);
        last = d.position.offset;
      } else {
        assert.equal(d.position.offset, last + 1);
        assert.equal(d.message, d.position.offset);
        last = d.position.offset;
      }
    }
    assert.equal(last, n);
    admin.disconnect();
    await one.close();
    await two.close();
  },
});

Deno.test("RedisStreamsBackend.close() while Redis is still loading its data leaves no timer running", async () => {
  // ioredis asks a loading Redis again after a timer that disconnect() does not clear (and
  // a failed check then disconnects once more): the ops sanitizer fails the test if
  // close() returns before they have run. (Not through HistoryPubSub: its close() waits for
  // the backend's start(), which waits for Redis to be ready.)
  await using redis = loadingRedis();
  const backend = new RedisStreamsBackend({ url: redis.url });
  const started = backend.start(() => {}, () => {});
  await until(() => redis.infos >= 4, () => `each client's ready check twice, got ${redis.infos}`);
  await backend.close();
  await started;
});

Deno.test("RedisStreamsBackend rejects bad options with errors naming the value", () => {
  assert.throws(() => new RedisStreamsBackend({ url: "http://x" }), {
    name: "TypeError",
    message: 'Invalid option url: "http://x" is not a redis:// URL',
  });
  assert.throws(() => new RedisStreamsBackend({ maxLength: 0 }), {
    name: "RangeError",
    message: "Invalid option maxLength: 0 is not an integer >= 1",
  });
  assert.throws(() => new RedisStreamsBackend({ maxAge: 1.5 }), {
    name: "RangeError",
    message: "Invalid option maxAge: 1.5 is not an integer >= 0",
  });
});
