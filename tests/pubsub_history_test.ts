import assert from "node:assert/strict";
import { type Connection, ok, push, type WebSock } from "../mod.ts";
import {
  type Delivery,
  type HistoryBackend,
  HistoryPubSub,
  isPosition,
  MemoryHistory,
  type Position,
} from "../pubsub/mod.ts";
import { connect, delay, serve } from "./_helpers.ts";

type Box<M> = {
  got: Delivery<M>[];
  open: boolean;
  send(d: Delivery<M>): boolean;
  /** What it got, as text: messages as their value, gaps as "gap(after->position)". */
  readonly seen: string[];
};

function inbox<M>(onSend?: (d: Delivery<M>) => void): Box<M> {
  const box: Box<M> = {
    got: [],
    open: true,
    send(d) {
      if (!box.open) return false;
      box.got.push(d);
      onSend?.(d);
      return true;
    },
    get seen() {
      return box.got.map((d) =>
        d.type === "message"
          ? String(d.message)
          : `gap(${d.after.offset}->${d.position.offset},${d.missed})`
      );
    },
  };
  return box;
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

Deno.test("HistoryPubSub.publish() gives each message the next offset of its topic and delivers it with its position", async () => {
  const pubsub = new HistoryPubSub<string>();
  const a = inbox<string>();
  await pubsub.subscribe("t", a);
  const p1 = await pubsub.publish("t", "x");
  const p2 = await pubsub.publish("t", "y");
  const u1 = await pubsub.publish("u", "z");
  assert.equal(p1.offset, 1);
  assert.deepEqual(p2, { epoch: p1.epoch, offset: 2 });
  assert.equal(u1.offset, 1, "offsets count per topic");
  assert.notEqual(u1.epoch, p1.epoch, "each topic has its own epoch");
  assert.deepEqual(a.got, [
    { type: "message", topic: "t", position: p1, message: "x" },
    { type: "message", topic: "t", position: p2, message: "y" },
  ]);
  await pubsub.close();
});

Deno.test("HistoryPubSub delivers a publish made right after subscribe() without since", async () => {
  const pubsub = new HistoryPubSub<string>();
  const a = inbox<string>();
  pubsub.subscribe("t", a);
  pubsub.publish("t", "now");
  assert.deepEqual(a.seen, ["now"], "synchronous, as in-process pub/sub");
  await pubsub.close();
});

Deno.test("HistoryPubSub.subscribe() with since replays what was missed in order, then live, with no duplicate at the seam", async () => {
  const pubsub = new HistoryPubSub<string>();
  let last: Position | undefined;
  for (let i = 1; i <= 10; i++) last = await pubsub.publish("t", String(i));
  const since = { epoch: last!.epoch, offset: 4 };
  const a = inbox<string>();
  const caughtUp = pubsub.subscribe("t", a, { since });
  pubsub.publish("t", "11"); // during the catch-up: it is in the history and comes live
  await caughtUp;
  pubsub.publish("t", "12");
  assert.deepEqual(a.seen, range(5, 12));
  assert.deepEqual(
    a.got.map((d) => d.position.offset),
    Array.from({ length: 8 }, (_, i) => 5 + i),
  );
  await pubsub.close();
});

Deno.test("HistoryPubSub.subscribe() with the newest position delivers only new messages and no gap", async () => {
  const pubsub = new HistoryPubSub<string>();
  const head = await pubsub.publish("t", "old");
  const a = inbox<string>();
  await pubsub.subscribe("t", a, { since: head });
  await pubsub.publish("t", "new");
  assert.deepEqual(a.seen, ["new"]);
  await pubsub.close();
});

Deno.test("HistoryPubSub sends one gap notice when the history was trimmed past since (maxLength)", async () => {
  const pubsub = new HistoryPubSub<string>({ backend: new MemoryHistory({ maxLength: 5 }) });
  let epoch = "";
  for (let i = 1; i <= 20; i++) epoch = (await pubsub.publish("t", String(i))).epoch;
  const a = inbox<string>();
  await pubsub.subscribe("t", a, { since: { epoch, offset: 3 } });
  assert.deepEqual(a.seen, ["gap(3->15,12)", ...range(16, 20)]);
  assert.deepEqual(a.got[0].position, { epoch, offset: 15 });
  await pubsub.close();
});

Deno.test("HistoryPubSub sends one gap notice when the missed messages aged out (maxAge)", async () => {
  let now = 0;
  const backend = new MemoryHistory({ maxAge: 1000, now: () => now });
  const pubsub = new HistoryPubSub<string>({ backend });
  const first = await pubsub.publish("t", "old");
  now = 1500;
  await pubsub.publish("t", "fresh");
  const a = inbox<string>();
  await pubsub.subscribe("t", a, { since: { epoch: first.epoch, offset: 0 } });
  assert.deepEqual(a.seen, ["gap(0->1,1)", "fresh"]);
  // Everything aged out: the gap brings the subscriber to the newest position.
  now = 5000;
  const b = inbox<string>();
  await pubsub.subscribe("t", b, { since: first });
  assert.deepEqual(b.seen, ["gap(1->2,1)"]);
  await pubsub.close();
});

Deno.test("HistoryPubSub sends a gap notice for a position of another epoch, then the whole history", async () => {
  const pubsub = new HistoryPubSub<string>();
  const p = await pubsub.publish("t", "a");
  await pubsub.publish("t", "b");
  const a = inbox<string>();
  await pubsub.subscribe("t", a, { since: { epoch: "gone", offset: 7 } });
  assert.deepEqual(a.seen, ["gap(7->0,undefined)", "a", "b"]);
  assert.deepEqual(a.got[0].position, { epoch: p.epoch, offset: 0 });
  // A position ahead of the history is not trusted either.
  const b = inbox<string>();
  await pubsub.subscribe("t", b, { since: { epoch: p.epoch, offset: 99 } });
  assert.deepEqual(b.seen, ["gap(99->2,undefined)"]);
  await pubsub.close();
});

Deno.test("HistoryPubSub catches up across a trim that happens under the subscriber, with one gap notice", async () => {
  const pubsub = new HistoryPubSub<number>({ backend: new MemoryHistory({ maxLength: 1000 }) });
  let epoch = "";
  for (let i = 1; i <= 1000; i++) epoch = (await pubsub.publish("t", i)).epoch;
  // When the subscriber has received 500, 1,000 more are published: 501-1000 are trimmed
  // before the catch-up reads them.
  const a = inbox<number>((d) => {
    if (d.type === "message" && d.message === 500) {
      for (let i = 1001; i <= 2000; i++) pubsub.publish("t", i);
    }
  });
  await pubsub.subscribe("t", a, { since: { epoch, offset: 0 } });
  await pubsub.publish("t", 2001);
  assert.deepEqual(a.seen, [...range(1, 500), "gap(500->1000,500)", ...range(1001, 2001)]);
  await pubsub.close();
});

Deno.test("HistoryPubSub keeps order and skips duplicates with an asynchronous backend", async () => {
  // A backend whose reads and deliveries take a macrotask, as over a network.
  const memory = new MemoryHistory({ maxLength: 5000 });
  let deliver: (entry: Parameters<Parameters<HistoryBackend["start"]>[0]>[0]) => void = () => {};
  const slow: HistoryBackend = {
    start(d) {
      memory.start((entry) => setTimeout(() => d(entry), 0));
      deliver = d;
    },
    subscribe: async (topic) => (await delay(1), memory.subscribe(topic)),
    unsubscribe: (topic) => memory.unsubscribe(topic),
    publish: async (topic, message) => (await delay(0), memory.publish(topic, message)),
    read: async (topic, after, limit) => (await delay(1), memory.read(topic, after, limit)),
    close: () => memory.close(),
  };
  assert.ok(deliver);
  const pubsub = new HistoryPubSub<number>({ backend: slow });
  let epoch = "";
  for (let i = 1; i <= 700; i++) epoch = (await pubsub.publish("t", i)).epoch;
  const a = inbox<number>();
  const caughtUp = pubsub.subscribe("t", a, { since: { epoch, offset: 100 } });
  const more = [];
  for (let i = 701; i <= 1200; i++) more.push(pubsub.publish("t", i)); // during the catch-up
  await Promise.all(more);
  await caughtUp;
  for (let i = 0; i < 100 && a.got.length < 1100; i++) await delay(5);
  assert.deepEqual(a.seen, range(101, 1200));
  await pubsub.close();
});

Deno.test("HistoryPubSub.publish() rejects and tells onError when the message cannot be stored", async () => {
  const errors: unknown[] = [];
  const failing: HistoryBackend = {
    start() {},
    subscribe: () => ({ epoch: "e", offset: 0 }),
    unsubscribe() {},
    publish: () => Promise.reject(new Error("Cannot publish to t: Redis is unreachable")),
    read: () => ({ epoch: "e", head: 0, entries: [] }),
    close() {},
  };
  const pubsub = new HistoryPubSub<string>({ backend: failing, onError: (e) => errors.push(e) });
  await assert.rejects(pubsub.publish("t", "x"), { message: /Redis is unreachable/ });
  pubsub.publish("t", "ignored"); // an ignored rejection must not crash the process
  await delay(10);
  assert.equal(errors.length, 2);
  assert.match((errors[0] as Error).message, /^Cannot publish to t: Redis is unreachable$/);
  await pubsub.close();
});

Deno.test("HistoryPubSub drops a subscriber whose send() returns false, and unsubscribes", async () => {
  const pubsub = new HistoryPubSub<string>();
  const a = inbox<string>(), b = inbox<string>();
  pubsub.subscribe("t", a);
  pubsub.subscribe("u", a);
  pubsub.subscribe("t", b);
  pubsub.subscribe("t", b); // twice is once
  assert.equal(pubsub.subscribers("t"), 2);
  a.open = false;
  await pubsub.publish("t", "x");
  assert.equal(pubsub.subscribers("t"), 1);
  assert.deepEqual(pubsub.topics(), ["t"], "dropped from every topic");
  assert.equal(pubsub.unsubscribe("t", b), true);
  assert.equal(pubsub.unsubscribe("t", b), false);
  pubsub.subscribe("t", b);
  pubsub.subscribe("v", b);
  assert.equal(pubsub.unsubscribeAll(b), 2);
  assert.deepEqual(pubsub.topics(), []);
  await pubsub.close();
});

Deno.test("HistoryPubSub rejects bad arguments with errors naming the value", async () => {
  assert.throws(() => new HistoryPubSub({ onError: 3 as never }), {
    name: "TypeError",
    message: "Invalid option onError: 3 is not a function",
  });
  assert.throws(() => new HistoryPubSub({ backend: { start() {} } as never }), {
    name: "TypeError",
    message: "Invalid option backend: { start: [function start] } has no subscribe() method",
  });
  assert.throws(() => new HistoryPubSub({ backend: MemoryHistory as never }), {
    name: "TypeError",
    message:
      "Invalid option backend: [class MemoryHistory] is a class, pass an instance (new MemoryHistory())",
  });
  assert.throws(() => new MemoryHistory({ maxLength: 0 }), {
    name: "RangeError",
    message: "Invalid option maxLength: 0 is not an integer >= 1",
  });
  assert.throws(() => new MemoryHistory({ maxAge: -1 }), {
    name: "RangeError",
    message: "Invalid option maxAge: -1 is not an integer >= 0",
  });
  assert.throws(() => new MemoryHistory({ now: "clock" as never }), {
    name: "TypeError",
    message: 'Invalid option now: "clock" is not a function',
  });
  assert.throws(() => new MemoryHistory({ now: null as never }), {
    name: "TypeError",
    message: "Invalid option now: null is not a function",
  });
  const pubsub = new HistoryPubSub<string>();
  assert.throws(
    () => pubsub.subscribe("t", inbox<string>(), { since: { epoch: "e", offset: -1 } }),
    {
      name: "TypeError",
      message: 'Cannot subscribe to t: since {"epoch":"e","offset":-1} is not a position',
    },
  );
  assert.throws(() => pubsub.publish(1 as never, "x"), {
    name: "TypeError",
    message: "Cannot publish: topic 1 is not a string",
  });
  await pubsub.close();
  assert.throws(() => pubsub.publish("t", "x"), {
    name: "TypeError",
    message: "Cannot publish to t: the PubSub is closed",
  });
});

Deno.test("isPosition() accepts an epoch string with an integer offset >= 0 only", () => {
  assert.equal(isPosition({ epoch: "a1", offset: 0 }), true);
  assert.equal(isPosition({ epoch: "a1", offset: 1.5 }), false);
  assert.equal(isPosition({ epoch: 1, offset: 1 }), false);
  assert.equal(isPosition({ epoch: "x".repeat(65), offset: 1 }), false);
  assert.equal(isPosition(null), false);
  assert.equal(isPosition("a1:3"), false);
});

Deno.test("MemoryHistory forgets a topic nobody subscribes to once its messages aged out", async () => {
  let now = 0;
  const pubsub = new HistoryPubSub<string>({
    backend: new MemoryHistory({ maxAge: 1000, now: () => now }),
  });
  const old = await pubsub.publish("old", "x");
  now = 2000;
  for (let i = 0; i < 100; i++) await pubsub.publish(`t${i}`, "y"); // the map grows: a sweep
  const a = inbox<string>();
  await pubsub.subscribe("old", a, { since: old });
  assert.equal(a.got.length, 1);
  assert.equal(a.got[0].type, "gap");
  assert.notEqual(a.got[0].position.epoch, old.epoch, "a new epoch");
  await pubsub.close();
});

// Over real sockets: a catch-up of 10,000 messages reaches the client in order without
// overflowing the connection's queue (maxQueuedEvents stays at its default of 1024).
type Replay = { since?: Position };

Deno.test("HistoryPubSub catches a connection up on 10,000 messages, in order, within the default queue limit", async () => {
  const pubsub = new HistoryPubSub<number>({ backend: new MemoryHistory({ maxLength: 20_000 }) });
  let epoch = "";
  for (let i = 1; i <= 10_000; i++) epoch = (await pubsub.publish("t", i)).epoch;
  const Reader = {
    init(arg: Replay, connection: Connection<Delivery<number>>) {
      pubsub.subscribe("t", connection, arg.since ? { since: arg.since } : {});
      return ok(null);
    },
    handleIn: (_d: string | Uint8Array, s: null) => ok(s),
    handleInfo: (d: Delivery<number>, s: null) =>
      push(d.type === "message" ? `${d.position.offset}:${d.message}` : "gap", s),
  } satisfies WebSock<null, Delivery<number>, Replay>;
  await using server = serve(Reader, {
    upgrade: () => ({ since: { epoch, offset: 0 } }),
  });
  await using client = await connect(server.url);
  const got = await Promise.race([
    client.take(10_000),
    client.closed.then((c) => assert.fail(`closed with ${c.code} ${c.reason}`)),
  ]);
  for (let i = 0; i < 10_000; i++) {
    if (got[i] !== `${i + 1}:${i + 1}`) assert.fail(`message ${i}: ${got[i]}`);
  }
  await pubsub.publish("t", 10_001);
  assert.equal(await client.next(), "10001:10001");
  await pubsub.close();
});
