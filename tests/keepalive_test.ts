// Keep-alive on the engine, with the fake clock: when a ping is due, what a pong does, when a
// silent peer is closed, and what dataTimeout and a runtime's own keep-alive change.
// (Over real sockets on every adapter: the conformance suite's "keep-alive:" steps.)

import assert from "node:assert/strict";
import { ok, push, type TerminateReason, type WebSock } from "../mod.ts";
import { Engine, resolveEngineOptions, type Transport } from "../engine/mod.ts";
import { FakeClock, TestConnection } from "../testing/mod.ts";

const Echo = {
  init: () => ok(0),
  handleIn: (data, n) => push(data, n + 1),
  handleInfo: (news, n) => push(`news: ${news}`, n),
} satisfies WebSock<number, string>;

const pings = (conn: { sent: TestConnection<number>["sent"] }) =>
  conn.sent.filter((m) => typeof m !== "string" && m.type === "ping").length;

Deno.test("TestConnection: a peer silent for half of timeout is pinged once, with an empty payload", async () => {
  const conn = await TestConnection.start(Echo, { timeout: 1000 });
  await conn.advance(250);
  assert.equal(pings(conn), 0, "not before 3/8 of timeout");
  await conn.advance(250);
  assert.deepEqual(conn.sent, [{ type: "ping", data: new Uint8Array(0) }]);
  await conn.advance(250);
  assert.equal(pings(conn), 1, "one ping per silence");
});

Deno.test("TestConnection: a pong keeps a peer that only reads open, however long", async () => {
  const conn = await TestConnection.start(Echo, { timeout: 1000 });
  for (let i = 0; i < 40; i++) {
    await conn.advance(250);
    await conn.info("tick"); // the server writes; that is no sign of life
    if (pings(conn) > 0) {
      conn.takeSent();
      await conn.pong();
    }
  }
  assert.equal(conn.terminateReason, null, "closed although it answered every ping");
  assert.equal(conn.closeFrame, null);
});

Deno.test("TestConnection: a peer that answers at once is pinged every half timeout", async () => {
  const conn = await TestConnection.start(Echo, { timeout: 1000 });
  const at: number[] = [];
  for (let i = 0; i < 24; i++) {
    await conn.advance(250);
    if (pings(conn) > 0) {
      at.push(conn.clock.now());
      conn.takeSent();
      await conn.pong();
    }
  }
  assert.deepEqual(at, [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500, 6000]);
});

Deno.test("TestConnection: no pong after the ping closes with 1001 at timeout, never before", async () => {
  for (const at of [0, 1, 100, 249, 250, 251, 600, 999]) {
    const conn = await TestConnection.start(Echo, { timeout: 1000 });
    await conn.advance(at);
    await conn.receive("last word");
    conn.takeSent();
    await conn.advance(999);
    assert.equal(conn.terminateReason, null, `message at ${at}: closed too early`);
    assert.equal(pings(conn), 1, `message at ${at}: pinged once`);
    await conn.advance(251);
    assert.deepEqual(conn.terminateReason, { type: "timeout" }, `message at ${at}: not closed`);
    assert.deepEqual(conn.closeFrame, { code: 1001, reason: "Idle timeout" });
    assert.equal(conn.clock.pending, 0, "no timer left behind");
  }
});

Deno.test("TestConnection: mail pushed to a dead peer does not keep it alive", async () => {
  const conn = await TestConnection.start(Echo, { timeout: 1000 });
  for (let t = 0; t < 1250 && conn.terminateReason === null; t += 50) {
    await conn.info("tick");
    await conn.advance(50);
  }
  assert.deepEqual(conn.terminateReason, { type: "timeout" });
});

Deno.test("TestConnection: a peer that keeps talking is never pinged", async () => {
  const conn = await TestConnection.start(Echo, { timeout: 1000 });
  for (let i = 0; i < 100; i++) {
    await conn.receive(`talk ${i}`);
    await conn.advance(400); // a gap just under half of timeout
  }
  assert.equal(pings(conn), 0);
  assert.equal(conn.terminateReason, null);
});

Deno.test("TestConnection: a ping from the peer counts as life too", async () => {
  const conn = await TestConnection.start(Echo, { timeout: 1000 });
  for (let i = 0; i < 20; i++) {
    await conn.advance(300);
    await conn.ping();
  }
  assert.equal(pings(conn), 0);
  assert.equal(conn.terminateReason, null);
});

Deno.test("TestConnection: dataTimeout closes a peer that answers pings but sends no data", async () => {
  const conn = await TestConnection.start(Echo, { timeout: 1000, dataTimeout: 3000 });
  await conn.receive("last data");
  for (let t = 0; t < 3000; t += 250) {
    await conn.advance(250);
    await conn.pong();
  }
  assert.equal(conn.terminateReason, null, "closed before dataTimeout");
  await conn.advance(1000);
  assert.deepEqual(conn.terminateReason, { type: "timeout" });
  assert.deepEqual(conn.closeFrame, { code: 1001, reason: "Idle timeout" });
});

Deno.test("TestConnection: dataTimeout works with timeout off", async () => {
  const conn = await TestConnection.start(Echo, { timeout: 0, dataTimeout: 500 });
  await conn.advance(499);
  assert.equal(conn.terminateReason, null);
  await conn.advance(126);
  assert.deepEqual(conn.terminateReason, { type: "timeout" });
  assert.equal(pings(conn), 0, "no keep-alive pings with timeout 0");
});

Deno.test("TestConnection: controlFrames false (no pings) closes after timeout without a frame", async () => {
  const conn = await TestConnection.start(Echo, { timeout: 1000, controlFrames: false });
  await conn.advance(999);
  assert.equal(conn.terminateReason, null);
  await conn.advance(251);
  assert.deepEqual(conn.terminateReason, { type: "timeout" });
  assert.equal(conn.sent.length, 0);
});

// A transport whose runtime pings by itself (as Deno's idleTimeout does).
function runtimeKeepAlive(closes: { code: number; reason: string }[]): Transport {
  return {
    runtimeKeepAlive: true,
    sendText() {},
    sendBinary() {},
    close: (code, reason) => void closes.push({ code, reason }),
    bufferedAmount: () => 0,
  };
}

const info = { url: "ws://x/", headers: new Headers(), remoteAddr: null, protocol: "" };

Deno.test("Engine leaves silent peers to a transport with runtimeKeepAlive, and reports its timeout", async () => {
  const clock = new FakeClock();
  const closes: { code: number; reason: string }[] = [];
  let ended: TerminateReason | undefined;
  const engine = new Engine(
    { ...Echo, terminate: (reason) => void (ended = reason) },
    runtimeKeepAlive(closes),
    { arg: undefined, info, options: resolveEngineOptions({ timeout: 1000, clock }) },
  );
  engine.open();
  await Promise.resolve();
  assert.equal(clock.pending, 0, "no sweeper: the runtime keeps the peer alive");
  clock.advance(10_000);
  assert.equal(ended, undefined);
  assert.deepEqual(closes, []);
  // The runtime's ping got no pong: it closes, the adapter says so.
  engine.error(new Error("No response from ping frame."), true);
  engine.closed(1001, "No response from ping frame.");
  assert.deepEqual(ended, { type: "timeout" });
});

Deno.test("Engine applies dataTimeout to a transport with runtimeKeepAlive", async () => {
  const clock = new FakeClock();
  const closes: { code: number; reason: string }[] = [];
  const engine = new Engine(Echo, runtimeKeepAlive(closes), {
    arg: undefined,
    info,
    options: resolveEngineOptions({ timeout: 1000, dataTimeout: 2000, clock }),
  });
  engine.open();
  await Promise.resolve();
  clock.advance(1999);
  assert.deepEqual(closes, []);
  clock.advance(500);
  assert.deepEqual(closes, [{ code: 1001, reason: "Idle timeout" }]);
  await Promise.resolve();
  assert.ok(engine.done);
});

Deno.test("Engine: one sweeper serves every connection of one options object", async () => {
  const clock = new FakeClock();
  const options = resolveEngineOptions({ timeout: 1000, clock });
  const sent: string[] = [];
  const engines = Array.from({ length: 3 }, () =>
    new Engine(Echo, {
      sendText() {},
      sendBinary() {},
      sendPing: () => void sent.push("ping"),
      close: () => void sent.push("close"),
      bufferedAmount: () => 0,
    }, { arg: undefined, info, options }));
  for (const engine of engines) engine.open();
  await Promise.resolve();
  assert.equal(clock.pending, 1);
  clock.advance(500);
  assert.deepEqual(sent, ["ping", "ping", "ping"]);
  clock.advance(500);
  assert.deepEqual(sent.filter((s) => s === "close").length, 3);
  assert.equal(clock.pending, 0);
});

Deno.test("resolveEngineOptions() checks dataTimeout and defaults it to 0", () => {
  assert.equal(resolveEngineOptions().dataTimeout, 0);
  assert.equal(resolveEngineOptions().timeout, 60_000);
  assert.throws(() => resolveEngineOptions({ dataTimeout: -1 }), RangeError);
  assert.throws(() => resolveEngineOptions({ dataTimeout: "1" as never }), TypeError);
});

Deno.test("connections share one sweeper per clock and period, even with options resolved apart (upgrade())", () => {
  const clock = new FakeClock();
  const transport: Transport = {
    sendText: () => {},
    sendBinary: () => {},
    close: () => {},
    bufferedAmount: () => 0,
    sendPing: () => {},
  };
  const info = { url: "ws://x/", headers: new Headers(), remoteAddr: null, protocol: "" };
  // Each resolved apart, as Deno's upgrade() does for each request.
  const engines = [1, 2, 3].map(() => {
    const options = resolveEngineOptions({ timeout: 1000, clock });
    const engine = new Engine(Echo, transport, { arg: undefined, info, options });
    engine.open();
    return engine;
  });
  assert.equal(clock.pending, 1);
  const other = resolveEngineOptions({ timeout: 2000, clock }); // another period: its own
  const slower = new Engine(Echo, transport, { arg: undefined, info, options: other });
  slower.open();
  assert.equal(clock.pending, 2);
  for (const engine of [...engines, slower]) engine.closed(1000, "");
  assert.equal(clock.pending, 0);
});
