// The testing kit: a handler on the real engine over memory, with a fake clock.

import assert from "node:assert/strict";
import { type Connection, ok, ping, push, stop, type WebSock } from "../mod.ts";
import { FakeClock, TestConnection } from "../testing/mod.ts";

type State = { count: number; log: string[] };

const Handler = {
  init: (arg: string, connection: Connection<string>) =>
    push(`hello ${arg} via ${connection.protocol || "none"}`, { count: 0, log: [] }),
  handleIn(data: string | Uint8Array, state: State) {
    if (data === "bye") return stop("normal", state, { code: 4000, reason: "bye" }, "ciao");
    if (data === "ping-me") return push(ping(new Uint8Array([1])), state);
    if (data === "boom") throw new Error("boom");
    if (data instanceof Uint8Array) return push(data, state);
    return push(`echo ${data}`, { ...state, count: state.count + 1 });
  },
  handleControl: (frame: { type: string }, state: State) =>
    ok({ ...state, log: [...state.log, frame.type] }),
  handleInfo: async (message: string, state: State) => {
    await Promise.resolve();
    return push(`info ${message}`, state);
  },
} satisfies WebSock<State, string, string>;

Deno.test("TestConnection runs init with the arg and the connection info", async () => {
  const conn = await TestConnection.start(Handler, { arg: "ann", protocol: "v1" });
  assert.deepEqual(conn.texts(), ["hello ann via v1"]);
  assert.deepEqual(conn.state, { count: 0, log: [] });
});

Deno.test("TestConnection feeds text and binary and records frames in order", async () => {
  const conn = await TestConnection.start(Handler, { arg: "x" });
  conn.takeSent();
  await conn.receive("a");
  await conn.receive(new Uint8Array([5]));
  assert.deepEqual(conn.sent, [
    { type: "text", data: "echo a" },
    { type: "binary", data: new Uint8Array([5]) },
  ]);
  assert.equal(conn.state?.count, 1);
});

Deno.test("TestConnection delivers mailbox messages through async handleInfo", async () => {
  const conn = await TestConnection.start(Handler, { arg: "x" });
  assert.equal(await conn.info("news"), true);
  assert.equal(conn.texts().at(-1), "info news");
});

Deno.test("TestConnection feeds pings and pongs to handleControl and records pushed pings", async () => {
  const conn = await TestConnection.start(Handler, { arg: "x" });
  await conn.ping();
  await conn.pong();
  assert.deepEqual(conn.state?.log, ["ping", "pong"]);
  await conn.receive("ping-me");
  assert.deepEqual(conn.sent.at(-1), { type: "ping", data: new Uint8Array([1]) });
});

Deno.test("TestConnection with controlFrames: false behaves like Deno: a pushed ping is an error", async () => {
  const conn = await TestConnection.start(Handler, { arg: "x", controlFrames: false });
  await conn.receive("ping-me");
  assert.equal(conn.closeFrame?.code, 1011);
  assert.equal(conn.terminateReason?.type, "error");
});

Deno.test("TestConnection records the close frame and terminate reason of a stop", async () => {
  const conn = await TestConnection.start(Handler, { arg: "x" });
  await conn.receive("bye");
  assert.equal(conn.texts().at(-1), "ciao");
  assert.deepEqual(conn.closeFrame, { code: 4000, reason: "bye" });
  assert.deepEqual(conn.terminateReason, { type: "normal", code: 4000, reason: "bye" });
  assert.equal(conn.over, true);
  assert.equal(await conn.info("late"), false);
});

Deno.test("TestConnection: a throw is recorded as an error and closes with 1011", async () => {
  const conn = await TestConnection.start(Handler, { arg: "x" });
  await conn.receive("boom");
  assert.equal(conn.closeFrame?.code, 1011);
  assert.equal(conn.errors.length, 1);
  assert.equal(conn.terminateReason?.type, "error");
});

Deno.test("TestConnection: the peer's close reaches terminate with its code and reason", async () => {
  const conn = await TestConnection.start(Handler, { arg: "x" });
  await conn.close(4001, "later");
  assert.deepEqual(conn.terminateReason, { type: "remote", code: 4001, reason: "later" });
  assert.equal(conn.closeFrame, null);
});

Deno.test("TestConnection: the idle timeout fires on the fake clock only, within 1.25 × timeout", async () => {
  const conn = await TestConnection.start(Handler, { arg: "x", timeout: 1000 });
  await conn.advance(999);
  assert.equal(conn.terminateReason, null);
  await conn.receive("keepalive");
  await conn.advance(999);
  assert.equal(conn.terminateReason, null, "activity restarts the idle time");
  await conn.advance(251);
  assert.deepEqual(conn.terminateReason, { type: "timeout" });
  assert.deepEqual(conn.closeFrame, { code: 1001, reason: "Idle timeout" });
  assert.equal(conn.clock.pending, 0, "no timer left behind");
});

Deno.test("TestConnection: the idle timeout never fires before timeout ms of silence", async () => {
  for (const at of [0, 1, 100, 249, 250, 251, 600, 999]) {
    const conn = await TestConnection.start(Handler, { arg: "x", timeout: 1000 });
    await conn.advance(at);
    await conn.receive("last");
    await conn.advance(999);
    assert.equal(conn.terminateReason, null, `message at ${at}: closed too early`);
    await conn.advance(251);
    assert.deepEqual(conn.terminateReason, { type: "timeout" }, `message at ${at}: not closed`);
  }
});

Deno.test("TestConnection: shutdown closes with 1001 or 1012", async () => {
  const a = await TestConnection.start(Handler, { arg: "x" });
  await a.shutdown();
  assert.deepEqual(a.terminateReason, { type: "shutdown", code: 1001 });
  const b = await TestConnection.start(Handler, { arg: "x" });
  await b.shutdown(true);
  assert.deepEqual(b.closeFrame, { code: 1012, reason: "Server restarting" });
});

Deno.test("TestConnection: limits apply (maxMessageBytes, maxBufferedBytes, maxQueuedEvents)", async () => {
  const big = await TestConnection.start(Handler, { arg: "x", maxMessageBytes: 4 });
  await big.receive("12345");
  assert.equal(big.closeFrame?.code, 1009);

  const slow = await TestConnection.start(Handler, { arg: "x", maxBufferedBytes: 8 });
  slow.setBufferedAmount(100);
  await slow.receive("more than two bytes");
  await slow.receive("more than two bytes"); // the look before this echo sees 100 - 24 waiting
  assert.equal(slow.closeFrame?.code, 1008);

  const full = await TestConnection.start(Handler, { arg: "x", maxQueuedEvents: 2 });
  const accepted = [
    full.connection.send("1"),
    full.connection.send("2"),
    full.connection.send("3"),
  ];
  assert.deepEqual(accepted, [true, true, false]);
  await full.settle();
  assert.equal(full.closeFrame?.code, 1013);
});

Deno.test("FakeClock fires timers in due order, including those scheduled while advancing", () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  clock.setTimeout(() => fired.push("b"), 20);
  clock.setTimeout(() => {
    fired.push("a");
    clock.setTimeout(() => fired.push("a2"), 5);
  }, 10);
  const cancelled = clock.setTimeout(() => fired.push("never"), 1);
  clock.clearTimeout(cancelled);
  clock.advance(30);
  assert.deepEqual(fired, ["a", "a2", "b"]);
  assert.equal(clock.now(), 30);
});

Deno.test("TestConnection runs in microseconds: 10,000 messages without timers", async () => {
  const conn = await TestConnection.start(Handler, { arg: "x" });
  for (let i = 0; i < 10_000; i++) await conn.receive(String(i));
  assert.equal(conn.state?.count, 10_000);
});
