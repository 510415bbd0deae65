import assert from "node:assert/strict";
import { type Connection, ok, push, type WebSock } from "../mod.ts";
import { TestConnection } from "../testing/mod.ts";
import { BroadcastChannelBackend, PubSub, type Subscriber } from "../pubsub/mod.ts";
import { delay } from "./_helpers.ts";

function inbox<M>(): Subscriber<M> & { got: M[]; open: boolean } {
  const box = {
    got: [] as M[],
    open: true,
    send(message: M): boolean {
      if (!box.open) return false;
      box.got.push(message);
      return true;
    },
  };
  return box;
}

Deno.test("PubSub.publish() delivers to every subscriber of the topic, in publish order", async () => {
  const pubsub = new PubSub<number>();
  const a = inbox<number>(), b = inbox<number>(), other = inbox<number>();
  pubsub.subscribe("t", a);
  pubsub.subscribe("t", b);
  pubsub.subscribe("t", b); // twice is once
  pubsub.subscribe("u", other);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(pubsub.publish("t", i), { delivered: 2, dropped: 0 });
  }
  assert.deepEqual(a.got, [0, 1, 2, 3, 4]);
  assert.deepEqual(b.got, [0, 1, 2, 3, 4]);
  assert.deepEqual(other.got, []);
  assert.deepEqual(pubsub.publish("nobody", 1), { delivered: 0, dropped: 0 });
  await pubsub.close();
});

Deno.test("PubSub drops a subscriber whose send() returns false or that is closed", async () => {
  const pubsub = new PubSub<string>();
  const a = inbox<string>(), b = inbox<string>();
  pubsub.subscribe("t", a);
  pubsub.subscribe("v", a);
  pubsub.subscribe("t", b);
  a.open = false;
  assert.deepEqual(pubsub.publish("t", "x"), { delivered: 1, dropped: 1 });
  assert.equal(pubsub.subscribers("t"), 1);
  assert.equal(pubsub.subscribers("v"), 0, "dropped from every topic");
  assert.deepEqual(pubsub.topics(), ["t"]);
  const closed = { send: () => true, closed: true };
  pubsub.subscribe("t", closed);
  assert.equal(pubsub.subscribers("t"), 1, "a closed subscriber is not added");
  await pubsub.close();
});

Deno.test("PubSub sweeps closed subscribers from a growing topic without a publish", async () => {
  const pubsub = new PubSub<string>();
  const boxes = Array.from({ length: 200 }, () => ({ send: () => true, closed: false }));
  for (const box of boxes) {
    pubsub.subscribe("t", box);
    box.closed = true;
  }
  assert.ok(pubsub.subscribers("t") < 200, `${pubsub.subscribers("t")} left`);
  await pubsub.close();
});

Deno.test("PubSub.unsubscribe() and unsubscribeAll() remove subscriptions", async () => {
  const pubsub = new PubSub<string>();
  const a = inbox<string>();
  pubsub.subscribe("t", a);
  pubsub.subscribe("u", a);
  assert.equal(pubsub.unsubscribe("t", a), true);
  assert.equal(pubsub.unsubscribe("t", a), false);
  assert.equal(pubsub.unsubscribeAll(a), 1);
  assert.equal(pubsub.unsubscribeAll(a), 0);
  assert.deepEqual(pubsub.publish("u", "x"), { delivered: 0, dropped: 0 });
  assert.deepEqual(pubsub.topics(), []);
  await pubsub.close();
});

Deno.test("PubSub reports a throwing subscriber to onError and drops it", async () => {
  const errors: unknown[] = [];
  const pubsub = new PubSub<string>({ onError: (e) => errors.push(e) });
  const a = inbox<string>();
  pubsub.subscribe("t", {
    send() {
      throw new Error("boom");
    },
  });
  pubsub.subscribe("t", a);
  assert.deepEqual(pubsub.publish("t", "x"), { delivered: 1, dropped: 1 });
  assert.equal(errors.length, 1);
  assert.deepEqual(a.got, ["x"]);
  assert.equal(pubsub.subscribers("t"), 1);
  await pubsub.close();
});

Deno.test("PubSub rejects bad arguments with errors naming the value", async () => {
  assert.throws(() => new PubSub({ onError: 3 as never }), {
    name: "TypeError",
    message: "Invalid option onError: 3 is not a function",
  });
  assert.throws(() => new PubSub({ backend: {} as never }), {
    name: "TypeError",
    message: "Invalid option backend: {} has no start() method",
  });
  assert.throws(() => new PubSub({ backend: BroadcastChannelBackend as never }), {
    name: "TypeError",
    message:
      "Invalid option backend: [class BroadcastChannelBackend] is a class, pass an instance (new BroadcastChannelBackend())",
  });
  assert.throws(() => new BroadcastChannelBackend({ name: "" }), TypeError);
  assert.throws(() => new BroadcastChannelBackend({ name: 5 as never }), {
    name: "TypeError",
    message: "Invalid option name: 5 is not a channel name",
  });
  const pubsub = new PubSub();
  assert.throws(() => pubsub.publish(1 as never, "x"), {
    name: "TypeError",
    message: "Cannot publish: topic 1 is not a string",
  });
  assert.throws(() => pubsub.subscribe("t", {} as never), {
    name: "TypeError",
    message: "Cannot subscribe: subscriber {} has no send() (pass a connection)",
  });
  await pubsub.close();
  assert.throws(() => pubsub.publish("t", "x"), {
    name: "TypeError",
    message: "Cannot publish to t: the PubSub is closed",
  });
});

Deno.test("PubSub reports a failing backend to onError and keeps delivering locally", async () => {
  const errors: unknown[] = [];
  const pubsub = new PubSub<string>({
    onError: (e) => errors.push(e),
    backend: {
      start() {},
      subscribe: () => Promise.reject(new Error("subscribe failed")),
      unsubscribe() {},
      publish() {
        throw new Error("publish failed");
      },
      close() {},
    },
  });
  const a = inbox<string>();
  await pubsub.subscribe("t", a); // resolves even though the backend failed
  assert.deepEqual(pubsub.publish("t", "x"), { delivered: 1, dropped: 0 });
  assert.deepEqual(a.got, ["x"]);
  assert.deepEqual(errors.map((e) => (e as Error).message), [
    "subscribe failed",
    "publish failed",
  ]);
  await pubsub.close();
});

type Said = { from: string; text: string };
type RoomState = { name: string };

function room(pubsub: PubSub<Said>): WebSock<RoomState, Said, undefined> {
  let n = 0;
  return {
    init(_arg, connection) {
      pubsub.subscribe("room", connection);
      return push("joined", { name: `user${++n}` });
    },
    handleIn(data, state) {
      pubsub.publish("room", { from: state.name, text: String(data) });
      return ok(state);
    },
    handleInfo: (said, state) => push(`${said.from}: ${said.text}`, state),
  };
}

Deno.test("PubSub delivers to connections' handleInfo and drops them once closed", async () => {
  const pubsub = new PubSub<Said>();
  const handler = room(pubsub);
  const a = await TestConnection.start(handler);
  const b = await TestConnection.start(handler);
  assert.deepEqual(a.takeSent(), [{ type: "text", data: "joined" }]);
  assert.deepEqual(b.takeSent(), [{ type: "text", data: "joined" }]);
  void a.receive("hi");
  await a.receive("there");
  await b.settle();
  assert.deepEqual(a.texts(), ["user1: hi", "user1: there"]);
  assert.deepEqual(b.texts(), ["user1: hi", "user1: there"]);
  await b.close();
  // b is closed; a publish now reaches a only.
  pubsub.publish("room", { from: "server", text: "ping" });
  assert.equal(pubsub.subscribers("room"), 1);
  await a.settle();
  assert.equal(a.texts().at(-1), "server: ping");
  assert.equal(b.texts().length, 2);
  await a.close();
  await pubsub.close();
});

Deno.test("BroadcastChannelBackend carries messages between two PubSubs, in order", async () => {
  const name = `test-${crypto.randomUUID()}`;
  const one = new PubSub<number>({ backend: new BroadcastChannelBackend({ name }) });
  const two = new PubSub<number>({ backend: new BroadcastChannelBackend({ name }) });
  const a = inbox<number>(), b = inbox<number>();
  await one.subscribe("t", a);
  await two.subscribe("t", b);
  for (let i = 0; i < 100; i++) one.publish("t", i);
  for (let i = 0; i < 200 && b.got.length < 100; i++) await delay(5);
  assert.deepEqual(b.got, Array.from({ length: 100 }, (_, i) => i));
  assert.equal(a.got.length, 100, "no echo back to the publishing node");
  await one.close();
  await two.close();
});

Deno.test("PubSub drops a connection from its topics as soon as it closes (onClose)", async () => {
  const pubsub = new PubSub<string>();
  const Member = {
    init: (_a: undefined, connection: Connection<string>) => {
      pubsub.subscribe("a", connection);
      pubsub.subscribe("b", connection);
      return ok(null);
    },
    handleIn: (_d: string | Uint8Array, s: null) => ok(s),
    handleInfo: (_m: string, s: null) => ok(s),
  } satisfies WebSock<null, string>;
  const conn = await TestConnection.start(Member);
  assert.equal(pubsub.subscribers("a"), 1);
  await conn.close(1000, "");
  assert.equal(pubsub.subscribers("a"), 0, "dropped without a publish");
  assert.equal(pubsub.subscribers("b"), 0);
});

Deno.test("Connection.onClose fires once, at once if already closed, and can be removed", async () => {
  const Quiet = {
    init: () => ok(null),
    handleIn: (_d: string | Uint8Array, s: null) => ok(s),
    handleInfo: (_m: never, s: null) => ok(s),
  } satisfies WebSock<null>;
  const conn = await TestConnection.start(Quiet);
  const calls: string[] = [];
  conn.connection.onClose(() => calls.push("a"));
  const off = conn.connection.onClose(() => calls.push("removed"));
  off();
  await conn.shutdown();
  await conn.close(1000, "");
  assert.deepEqual(calls, ["a"]);
  conn.connection.onClose(() => calls.push("late"));
  await Promise.resolve();
  assert.deepEqual(calls, ["a", "late"]);
});

Deno.test("PubSub.publish with local: true reaches this node's subscribers, not the backend", async () => {
  const published: string[] = [];
  const backend = {
    start() {},
    subscribe() {},
    unsubscribe() {},
    publish: (topic: string) => void published.push(topic),
    close() {},
  };
  const pubsub = new PubSub<string>({ backend });
  const got: string[] = [];
  await pubsub.subscribe("room", { send: (m: string) => got.push(m) > 0 });
  assert.deepEqual(pubsub.publish("room", "here", { local: true }), { delivered: 1, dropped: 0 });
  pubsub.publish("room", "everywhere");
  assert.deepEqual(got, ["here", "everywhere"]);
  assert.deepEqual(published, ["room"]);
  await pubsub.close();
});
