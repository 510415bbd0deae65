// channels(): the Phoenix channel protocol on TestConnection (no socket): joins, replies,
// per-channel actors, crashes, leaves, duplicate joins, heartbeats, bad input, limits.

import assert from "node:assert/strict";
import {
  type Channel,
  type ChannelEnd,
  channels,
  type ChannelSocket,
  joined,
  noreply,
  refused,
  reply,
  stop,
} from "../channels/mod.ts";
import { PubSub } from "../pubsub/mod.ts";
import { FakeClock } from "../testing/mod.ts";
import { Client, deferred, replyOf } from "./_channels.ts";

type Log = string[];

function room(log: Log = [], ends: ChannelEnd[] = []) {
  return {
    join(topic, payload, socket) {
      if ((payload as { deny?: boolean }).deny) return refused("denied");
      log.push(`join ${topic}`);
      return joined({ topic, socket, n: 0 }, { joined: topic });
    },
    handleIn(event, payload, state) {
      log.push(`${state.topic} ${event}`);
      if (event === "echo") return reply("ok", payload, state);
      if (event === "fail") return reply("error", { why: "asked" }, state);
      if (event === "count") return reply("ok", { n: state.n + 1 }, { ...state, n: state.n + 1 });
      if (event === "boom") throw new Error("boom");
      if (event === "bad") return "not a result" as never;
      if (event === "quit") return stop("normal", state, { status: "ok", response: { bye: 1 } });
      if (event === "die") return stop("broken", state);
      return noreply(state);
    },
    terminate(reason, state) {
      log.push(`terminate ${state.topic} ${reason.type}`);
      ends.push(reason);
    },
  } satisfies Channel<{ topic: string; socket: ChannelSocket; n: number }>;
}

Deno.test("channels() answers a heartbeat on topic phoenix with an ok reply", async () => {
  const client = await Client.start(channels({}));
  const ref = await client.push("phoenix", "heartbeat");
  assert.deepEqual(client.take(), [replyOf(null, ref, "phoenix", "ok", {})]);
  await client.conn.close(1000);
});

Deno.test("channels() joins with the join's reply, refuses with an error reply, and routes by pattern", async () => {
  const log: Log = [];
  const app = channels({ "room:*": room(log), "exact": room(log) });
  const client = await Client.start(app);
  const a = await client.join("room:1");
  const b = await client.join("room:2", { deny: true });
  const c = await client.join("exact");
  const d = await client.join("exactly");
  const e = await client.join("other:1");
  assert.deepEqual(client.take(), [
    replyOf(a, a, "room:1", "ok", { joined: "room:1" }),
    replyOf(b, b, "room:2", "error", { reason: "denied" }),
    replyOf(c, c, "exact", "ok", { joined: "exact" }),
    replyOf(d, d, "exactly", "error", { reason: "unmatched topic" }),
    replyOf(e, e, "other:1", "error", { reason: "unmatched topic" }),
  ]);
  assert.deepEqual(client.conn.state?.topics(), ["room:1", "exact"]);
  await client.conn.close(1000);
  assert.deepEqual(log, [
    "join room:1",
    "join exact",
    "terminate room:1 closed",
    "terminate exact closed",
  ]);
});

Deno.test("channels() routes the first pattern that matches, in the order given", async () => {
  const log: Log = [];
  const first = room(log), second = room(log);
  const app = channels({ "a:*": first, "a:b": second, "a:b:*": second });
  const client = await Client.start(app);
  await client.join("a:b");
  assert.equal(
    client.take()[0].payload && (client.all()[0].payload as { status: string }).status,
    "ok",
  );
  assert.throws(() => channels({ "a*b": first }), /"\*" may only end a pattern/);
  assert.throws(() => channels({ "a": {} as never }), /has no join\(\)/);
  await client.conn.close(1000);
});

Deno.test("channels() names the pattern and the value of an invalid route, and says to pass an instance of a class", () => {
  class RoomChannel {
    join() {
      return joined(null);
    }
  }
  const cases: [unknown, string][] = [
    [RoomChannel, "[class RoomChannel] is a class, pass an instance (new RoomChannel())"],
    [class {}, "[class] is a class, pass an instance of it"],
    [null, "null is not a channel (an object with join)"],
    [undefined, "undefined is not a channel (an object with join)"],
    [function room() {}, "[function room] is not a channel (an object with join)"],
    ["room", '"room" is not a channel (an object with join)'],
    [{ handleIn() {} }, "{ handleIn: [function handleIn] } has no join()"],
    [{ join: 5 }, "join is 5, not a function"],
    [{ join() {}, intercept: "x" }, 'intercept is "x", not a list of event names'],
    [{ join() {}, intercept: [1] }, "intercept is [1], not a list of event names"],
    [{ join() {}, handleIn: "echo" }, 'handleIn is "echo", not a function'],
    [{ join() {}, handleIn: null }, "handleIn is null, not a function"],
    [{ join() {}, handleInfo: {} }, "handleInfo is {}, not a function"],
    [{ join() {}, handleOut: 1 }, "handleOut is 1, not a function"],
    [{ join() {}, intercept: ["x"], handleOut: [] }, "handleOut is [], not a function"],
    [{ join() {}, terminate: true }, "terminate is true, not a function"],
  ];
  for (const [definition, why] of cases) {
    assert.throws(() => channels({ "room:*": definition as never }), {
      name: "TypeError",
      message: `Invalid route "room:*": ${why}`,
    });
  }
  assert.throws(() => channels({ "a*b": new RoomChannel() }), {
    name: "TypeError",
    message: 'Invalid route "a*b": "*" may only end a pattern',
  });
  assert.throws(() => channels("room:*" as never), {
    name: "TypeError",
    message: 'Invalid routes: "room:*" is not an object',
  });
  assert.throws(() => channels([new RoomChannel()] as never), {
    name: "TypeError",
    message: "Invalid routes: [ [object RoomChannel] ] is not an object",
  });
  assert.throws(() => channels([] as never), {
    name: "TypeError",
    message: "Invalid routes: [] is not an object",
  });
  channels({ "room:*": new RoomChannel() }); // an instance is a channel
  class Full extends RoomChannel {
    handleIn() {
      return noreply(null);
    }
    terminate() {}
  }
  channels({ "room:*": new Full() }); // callbacks on its prototype are checked and taken
});

Deno.test("channels() replies to pushes with ok, error or nothing, with the push's ref and join ref", async () => {
  const client = await Client.start(channels({ "room:*": room() }));
  const j = await client.join("room:1");
  client.take();
  const r1 = await client.push("room:1", "echo", { x: 1 }, j);
  const r2 = await client.push("room:1", "fail", {}, j);
  await client.push("room:1", "quiet", {}, j);
  const r4 = await client.push("room:1", "count", {}, j);
  const r5 = await client.push("room:1", "count", {}, j);
  assert.deepEqual(client.take(), [
    replyOf(j, r1, "room:1", "ok", { x: 1 }),
    replyOf(j, r2, "room:1", "error", { why: "asked" }),
    replyOf(j, r4, "room:1", "ok", { n: 1 }),
    replyOf(j, r5, "room:1", "ok", { n: 2 }),
  ]);
  await client.conn.close(1000);
});

Deno.test("channels() answers a push to a topic not joined with the unmatched topic error", async () => {
  const client = await Client.start(channels({ "room:*": room() }));
  const ref = await client.push("room:9", "echo", {}, "5");
  assert.deepEqual(client.take(), [
    replyOf(null, ref, "room:9", "error", { reason: "unmatched topic" }),
  ]);
  const leave = await client.push("room:9", "phx_leave", {}, "5");
  assert.deepEqual(client.take(), [replyOf("5", leave, "room:9", "ok", {})]);
  await client.conn.close(1000);
});

Deno.test("channels() answers an event the channel does not handle with an error reply", async () => {
  const app = channels({ "x": { join: () => joined(null) } });
  const client = await Client.start(app);
  const j = await client.join("x");
  const ref = await client.push("x", "what", {}, j);
  assert.deepEqual(
    client.take().at(-1),
    replyOf(j, ref, "x", "error", { reason: "unhandled event" }),
  );
  const reserved = await client.push("x", "phx_reply", {}, j);
  assert.deepEqual(client.take(), [
    replyOf(j, reserved, "x", "error", { reason: "reserved event" }),
  ]);
  await client.conn.close(1000);
});

Deno.test("channels(): a crash ends that channel with phx_error; the socket and the other channels go on", async () => {
  const log: Log = [];
  const ends: ChannelEnd[] = [];
  const errors: string[] = [];
  const app = channels({ "room:*": room(log, ends) }, {
    onError: (error, context) =>
      errors.push(`${context.source} ${context.topic} ${(error as Error).message}`),
  });
  const client = await Client.start(app);
  const a = await client.join("room:a");
  const b = await client.join("room:b");
  client.take();
  await client.push("room:a", "boom", {}, a);
  assert.deepEqual(client.take(), [
    { joinRef: a, ref: a, topic: "room:a", event: "phx_error", payload: {} },
  ]);
  const r = await client.push("room:b", "echo", { still: "here" }, b);
  assert.deepEqual(client.take(), [replyOf(b, r, "room:b", "ok", { still: "here" })]);
  const gone = await client.push("room:a", "echo", {}, a);
  assert.deepEqual(client.take(), [
    replyOf(null, gone, "room:a", "error", { reason: "unmatched topic" }),
  ]);
  // The client rejoins the crashed topic.
  const again = await client.join("room:a");
  assert.deepEqual(client.take(), [replyOf(again, again, "room:a", "ok", { joined: "room:a" })]);
  await client.push("room:b", "bad", {}, b);
  assert.deepEqual(client.take(), [{
    joinRef: b,
    ref: b,
    topic: "room:b",
    event: "phx_error",
    payload: {},
  }]);
  assert.equal(client.conn.closeFrame, null);
  assert.deepEqual(errors, [
    "handleIn room:a boom",
    'handleIn room:b Invalid result from handleIn: expected reply(), noreply() or stop(), got "not a result"',
  ]);
  assert.equal(ends[0].type, "error");
  assert.equal((ends[0] as { error: Error }).error.message, "boom");
  await client.conn.close(1000);
});

Deno.test("channels() reports an invalid result as the engine shows values: a function by its name, an instance by its class", async () => {
  const errors: string[] = [];
  const app = channels({
    "room:*": {
      join: (topic) => topic === "room:bad" ? joined as never : joined(null),
      handleIn: (event) =>
        (event === "fn" ? noreply : event === "async" ? Promise.resolve() : new Map()) as never,
    },
  }, { onError: (error, context) => errors.push(`${context.source} ${(error as Error).message}`) });
  const client = await Client.start(app);
  await client.join("room:bad");
  const j = await client.join("room:1");
  await client.push("room:1", "fn", {}, j);
  const again = await client.join("room:2");
  await client.push("room:2", "map", {}, again);
  const last = await client.join("room:3");
  await client.push("room:3", "async", {}, last);
  await client.conn.settle();
  assert.deepEqual(errors, [
    "join Invalid result from join: expected joined() or refused(), got [function joined]",
    "handleIn Invalid result from handleIn: expected reply(), noreply() or stop(), got [function noreply]",
    "handleIn Invalid result from handleIn: expected reply(), noreply() or stop(), got [object Map]",
    "handleIn Invalid result from handleIn: expected reply(), noreply() or stop(), got undefined",
  ]);
  await client.conn.close(1000);
});

Deno.test("channels(): stop ends the channel: normal with phx_close after the reply, another reason with phx_error", async () => {
  const ends: ChannelEnd[] = [];
  const client = await Client.start(channels({ "room:*": room([], ends) }));
  const a = await client.join("room:a");
  const b = await client.join("room:b");
  client.take();
  const q = await client.push("room:a", "quit", {}, a);
  await client.push("room:b", "die", {}, b);
  assert.deepEqual(client.take(), [
    replyOf(a, q, "room:a", "ok", { bye: 1 }),
    { joinRef: a, ref: a, topic: "room:a", event: "phx_close", payload: {} },
    { joinRef: b, ref: b, topic: "room:b", event: "phx_error", payload: {} },
  ]);
  assert.deepEqual(ends, [{ type: "stop", reason: "normal" }, { type: "stop", reason: "broken" }]);
  assert.deepEqual(client.conn.state?.topics(), []);
  await client.conn.close(1000);
});

Deno.test("channels(): phx_leave replies ok, sends phx_close and runs terminate with leave", async () => {
  const ends: ChannelEnd[] = [];
  const client = await Client.start(channels({ "room:*": room([], ends) }));
  const j = await client.join("room:1");
  client.take();
  const ref = await client.push("room:1", "phx_leave", {}, j);
  assert.deepEqual(client.take(), [
    replyOf(j, ref, "room:1", "ok", {}),
    { joinRef: j, ref: j, topic: "room:1", event: "phx_close", payload: {} },
  ]);
  assert.deepEqual(ends, [{ type: "leave" }]);
  await client.conn.close(1000);
  assert.equal(ends.length, 1);
});

Deno.test("channels(): a second join of a topic closes the first with phx_close, then joins", async () => {
  const ends: ChannelEnd[] = [];
  const client = await Client.start(channels({ "room:*": room([], ends) }));
  const first = await client.join("room:1");
  const second = await client.join("room:1");
  assert.deepEqual(client.take(), [
    replyOf(first, first, "room:1", "ok", { joined: "room:1" }),
    { joinRef: first, ref: first, topic: "room:1", event: "phx_close", payload: {} },
    replyOf(second, second, "room:1", "ok", { joined: "room:1" }),
  ]);
  assert.deepEqual(ends, [{ type: "replaced" }]);
  const r = await client.push("room:1", "count", {}, second);
  assert.deepEqual(client.take(), [replyOf(second, r, "room:1", "ok", { n: 1 })]);
  await client.conn.close(1000);
});

Deno.test("channels(): callbacks of one channel never overlap and keep their order; other channels do not wait", async () => {
  const gates = [deferred(), deferred()];
  let running = 0, overlapped = false;
  const seen: string[] = [];
  const Slow = {
    join: (topic) => joined({ topic }),
    async handleIn(event, _payload, state) {
      running++;
      if (running > 1) overlapped = true;
      seen.push(`start ${state.topic} ${event}`);
      if (state.topic === "slow" && event === "1") await gates[0].promise;
      if (state.topic === "slow" && event === "2") await gates[1].promise;
      seen.push(`end ${state.topic} ${event}`);
      running--;
      return reply("ok", { event }, state);
    },
  } satisfies Channel<{ topic: string }>;
  const client = await Client.start(channels({ "slow": Slow, "fast": Slow }));
  const s = await client.join("slow");
  const f = await client.join("fast");
  client.take();
  const r1 = await client.push("slow", "1", {}, s);
  const r2 = await client.push("slow", "2", {}, s);
  const r3 = await client.push("slow", "3", {}, s);
  running = 0; // the fast channel runs on its own: count only the slow one's overlap
  const fr = await client.push("fast", "x", {}, f);
  assert.deepEqual(await client.next(1), [replyOf(f, fr, "fast", "ok", { event: "x" })]);
  running = 1;
  gates[1].resolve(); // released out of order: event 2 must still wait for event 1
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(client.take(), []);
  gates[0].resolve();
  assert.deepEqual(await client.next(3), [
    replyOf(s, r1, "slow", "ok", { event: "1" }),
    replyOf(s, r2, "slow", "ok", { event: "2" }),
    replyOf(s, r3, "slow", "ok", { event: "3" }),
  ]);
  assert.equal(overlapped, false);
  assert.deepEqual(seen.filter((e) => e.includes("slow")), [
    "start slow 1",
    "end slow 1",
    "start slow 2",
    "end slow 2",
    "start slow 3",
    "end slow 3",
  ]);
  await client.conn.close(1000);
});

Deno.test("channels(): an async join holds the channel's events until it settles", async () => {
  const gate = deferred();
  const Room = {
    async join(topic) {
      await gate.promise;
      return joined({ topic });
    },
    handleIn: (event, _payload, state) => reply("ok", { event }, state),
  } satisfies Channel<{ topic: string }>;
  const client = await Client.start(channels({ "r": Room }));
  const j = await client.join("r");
  const p = await client.push("r", "after", {}, j);
  assert.deepEqual(client.take(), []);
  gate.resolve();
  assert.deepEqual(await client.next(2), [
    replyOf(j, j, "r", "ok", {}),
    replyOf(j, p, "r", "ok", { event: "after" }),
  ]);
  await client.conn.close(1000);
});

Deno.test("channels(): pushes made in join follow the join reply; mail reaches handleInfo in order", async () => {
  type S = { socket: ChannelSocket<string> };
  const Room = {
    join(_topic, _payload, socket) {
      socket.push("welcome", { first: true });
      socket.send("after_join");
      return joined({ socket });
    },
    handleInfo(message, state) {
      state.socket.push("info", { message });
      return noreply(state);
    },
  } satisfies Channel<S, string>;
  const client = await Client.start(channels({ "r": Room }));
  const j = await client.join("r");
  assert.deepEqual(client.take(), [
    replyOf(j, j, "r", "ok", {}),
    { joinRef: j, ref: null, topic: "r", event: "welcome", payload: { first: true } },
    { joinRef: j, ref: null, topic: "r", event: "info", payload: { message: "after_join" } },
  ]);
  await client.conn.close(1000);
});

Deno.test("channels(): the socket's end reaches every channel's terminate, async ones awaited", async () => {
  const gate = deferred();
  const ends: string[] = [];
  const Room = {
    join: (topic) => joined({ topic }),
    async terminate(reason, state) {
      await gate.promise;
      ends.push(
        `${state.topic} ${reason.type} ${reason.type === "closed" ? reason.reason.type : ""}`,
      );
    },
  } satisfies Channel<{ topic: string }>;
  const client = await Client.start(channels({ "r:*": Room }));
  await client.join("r:1");
  await client.join("r:2");
  const closing = client.conn.close(4000, "bye");
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(client.conn.over, false);
  gate.resolve();
  await closing;
  assert.equal(client.conn.over, true);
  assert.deepEqual(ends, ["r:1 closed remote", "r:2 closed remote"]);
});

Deno.test("channels() closes a socket that sent no heartbeat for heartbeatTimeout with 1001", async () => {
  const clock = new FakeClock();
  const client = await Client.start(channels({}, { heartbeatTimeout: 1000, clock }), { clock });
  await client.conn.advance(600);
  await client.push("phoenix", "heartbeat");
  await client.conn.advance(600);
  assert.equal(client.conn.closeFrame, null);
  await client.conn.advance(700);
  assert.deepEqual(client.conn.closeFrame, { code: 1001, reason: "Heartbeat timeout" });
  assert.equal(clock.pending, 0);
});

Deno.test("channels() closes with 1007 on a frame that is not a channel message", async () => {
  for (
    const bad of [
      "not json",
      "{}",
      "[1,2,3]",
      '[1,"1","t","e",{}]',
      '[null,null,5,"e",{}]',
      new Uint8Array([9, 0, 0, 0, 0]),
      new Uint8Array([0, 5, 0, 0, 0, 1]),
      new Uint8Array([0, 1]),
    ]
  ) {
    const client = await Client.start(channels({}));
    await client.conn.receive(bad);
    assert.deepEqual(
      client.conn.closeFrame,
      { code: 1007, reason: "Malformed message" },
      String(bad),
    );
    assert.equal(client.conn.terminateReason?.type, "error");
  }
});

Deno.test("channels() takes binary pushes and sends binary replies and pushes", async () => {
  const Bin = {
    join: (_topic, _payload, socket) => joined({ socket }),
    handleIn(_event, payload, state) {
      state.socket.push("bytes", new Uint8Array([7, 8]));
      return reply("ok", new Uint8Array([...(payload as Uint8Array)].reverse()), state);
    },
  } satisfies Channel<{ socket: ChannelSocket }>;
  const client = await Client.start(channels({ "b": Bin }));
  const j = await client.join("b");
  client.take();
  const enc = new TextEncoder();
  const head = [j, "9", "b", "up"].map((s) => enc.encode(s));
  const frame = new Uint8Array([
    0,
    ...head.map((h) => h.length),
    ...head.flatMap((h) => [...h]),
    1,
    2,
    3,
  ]);
  await client.conn.receive(frame);
  assert.deepEqual(client.take(), [
    { joinRef: j, ref: null, topic: "b", event: "bytes", payload: new Uint8Array([7, 8]) },
    replyOf(j, "9", "b", "ok", new Uint8Array([3, 2, 1])),
  ]);
  assert.equal(client.conn.sent.at(-1)?.type, "binary");
  await client.conn.close(1000);
});

Deno.test("channels() refuses a join past maxChannels and a topic over 255 bytes", async () => {
  const client = await Client.start(channels({ "r:*": room() }, { maxChannels: 2 }));
  await client.join("r:1");
  await client.join("r:2");
  const third = await client.join("r:3");
  await client.join("r:" + "x".repeat(254));
  const msgs = client.take();
  assert.deepEqual(msgs[2], replyOf(third, third, "r:3", "error", { reason: "too many channels" }));
  assert.deepEqual((msgs[3].payload as { response: unknown }).response, {
    reason: "topic too long",
  });
  await client.conn.close(1000);
});

Deno.test("channels() closes with 1013 when more than maxQueuedEvents wait behind async callbacks", async () => {
  const gate = deferred();
  const Slow = {
    join: (topic) => joined({ topic }),
    async handleIn(_event, _payload, state) {
      await gate.promise;
      return noreply(state);
    },
  } satisfies Channel<{ topic: string }>;
  const client = await Client.start(channels({ "s": Slow }, { maxQueuedEvents: 3 }));
  const j = await client.join("s");
  for (let i = 0; i < 4; i++) await client.push("s", "e", {}, j);
  assert.equal(client.conn.closeFrame, null);
  await client.push("s", "e", {}, j);
  assert.deepEqual(client.conn.closeFrame, { code: 1013, reason: "Too many queued events" });
  gate.resolve();
  await client.conn.close(1000);
});

Deno.test("channels(): a join that throws gets the join crashed reply, and no terminate", async () => {
  let terminated = false;
  const errors: unknown[] = [];
  const Bad = {
    join: () => {
      throw new Error("nope");
    },
    terminate: () => void (terminated = true),
  } satisfies Channel<null>;
  const client = await Client.start(channels({ "x": Bad }, { onError: (e) => errors.push(e) }));
  const j = await client.join("x");
  assert.deepEqual(client.take(), [replyOf(j, j, "x", "error", { reason: "join crashed" })]);
  assert.equal(errors.length, 1);
  await client.conn.close(1000);
  assert.equal(terminated, false);
});

Deno.test("channels(): a channel kept busy by async callbacks answers hundreds of pushes in order", async () => {
  const Busy = {
    join: (topic) => joined({ topic }),
    async handleIn(event, _payload, state) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      return reply("ok", { event }, state);
    },
  } satisfies Channel<{ topic: string }>;
  const client = await Client.start(channels({ "b": Busy }));
  const j = await client.join("b");
  client.take();
  const refs: string[] = [];
  for (let i = 0; i < 300; i++) refs.push(await client.push("b", `e${i}`, {}, j));
  const replies = await client.next(300);
  assert.deepEqual(replies.map((m) => m.ref), refs);
  assert.deepEqual(
    replies.map((m) => (m.payload as { response: { event: string } }).response.event),
    refs.map((_, i) => `e${i}`),
  );
  await client.conn.close(1000);
});

Deno.test("channels() closes with 1009 on a frame over the adapter's maxMessageBytes", async () => {
  const client = await Client.start(channels({ "r:*": room() }), { maxMessageBytes: 1024 });
  const j = await client.join("r:1");
  await client.push("r:1", "echo", { big: "x".repeat(2000) }, j);
  assert.deepEqual(client.conn.closeFrame, { code: 1009, reason: "Message too big" });
});

Deno.test("channels() survives random frames: each one is answered, ignored or closes with 1007", async () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)];
  const values = [
    null,
    0,
    -1,
    1.5,
    "",
    "1",
    "phx_join",
    "phx_leave",
    "heartbeat",
    "phoenix",
    "r:1",
    "r:*",
    [],
    {},
    { deny: true },
    "x".repeat(300),
    true,
    "phx_reply",
    "echo",
    "boom",
    "quit",
  ];
  const errors: unknown[] = [];
  const app = channels({ "r:*": room() }, { onError: (e) => errors.push(e) });
  for (let round = 0; round < 200; round++) {
    const client = await Client.start(app);
    for (let i = 0; i < 20 && client.conn.closeFrame === null; i++) {
      const kind = random();
      if (kind < 0.1) {
        await client.conn.receive(
          new Uint8Array(
            Array.from({ length: Math.floor(random() * 12) }, () => Math.floor(random() * 256)),
          ),
        );
      } else if (kind < 0.2) {
        await client.conn.receive(pick(["", "[", "[]", "null", '{"a":1}', "[1,2,3,4,5,6]"]));
      } else {
        const frame = [pick(values), pick(values), pick(values), pick(values), pick(values)];
        if (random() < 0.5) frame[2] = pick(["r:1", "r:2", "phoenix"]);
        if (random() < 0.5) frame[3] = pick(["phx_join", "echo", "boom", "phx_leave", "heartbeat"]);
        await client.conn.receive(JSON.stringify(frame));
      }
    }
    const close = client.conn.closeFrame;
    assert.ok(close === null || close.code === 1007, JSON.stringify(close));
    for (const message of client.all()) assert.equal(typeof message.event, "string");
    await client.conn.close(1000);
    assert.equal(client.conn.over, true);
  }
  assert.ok(
    errors.every((e) => (e as Error).message === "boom"),
    String(errors.find((e) => (e as Error).message !== "boom")),
  );
});

Deno.test("channels() refuses a misspelled option with the nearest name, and quotes a wrong value", () => {
  const routes = { "room:*": { join: () => joined(null) } };
  assert.throws(
    () => channels(routes, { heartbeatTimout: 5 } as never),
    {
      name: "TypeError",
      message: 'Unknown option "heartbeatTimout": did you mean "heartbeatTimeout"?',
    },
  );
  assert.throws(
    () => channels(routes, { maxChannels: "5" } as never),
    { name: "TypeError", message: 'Invalid option maxChannels: "5" is not a number' },
  );
});

Deno.test("channels() checks its callbacks and its clock as the engine does, when it is called", () => {
  const routes = { "room:*": { join: () => joined(null) } };
  const cases: [Record<string, unknown>, string][] = [
    [{ clock: 5 }, "Invalid option clock: 5 has no now() method"],
    [
      { clock: { now: () => 0 } },
      "Invalid option clock: { now: [function now] } has no setTimeout() method",
    ],
    [{ connect: "yes" }, 'Invalid option connect: "yes" is not a function'],
    [{ onError: null }, "Invalid option onError: null is not a function"],
    [{ id: "user" }, 'Invalid option id: "user" is not a function'],
    [{ pubsub: {} }, "Invalid option pubsub: {} is not a PubSub or a HistoryPubSub"],
    [
      { pubsub: PubSub },
      "Invalid option pubsub: [class PubSub] is a class, pass an instance (new PubSub())",
    ],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => channels(routes, options as never), { name: "TypeError", message });
  }
  channels(routes, { clock: new FakeClock() });
});
