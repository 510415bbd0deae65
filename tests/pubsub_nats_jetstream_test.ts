import assert from "node:assert/strict";
import { type Delivery, HistoryPubSub, type Position } from "../pubsub/mod.ts";
import { JetStreamBackend, type JetStreamBackendOptions } from "../pubsub/nats_jetstream.ts";
import { delay, until } from "./_helpers.ts";
import { HAS_NATS, relay, startNats, warnWithoutNats } from "./_nats.ts";

warnWithoutNats("pubsub_nats_jetstream_test.ts");

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

function node(url: string, options: JetStreamBackendOptions = {}, errors: unknown[] = []) {
  return new HistoryPubSub<unknown>({
    backend: new JetStreamBackend({ url, ...options }),
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

/** Publish until NATS takes it (it is coming back); bounded. */
async function publishWhenBack(pubsub: HistoryPubSub<unknown>, topic: string, message: unknown) {
  for (let i = 0; i < 250; i++) {
    const stored = await pubsub.publish(topic, message).then((p) => p, () => undefined);
    if (stored) return stored;
    await delay(20);
  }
  throw new Error(`NATS did not come back to take ${JSON.stringify(message)}`);
}

Deno.test({
  name: "JetStreamBackend gives every node the same order per topic, with consecutive positions",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    const one = node(nats.url), two = node(nats.url);
    const a = inbox(), b = inbox();
    await one.subscribe("room:1", a);
    await two.subscribe("room:1", b);
    const published = [];
    for (let i = 0; i < 100; i++) {
      published.push(one.publish("room:1", `one ${i}`), two.publish("room:1", `two ${i}`));
    }
    const positions = await Promise.all(published);
    await until(() => a.got.length === 200 && b.got.length === 200, () => `${a.got.length}`);
    assert.deepEqual(a.seen, b.seen, "one order on both nodes");
    assert.deepEqual(a.got.map((d) => d.position), b.got.map((d) => d.position));
    assertConsecutive(a);
    const mine = a.messages.filter((m) => String(m).startsWith("one"));
    assert.deepEqual(mine, Array.from({ length: 100 }, (_, i) => `one ${i}`));
    assert.deepEqual(
      positions.map((p) => p.offset).sort((x, y) => x - y),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.ok(positions.every((p) => p.epoch === a.got[0].position.epoch), "publish's epoch");
    await one.close();
    await two.close();
  },
});

Deno.test({
  name: "HistoryPubSub over JetStream resumes a subscriber on another node after its position",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    const one = node(nats.url, { maxLength: 5000 }), two = node(nats.url);
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
  name: "JetStreamBackend trims by length and age: a resume from before that gets one gap notice",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    const one = node(nats.url, { maxLength: 10, maxAge: 600_000 });
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
    assert.deepEqual(a.seen.slice(1), Array.from({ length: 10 }, (_, i) => 292 + i), "exact");
    assertConsecutive(a);
    await one.close();
    // Age: 400 ms after the last publish every message is older than 200 ms: a resume gets
    // one gap notice that brings it to the head, and nothing else.
    const two = node(nats.url, { maxAge: 200 });
    const last = await two.publish("aged", "x");
    await delay(400);
    const b = inbox();
    await two.subscribe("aged", b, { since: { epoch: last.epoch, offset: 0 } });
    assert.deepEqual(b.seen, ["gap"]);
    assert.deepEqual(b.got[0].position, last);
    await two.close();
  },
});

Deno.test({
  name:
    "JetStreamBackend: a live subscriber whose node was cut off past a trim gets a gap notice, then the rest in order",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    await using link = relay(nats.port);
    const one = node(nats.url, { maxLength: 10 });
    const two = node(link.url, { maxLength: 10, maxRetryDelay: 50 });
    const b = inbox();
    await two.subscribe("room", b);
    let n = 0;
    await one.publish("room", ++n);
    await until(() => b.got.length === 1, "the first message");
    link.cut(); // node two is off the network while 300 are published
    const burst = [];
    for (let i = 0; i < 300; i++) burst.push(one.publish("room", ++n));
    await Promise.all(burst);
    link.mend();
    await until(() => b.seen.at(-1) === n, () => `message ${n}, got ${b.seen.at(-1)}`);
    await one.publish("room", ++n);
    await until(() => b.seen.at(-1) === n, () => `message ${n}, got ${b.seen.at(-1)}`);
    assert.deepEqual(b.seen, [1, "gap", ...Array.from({ length: 11 }, (_, i) => 292 + i)]);
    const gap = b.got[1] as Extract<Delivery<unknown>, { type: "gap" }>;
    assert.equal(gap.missed, 290);
    assert.equal(gap.position.offset, 291);
    await one.close();
    await two.close();
  },
});

Deno.test({
  name:
    "HistoryPubSub over JetStream: server killed during publishes and restarted with its store: a publish while down rejects and tells onError, every stored message reaches the other node exactly once",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    await using link = relay(nats.port);
    const errorsOne: Error[] = [], errorsTwo: Error[] = [];
    // Node two comes back only once node one has published again: it catches up from the
    // stream.
    const one = node(nats.url, { maxRetryDelay: 50 }, errorsOne);
    const two = node(link.url, { maxRetryDelay: 50 }, errorsTwo);
    const b = inbox();
    await two.subscribe("room", b);
    await one.publish("room", "before");
    await until(() => b.got.length === 1, "the first message");

    // Publishes in flight when the server dies: each is stored or not; every one stored is
    // delivered once, whether node one learnt it or not.
    const during: Promise<Position>[] = [];
    const killed = delay(40).then(() => nats.kill());
    for (let i = 0; i < 60; i++) {
      during.push(one.publish("room", `during ${i}`));
      await delay(2);
    }
    await killed;
    const settled = await Promise.allSettled(during);
    const acked = settled.flatMap((s, i) => s.status === "fulfilled" ? [`during ${i}`] : []);
    await until(() => errorsTwo.length > 0, "node two's report");
    assert.match(
      errorsTwo[0].message,
      /^NATS JetStream connection to nats:\/\/127\.0\.0\.1:\d+ failed: .+; reconnecting$/,
    );
    assert.ok(errorsTwo[0].cause instanceof Error);
    await assert.rejects(one.publish("room", "lost"), {
      message: /^Cannot publish to room: NATS at nats:\/\/127\.0\.0\.1:\d+ is unreachable$/,
    });
    assert.ok(errorsOne.some((e) => /^Cannot publish to room: /.test(e.message)));

    link.cut();
    await nats.restart();
    await publishWhenBack(one, "room", "after 1");
    const last = await one.publish("room", "after 2");
    assert.ok(!b.messages.includes("after 1"), "node two is still away");
    link.mend();
    await until(() => b.seen.at(-1) === "after 2", () => `after 2, got ${JSON.stringify(b.seen)}`);
    await delay(50);
    assertConsecutive(b);
    assert.equal(b.got.at(-1)!.position.offset, last.offset, "nothing missing");
    assert.ok(!b.seen.includes("gap"), "no gap");
    const duringSeen = b.messages.filter((m) => String(m).startsWith("during"));
    assert.equal(new Set(duringSeen).size, duringSeen.length, "each once");
    for (const m of acked) assert.ok(duringSeen.includes(m), `${m} was stored: delivered`);
    assert.deepEqual(b.messages, ["before", ...duringSeen, "after 1", "after 2"]);
    assert.ok(!b.messages.includes("lost"));
    await one.close();
    await two.close();
  },
});

Deno.test({
  name:
    "HistoryPubSub over JetStream: a server that lost its store means one gap notice, then the new history",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    const one = node(nats.url, { maxRetryDelay: 50 }),
      two = node(nats.url, { maxRetryDelay: 50 });
    const b = inbox();
    await two.subscribe("room", b);
    const old = await one.publish("room", "old");
    await until(() => b.got.length === 1, "the first message");
    await nats.restart({ wipe: true }); // JetStream's store is gone
    await publishWhenBack(one, "room", "new 1");
    await one.publish("room", "new 2");
    await until(() => b.got.length >= 4, () => JSON.stringify(b.seen));
    await delay(50);
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
  name: "JetStreamBackend: a subscribe while NATS is down waits for it, and close() does not hang",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    const errors: unknown[] = [];
    const one = node(nats.url, { maxRetryDelay: 50 }, errors);
    await one.subscribe("a", inbox());
    await nats.kill();
    await until(() => errors.length > 0, "the report");
    const b = inbox();
    let live = false;
    one.subscribe("b", b, { since: { epoch: "x", offset: 0 } }).then(() => live = true);
    await delay(200);
    assert.equal(
      live,
      false,
      `waits for NATS; ${errors.map((e) => (e as Error).message).join(" / ")}`,
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

Deno.test("JetStreamBackend rejects bad options with errors naming the value", () => {
  assert.throws(() => new JetStreamBackend({ url: "redis://x" }), {
    name: "TypeError",
    message: 'Invalid option url: "redis://x" is not a nats:// URL or a list',
  });
  assert.throws(() => new JetStreamBackend({ maxLength: 0 }), {
    name: "RangeError",
    message: "Invalid option maxLength: 0 is not an integer >= 1",
  });
  assert.throws(() => new JetStreamBackend({ maxAge: 1.5 }), {
    name: "RangeError",
    message: "Invalid option maxAge: 1.5 is not an integer >= 0",
  });
  assert.throws(() => new JetStreamBackend({ replicas: 7 }), {
    name: "RangeError",
    message: "Invalid option replicas: 7 is not an integer from 1 to 5",
  });
  assert.throws(() => new JetStreamBackend({ storage: "disk" as "file" }), {
    name: "TypeError",
    message: 'Invalid option storage: "disk" is not "file" or "memory"',
  });
});
