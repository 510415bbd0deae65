import assert from "node:assert/strict";
import { Redis } from "npm:ioredis@^5.4.1";
import { type Delivery, HistoryPubSub, type Position } from "../pubsub/mod.ts";
import { RedisStreamsBackend, type RedisStreamsBackendOptions } from "../pubsub/redis_streams.ts";
import { delay, until } from "./_helpers.ts";
import { HAS_REDIS, startRedis, warnWithoutRedis } from "./_redis.ts";

warnWithoutRedis("pubsub_redis_streams_test.ts");

type Box = {
  got: Delivery<unknown>[];
  send(d: Delivery<unknown>): boolean;
  /** Messages as their value, gaps as "gap". */
  readonly seen: unknown[];
  readonly messages: unknown[];
};

function inbox(): Box {
  const box: Box = {
    got: [],
    send: (d) => box.got.push(d) > 0,
    get seen() {
      return box.got.map((d) => d.type === "message" ? d.message : "gap");
    },
    get messages() {
      return box.got.flatMap((d) => d.type === "message" ? [d.message] : []);
    },
  };
  return box;
}

function node(url: string, options: RedisStreamsBackendOptions = {}, errors: unknown[] = []) {
  return new HistoryPubSub<unknown>({
    backend: new RedisStreamsBackend({ url, ...options }),
    onError: (e) => errors.push(e),
  });
}

/** Positions must follow each other (gap notices excepted), in one epoch. */
function assertConsecutive(box: Box): void {
  let last: Position | undefined;
  for (const d of box.got) {
    if (last && d.type === "message") {
      assert.equal(d.position.epoch, last.epoch);
      assert.equal(d.position.offset, last.offset + 1, `after ${last.offset}`);
    }
    last = d.position;
  }
}

Deno.test({
  name: "RedisStreamsBackend gives every node the same order per topic, with consecutive positions",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const one = node(redis.url), two = node(redis.url);
    const a = inbox(), b = inbox();
    await one.subscribe("room", a);
    await two.subscribe("room", b);
    const published = [];
    for (let i = 0; i < 100; i++) {
      published.push(one.publish("room", `one ${i}`), two.publish("room", `two ${i}`));
    }
    const positions = await Promise.all(published);
    await until(() => a.got.length === 200 && b.got.length === 200, () => `${a.got.length}`);
    assert.deepEqual(a.seen, b.seen, "one order on both nodes");
    assert.deepEqual(a.got.map((d) => d.position), b.got.map((d) => d.position));
    assertConsecutive(a);
    // Each node's own messages keep their publish order, and publish() told their positions.
    const mine = a.messages.filter((m) => String(m).startsWith("one"));
    assert.deepEqual(mine, Array.from({ length: 100 }, (_, i) => `one ${i}`));
    assert.deepEqual(
      positions.map((p) => p.offset).sort((x, y) => x - y),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    await one.close();
    await two.close();
  },
});

Deno.test({
  name: "HistoryPubSub over Redis Streams resumes a subscriber on another node after its position",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const one = node(redis.url, { maxLength: 5000 }), two = node(redis.url);
    let at: Position | undefined;
    for (let i = 1; i <= 1200; i++) {
      const p = one.publish("room", i);
      if (i === 20) at = await p;
    }
    await one.publish("room", 1201);
    const b = inbox();
    const caughtUp = two.subscribe("room", b, { since: at });
    const during = [];
    for (let i = 1202; i <= 1300; i++) during.push(one.publish("room", i)); // at the seam
    await Promise.all(during);
    await caughtUp;
    await one.publish("room", 1301);
    await until(() => b.got.length >= 1281, () => `${b.got.length} of 1281`);
    await delay(50);
    assert.deepEqual(b.seen, Array.from({ length: 1281 }, (_, i) => 21 + i));
    assertConsecutive(b);
    await one.close();
    await two.close();
  },
});

Deno.test({
  name:
    "RedisStreamsBackend trims by length and age: a resume from before that gets one gap notice",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const one = node(redis.url, { maxLength: 10, maxAge: 600_000 });
    let first: Position | undefined;
    for (let i = 1; i <= 300; i++) {
      const p = one.publish("t", i);
      if (i === 1) first = await p;
    }
    await one.publish("t", 301);
    const a = inbox();
    await one.subscribe("t", a, { since: first });
    assert.equal(a.got[0].type, "gap");
    const gap = a.got[0] as Extract<Delivery<unknown>, { type: "gap" }>;
    assert.deepEqual(gap.after, first);
    assert.equal(gap.missed, gap.position.offset - 1);
    assert.ok(a.got.length - 1 >= 10 && a.got.length - 1 <= 150, `kept ${a.got.length - 1}`);
    assert.equal(a.seen.at(-1), 301);
    assertConsecutive(a);
    await one.close();
    // Age: 300 ms after the last publish every message is older than 200 ms: a resume gets
    // one gap notice that brings it to the head, and nothing else.
    const two = node(redis.url, { maxAge: 200 });
    const last = await two.publish("aged", "x");
    await delay(300);
    const b = inbox();
    await two.subscribe("aged", b, { since: { epoch: last.epoch, offset: 0 } });
    assert.deepEqual(b.seen, ["gap"]);
    assert.deepEqual(b.got[0].position, last);
    await two.close();
  },
});

Deno.test({
  name:
    "RedisStreamsBackend: a live subscriber whose node fell behind a trim gets a gap notice, then the rest in order",
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

Deno.test({
  name:
    "HistoryPubSub over Redis Streams: a publish while Redis is down rejects and tells onError; other nodes catch up after",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis({ persist: true });
    const errorsOne: Error[] = [], errorsTwo: Error[] = [];
    // Node one reconnects fast; node two slowly, so that it catches up from the stream.
    const one = node(redis.url, { maxRetryDelay: 50 }, errorsOne);
    const two = node(redis.url, { maxRetryDelay: 1000 }, errorsTwo);
    const b = inbox();
    await two.subscribe("room", b);
    await one.publish("room", "before");
    await until(() => b.got.length === 1, "the first message");

    await redis.kill();
    await until(() => errorsTwo.length > 0, "node two's report");
    assert.match(
      errorsTwo[0].message,
      /^Redis streams connection to redis:\/\/127\.0\.0\.1:\d+ failed: .*; reconnecting$/,
    );
    await delay(600); // node two's reconnection backoff grows: it comes back late
    await assert.rejects(one.publish("room", "lost"), {
      message: /^Cannot publish to room: Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable$/,
    });
    assert.ok(errorsOne.some((e) => /^Cannot publish to room: /.test(e.message)));

    await redis.restart();
    // Node one publishes as soon as it can, node two is still away.
    for (let i = 0; i < 200; i++) {
      if (await one.publish("room", "after 1").then(() => true, () => false)) break;
      await delay(20);
    }
    await one.publish("room", "after 2");
    await until(() => b.got.length >= 3, () => `3 messages, got ${JSON.stringify(b.seen)}`);
    await delay(50);
    assert.deepEqual(b.seen, ["before", "after 1", "after 2"], "once each, in order, no gap");
    assertConsecutive(b);
    await one.close();
    await two.close();
  },
});

Deno.test({
  name:
    "HistoryPubSub over Redis Streams: a Redis that lost its data means one gap notice, then the new history",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const one = node(redis.url, { maxRetryDelay: 50 }),
      two = node(redis.url, { maxRetryDelay: 50 });
    const b = inbox();
    await two.subscribe("room", b);
    const old = await one.publish("room", "old");
    await until(() => b.got.length === 1, "the first message");
    await redis.restart(); // no persistence: everything is gone
    for (let i = 0; i < 200; i++) {
      if (await one.publish("room", "new 1").then(() => true, () => false)) break;
      await delay(20);
    }
    await one.publish("room", "new 2");
    await until(() => b.got.length >= 4, () => JSON.stringify(b.seen));
    assert.deepEqual(b.seen, ["old", "gap", "new 1", "new 2"]);
    const gap = b.got[1];
    assert.notEqual(gap.position.epoch, old.epoch);
    assert.equal(gap.position.offset, 0);
    assert.deepEqual(b.got.slice(2).map((d) => d.position.offset), [1, 2]);
    await one.close();
    await two.close();
  },
});

Deno.test({
  name:
    "RedisStreamsBackend: a subscribe while Redis is down waits for it, and close() does not hang",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const errors: unknown[] = [];
    const one = node(redis.url, { maxRetryDelay: 50 }, errors);
    await one.subscribe("a", inbox());
    await redis.kill();
    await until(() => errors.length > 0, "the report");
    const b = inbox();
    let live = false;
    one.subscribe("b", b, { since: { epoch: "x", offset: 0 } }).then(() => live = true);
    await delay(200);
    assert.equal(
      live,
      false,
      `waits for Redis; ${errors.map((e) => (e as Error).message).join(" / ")}`,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      one.close().then(() => "closed"),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("still waiting"), 3000)),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "closed");
  },
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
