// The contract every shared history backend keeps (Redis Streams, NATS JetStream), as one
// suite of tests on a real server: one order per topic, resume, one gap notice past a trim
// by length or age, catch-up after an outage, exactly once within the history after a
// restart with the store, a new epoch when the store is lost, no hang while the server is
// down. Each backend's test file runs it with its own server and names.

import assert from "node:assert/strict";
import { type Delivery, type HistoryBackend, HistoryPubSub, type Position } from "../pubsub/mod.ts";
import { delay, until, within } from "./_helpers.ts";
import { relay } from "./_relay.ts";

/** A server the suite starts, kills and restarts. */
export interface ContractServer extends AsyncDisposable {
  readonly port: number;
  kill(): Promise<void>;
  /** Start it again; with `wipe`, without its data. */
  restart(options?: { wipe?: boolean }): Promise<void>;
}

/** The history limits and backoff the suite gives a backend. */
export interface ContractOptions {
  maxLength?: number;
  maxAge?: number;
  maxRetryDelay?: number;
}

/** One backend, as the suite needs it. */
export interface HistoryContract {
  /** The class, for test names: `RedisStreamsBackend`. */
  readonly backend: string;
  /** What it is over, for test names: `Redis Streams`. */
  readonly over: string;
  /** The server is not installed: the tests are ignored. */
  readonly ignore: boolean;
  /** Start a server on 127.0.0.1; with `persist`, its data survives a kill and restart. */
  start(options: { persist: boolean }): Promise<ContractServer>;
  /** The server's URL for a port (the server's own, or a relay's). */
  url(port: number): string;
  make(url: string, options: ContractOptions): HistoryBackend;
  /** Whether trimming by length is exact (else about 100 more may be kept). */
  readonly exactTrim: boolean;
  /** How the backend reports a lost connection. */
  readonly downReport: RegExp;
  /** How a publish while the server is unreachable fails. */
  readonly unreachable: RegExp;
}

export type Box = {
  got: Delivery<unknown>[];
  send(d: Delivery<unknown>): boolean;
  /** Messages as their value, gaps as "gap". */
  readonly seen: unknown[];
  readonly messages: unknown[];
};

export function inbox(): Box {
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

/** Publish until the server takes it (it is coming back); bounded. */
async function publishWhenBack(pubsub: HistoryPubSub<unknown>, topic: string, message: unknown) {
  for (let i = 0; i < 250; i++) {
    const stored = await pubsub.publish(topic, message).then((p) => p, () => undefined);
    if (stored) return stored;
    await delay(20);
  }
  throw new Error(`The server did not come back to take ${JSON.stringify(message)}`);
}

/** Register the contract's tests for one backend. */
export function historyContract(c: HistoryContract): void {
  const node = (url: string, options: ContractOptions = {}, errors: unknown[] = []) =>
    new HistoryPubSub<unknown>({ backend: c.make(url, options), onError: (e) => errors.push(e) });
  const test = (name: string, fn: () => Promise<void>) => Deno.test({ name, ignore: c.ignore, fn });

  test(`${c.backend} gives every node the same order per topic, with consecutive positions`, async () => {
    await using server = await c.start({ persist: false });
    const url = c.url(server.port);
    const one = node(url), two = node(url);
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
    // Each node's own messages keep their publish order, and publish() told their positions.
    const mine = a.messages.filter((m) => String(m).startsWith("one"));
    assert.deepEqual(mine, Array.from({ length: 100 }, (_, i) => `one ${i}`));
    assert.deepEqual(
      positions.map((p) => p.offset).sort((x, y) => x - y),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.ok(positions.every((p) => p.epoch === a.got[0].position.epoch), "publish's epoch");
    // A topic nobody subscribes to yet: its first publishes, all at once, keep their order.
    const fresh = await Promise.all(Array.from({ length: 200 }, (_, i) => one.publish("new", i)));
    assert.deepEqual(fresh.map((p) => p.offset), Array.from({ length: 200 }, (_, i) => i + 1));
    const d = inbox();
    await two.subscribe("new", d, { since: { epoch: fresh[0].epoch, offset: 0 } });
    assert.deepEqual(d.seen, Array.from({ length: 200 }, (_, i) => i));
    await one.close();
    await two.close();
  });

  test(`HistoryPubSub over ${c.over} resumes a subscriber on another node after its position`, async () => {
    await using server = await c.start({ persist: false });
    const url = c.url(server.port);
    const one = node(url, { maxLength: 5000 }), two = node(url);
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
  });

  test(`${c.backend} trims by length and age: a resume from before that gets one gap notice`, async () => {
    await using server = await c.start({ persist: false });
    const url = c.url(server.port);
    const one = node(url, { maxLength: 10, maxAge: 600_000 });
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
    const kept = a.got.length - 1;
    if (c.exactTrim) assert.equal(kept, 10);
    else assert.ok(kept >= 10 && kept <= 150, `kept ${kept}`);
    assert.equal(a.seen.at(-1), 301);
    assertConsecutive(a);
    await one.close();
    // Age: 400 ms after the last publish every message is older than 200 ms: a resume gets
    // one gap notice that brings it to the head, and nothing else.
    const two = node(url, { maxAge: 200 });
    const last = await two.publish("aged", "x");
    await delay(400);
    const b = inbox();
    await two.subscribe("aged", b, { since: { epoch: last.epoch, offset: 0 } });
    assert.deepEqual(b.seen, ["gap"]);
    assert.deepEqual(b.got[0].position, last);
    await two.close();
  });

  test(`${c.backend}: a live subscriber whose node was cut off past a trim gets a gap notice, then the rest in order`, async () => {
    await using server = await c.start({ persist: false });
    await using link = relay(server.port);
    const one = node(c.url(server.port), { maxLength: 10 });
    const two = node(c.url(link.port), { maxLength: 10, maxRetryDelay: 50 });
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
    await until(() => b.seen.at(-1) === n, () => `message ${n}, got ${b.seen.at(-1)}`, 10_000);
    await one.publish("room", ++n);
    await until(() => b.seen.at(-1) === n, () => `message ${n}, got ${b.seen.at(-1)}`);
    assert.deepEqual(b.seen.slice(0, 2), [1, "gap"]);
    // In order, each at most once, gaps where messages were trimmed away, none elsewhere.
    let last = 0;
    for (const d of b.got) {
      if (d.type === "gap") assert.equal(d.missed, d.position.offset - last);
      else {
        assert.equal(d.position.offset, last + 1);
        assert.equal(d.message, d.position.offset);
      }
      last = d.position.offset;
    }
    assert.equal(last, n);
    if (c.exactTrim) {
      assert.deepEqual(
        b.seen.slice(2),
        Array.from({ length: 11 }, (_, i) => 292 + i),
      );
    }
    await one.close();
    await two.close();
  });

  test(`HistoryPubSub over ${c.over}: server killed during publishes and restarted with its store: a publish while down rejects and tells onError, every stored message reaches the other node exactly once`, async () => {
    await using server = await c.start({ persist: true });
    await using link = relay(server.port);
    const errorsOne: Error[] = [], errorsTwo: Error[] = [];
    // Node two comes back only once node one has published again: it catches up from the
    // stored history.
    const one = node(c.url(server.port), { maxRetryDelay: 50 }, errorsOne);
    const two = node(c.url(link.port), { maxRetryDelay: 50 }, errorsTwo);
    const b = inbox();
    await two.subscribe("room", b);
    await one.publish("room", "before");
    await until(() => b.got.length === 1, "the first message");

    // Publishes in flight when the server dies: each is stored or not; every one stored is
    // delivered once, whether node one learnt it or not.
    const during: Promise<Position>[] = [];
    const killed = delay(40).then(() => server.kill());
    for (let i = 0; i < 60; i++) {
      during.push(one.publish("room", `during ${i}`));
      await delay(2);
    }
    await killed;
    const settled = await Promise.allSettled(during);
    const acked = settled.flatMap((s, i) => s.status === "fulfilled" ? [`during ${i}`] : []);
    await until(() => errorsTwo.length > 0, "node two's report");
    assert.match(errorsTwo[0].message, c.downReport);
    assert.ok(errorsTwo[0].cause instanceof Error, "the client's error is the cause");
    await assert.rejects(one.publish("room", "lost"), { message: c.unreachable });
    assert.ok(errorsOne.some((e) => /^Cannot publish to room: /.test(e.message)));

    link.cut();
    await server.restart();
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
    await one.close();
    await two.close();
  });

  test(`HistoryPubSub over ${c.over}: a server that lost its data means one gap notice, then the new history`, async () => {
    await using server = await c.start({ persist: false });
    const url = c.url(server.port);
    const one = node(url, { maxRetryDelay: 50 }), two = node(url, { maxRetryDelay: 50 });
    const b = inbox();
    await two.subscribe("room", b);
    const old = await one.publish("room", "old");
    await until(() => b.got.length === 1, "the first message");
    await server.restart({ wipe: true }); // everything is gone
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
  });

  test(`${c.backend}: a subscribe while the server is down waits for it, and close() does not hang`, async () => {
    await using server = await c.start({ persist: false });
    const errors: unknown[] = [];
    const one = node(c.url(server.port), { maxRetryDelay: 50 }, errors);
    await one.subscribe("a", inbox());
    await server.kill();
    await until(() => errors.length > 0, "the report");
    const b = inbox();
    let live = false;
    one.subscribe("b", b, { since: { epoch: "x", offset: 0 } }).then(() => live = true);
    await delay(200);
    assert.equal(live, false, `waits; ${errors.map((e) => (e as Error).message).join(" / ")}`);
    await within(one.close(), 3000, "close() while the server is down");
  });

  test(`${c.backend} refuses a message that is not JSON, shown as the engine shows values`, async () => {
    await using server = await c.start({ persist: false });
    const errors: unknown[] = [];
    const one = node(c.url(server.port), {}, errors);
    await one.subscribe("room", inbox()); // started
    function render() {}
    await assert.rejects(one.publish("room", render), {
      name: "TypeError",
      message: "Cannot publish to room: [function render] is not JSON",
    });
    assert.equal(errors.length, 1, "onError heard of it");
    await one.close();
  });
}
